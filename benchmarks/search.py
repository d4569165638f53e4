"""Search benchmark: build time, query time, memory and recall@10 of every index.

Random unit vectors (Gaussian, 128-d) for N = 10^4, 10^5, 10^6, 1000 queries from
the same distribution; recall@10 = |top-10 ∩ exact top-10| / 10, averaged over
queries. One thread for numpy/FAISS so the indexes are compared on equal terms.
An index whose build at the largest N is predicted (from the previous N, assuming
linear-log growth) to exceed ``--max-build-seconds`` is skipped and reported so.

    python benchmarks/search.py                 # ~10 min on one CPU thread
    python benchmarks/search.py --sizes 10000   # quick
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from seesall.io.atomic import write_json, write_text  # noqa: E402
from seesall.search import build_index  # noqa: E402
from seesall.search.base import VectorIndex  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def index_sizes(name: str, n: int, dim: int) -> dict[str, int]:
    """The size knobs of each index for a collection of n vectors."""
    if name == "lsh":
        return {"bits": max(6, round(math.log2(n)) - 6), "tables": 16}  # ~64 per bucket
    if name == "faiss_lsh":
        return {"nbits": 2 * dim}
    if name == "hnsw":
        return {"m": 16, "ef_construction": 40, "ef_search": 64}
    if name == "ivf":
        return {"nlist": int(math.sqrt(n)), "nprobe": 16}
    return {}


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def measure(index: VectorIndex, x: np.ndarray, q: np.ndarray, truth: np.ndarray | None,
            k: int) -> tuple[dict[str, float], np.ndarray]:
    t0 = time.perf_counter()
    index.add(x)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ids = index.search(q, k)
    query = time.perf_counter() - t0
    ref = ids if truth is None else truth
    recall = float(np.mean([len(np.intersect1d(a, b[b >= 0])) / k
                            for a, b in zip(ref, ids, strict=True)]))
    return {"build_s": build, "query_s": query, "query_ms_per_query": 1000 * query / len(q),
            "memory_mb": index.nbytes() / 2**20, "recall_at_10": recall}, ids


def growth(rows: list[dict], key: str) -> float | None:
    """Log-log slope of ``key`` against N between the smallest and largest measured N."""
    pts = [(r["n"], r[key]) for r in rows if r.get(key)]
    if len(pts) < 2 or pts[0][1] <= 0:
        return None
    (n0, v0), (n1, v1) = pts[0], pts[-1]
    return math.log(v1 / v0) / math.log(n1 / n0)


def markdown(res: dict) -> str:
    lines = ["# Search benchmark", "",
             f"Command: `{res['command']}`. {res['dim']}-d random unit vectors, "
             f"{res['queries']} queries, one thread. Recall@10 against exact search.", "",
             "| index | N | build (s) | query (ms/query) | memory (MB) | recall@10 |",
             "|---|---|---|---|---|---|"]
    for name, rows in res["indexes"].items():
        for r in rows:
            if r.get("skipped"):
                lines.append(f"| {name} | {r['n']:,} | skipped: {r['skipped']} | | | |")
                continue
            lines.append(f"| {name} | {r['n']:,} | {r['build_s']:.2f} | "
                         f"{r['query_ms_per_query']:.3f} | {r['memory_mb']:.1f} | "
                         f"{r['recall_at_10']:.3f} |")
    lines += ["", "Growth with N (log-log slope, 1 = linear):", "",
              "| index | build | query | memory |", "|---|---|---|---|"]
    for name, g in res["growth"].items():
        cells = [f"{g[k]:.2f}" if g[k] is not None else "–" for k in ("build_s", "query_s",
                                                                        "memory_mb")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--indexes", nargs="+",
                   default=["exact", "faiss_flat", "lsh", "faiss_lsh", "hnsw", "ivf"])
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--max-build-seconds", type=float, default=300.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="search")
    args = p.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    q = unit(rng, args.queries, args.dim)
    res: dict = {"command": "python benchmarks/search.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items() if k != "out"),
        "dim": args.dim, "queries": args.queries, "indexes": {n: [] for n in args.indexes}}
    for n in args.sizes:
        x = unit(rng, n, args.dim)
        truth = None
        for name in ["exact"] + [i for i in args.indexes if i != "exact"]:
            rows = res["indexes"].setdefault(name, [])
            prev = [r for r in rows if "build_s" in r]
            if prev and name != "exact":
                r0 = prev[-1]
                predicted = r0["build_s"] * (n / r0["n"]) * math.log(n) / math.log(r0["n"])
                if predicted > args.max_build_seconds:
                    rows.append({"n": n, "skipped": f"predicted build {predicted:.0f} s > "
                                 f"--max-build-seconds {args.max_build_seconds:.0f}"})
                    print(f"{name:>10} N={n:>9,} skipped (predicted build {predicted:.0f} s)")
                    continue
            index = build_index(name, dim=args.dim, **index_sizes(name, n, args.dim))
            row, ids = measure(index, x, q, truth, 10)
            if name == "exact":
                truth = ids
            rows.append({"n": n, **row, "sizes": index_sizes(name, n, args.dim)})
            print(f"{name:>10} N={n:>9,} build {row['build_s']:8.2f} s  query "
                  f"{row['query_ms_per_query']:8.3f} ms/q  mem {row['memory_mb']:8.1f} MB  "
                  f"recall@10 {row['recall_at_10']:.3f}", flush=True)
            del index
            gc.collect()
        del x
        gc.collect()
    res["indexes"] = {k: v for k, v in res["indexes"].items() if k in args.indexes}
    res["growth"] = {name: {key: growth(rows, key) for key in ("build_s", "query_s", "memory_mb")}
                     for name, rows in res["indexes"].items()}
    write_json(RESULTS / f"{args.out}.json", res, indent=2)
    write_text(RESULTS / f"{args.out}.md", markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
