"""``seesall index build|add|remove|search``: an image-search index over a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from seesall.search import build_index, index_table, load_index
from seesall.search.base import VectorIndex
from seesall.tasks.embedding.embedder import MODELS, embed_files, list_images, load_embedder

HELP = "Build, grow, shrink and query an image-search index (exact, LSH, FAISS HNSW/IVF)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="embed a folder and index it")
    b.add_argument("folder")
    b.add_argument("--out", required=True, help="index file to write")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint folder of an embedding model")
    src.add_argument("--model", choices=sorted(MODELS), help="model name (random weights)")
    b.add_argument("--kind", choices=sorted(index_table()), default="exact")
    b.add_argument("--nlist", type=int, default=None, help="IVF lists (default ~sqrt(N))")
    a = sub.add_parser("add", help="embed more images (files or folders) into an index")
    a.add_argument("index")
    a.add_argument("paths", nargs="+")
    r = sub.add_parser("remove", help="remove images from an index by path")
    r.add_argument("index")
    r.add_argument("paths", nargs="+")
    s = sub.add_parser("search", help="the k most similar images to a query image or vector")
    s.add_argument("index")
    q = s.add_mutually_exclusive_group(required=True)
    q.add_argument("--image", help="query image file")
    q.add_argument("--vector", help="query vector(s): a .npy file of [D] or [Q, D]")
    s.add_argument("-k", type=int, default=5)


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += list_images(p)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such image file or folder")
    return out


def _embed_into(index: VectorIndex, files: list[Path]) -> int:
    known = set(index.names.values())
    files = [f for f in files if str(f) not in known]
    if not files:
        return 0
    model, info = load_embedder(model=None if index.info.get("checkpoint") else
                                index.info["model"], checkpoint=index.info.get("checkpoint"))
    ids = index.add(embed_files(model, files, size=info["size"]))
    index.names.update({int(i): str(f) for i, f in zip(ids, files, strict=True)})
    return len(files)


def _build(args: argparse.Namespace) -> int:
    files = list_images(args.folder)
    _, info = load_embedder(model=args.model, checkpoint=args.checkpoint)
    dim = MODELS[info["model"]]().head.out_dim
    sizes = {}
    if args.kind == "ivf":
        sizes = {"nlist": args.nlist or max(1, min(len(files), int(np.sqrt(len(files)))))}
    index = build_index(args.kind, dim=dim, **sizes)
    index.info = {"model": info["model"], "checkpoint": args.checkpoint}
    n = _embed_into(index, files)
    index.save(args.out)
    print(f"indexed {n} images ({args.kind}, {dim}-d) -> {args.out}")
    return 0


def _search(args: argparse.Namespace, index: VectorIndex) -> int:
    if args.image:
        model, info = load_embedder(model=None if index.info.get("checkpoint") else
                                    index.info.get("model"),
                                    checkpoint=index.info.get("checkpoint"))
        queries = embed_files(model, _files([args.image]), size=info["size"])
    else:
        path = Path(args.vector)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: query vector file not found")
        queries = np.load(path, allow_pickle=False)
    scores, ids = index.search(queries, args.k)
    for qi, (srow, irow) in enumerate(zip(scores, ids, strict=True)):
        for rank, (sc, i) in enumerate(zip(srow, irow, strict=True), 1):
            if i >= 0:
                print(f"{qi}\t{rank}\t{sc:.4f}\t{i}\t{index.names.get(int(i), '')}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        return _build(args)
    index = load_index(args.index)
    if args.action == "search":
        return _search(args, index)
    if args.action == "add":
        n = _embed_into(index, _files(args.paths))
        print(f"added {n} images; {len(index)} in {args.index}")
    else:
        by_name = {v: k for k, v in index.names.items()}
        gone = [by_name[str(Path(p))] for p in args.paths if str(Path(p)) in by_name]
        index.remove(gone)
        for i in gone:
            index.names.pop(i, None)
        print(f"removed {len(gone)} images; {len(index)} in {args.index}")
    index.save(args.index)
    return 0
