"""Random-hyperplane LSH (Charikar 2002) for cosine search, with exact re-ranking.

Each of ``tables`` hash tables draws ``bits`` random Gaussian hyperplanes; a
vector's key in a table is the ``bits``-bit sign pattern of its projections.
Two vectors at angle θ agree on one hyperplane with probability 1 − θ/π, so
they share a bucket of one table with probability ``p = (1 − θ/π)^bits`` and
are candidates of each other (in some table) with probability
``1 − (1 − p)^tables`` — :func:`collision_probability`. A query's candidates
are the union of its buckets; they are re-ranked by exact cosine, so the true
nearest neighbour is returned exactly when it is a candidate.

Buckets are kept as one sorted array of keys per table (built lazily after
``add``/``remove``): a bucket lookup is a binary search.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seesall.search.base import VectorIndex, as_vectors, pad_results
from seesall.search.exact import topk_rows


def collision_probability(theta: np.ndarray | float, *, bits: int, tables: int) -> np.ndarray:
    """Probability that two vectors at angle ``theta`` (radians) share a bucket in some table."""
    p = (1.0 - np.asarray(theta, dtype=np.float64) / math.pi) ** bits
    return 1.0 - (1.0 - p) ** tables


class RandomHyperplaneLSH(VectorIndex):
    """Cosine LSH: ``tables`` hash tables of ``bits`` random hyperplanes each."""

    kind = "lsh"

    def __init__(self, *, dim: int, bits: int = 12, tables: int = 8, seed: int = 0) -> None:
        super().__init__(dim=dim)
        if not 1 <= bits <= 62 or tables < 1:
            raise ValueError(f"need 1 <= bits <= 62 and tables >= 1, got {bits=} {tables=}")
        self.bits, self.tables, self.seed = bits, tables, seed
        rng = np.random.default_rng(seed)
        self._planes = rng.standard_normal((tables * bits, dim)).astype(np.float32)
        self._vectors = np.zeros((0, dim), np.float32)
        self._ids = np.zeros(0, np.int64)
        self._codes = np.zeros((0, tables), np.int64)
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # (order, keys) [L, N]

    def hash(self, x: np.ndarray, chunk: int = 32768) -> np.ndarray:
        """Bucket keys of normalised vectors: Float32[N, D] -> Int64[N, tables]."""
        weights = np.left_shift(np.int64(1), np.arange(self.bits, dtype=np.int64))
        out = np.empty((len(x), self.tables), np.int64)
        for s in range(0, len(x), chunk):
            part = x[s : s + chunk]
            signs = (part @ self._planes.T > 0).reshape(len(part), self.tables, self.bits)
            out[s : s + chunk] = signs @ weights  # (n, L, k) @ (k,) -> (n, L)
        return out

    def ids(self) -> np.ndarray:
        return self._ids.copy()

    def add(self, vectors: Any, ids: Any | None = None) -> np.ndarray:
        x = as_vectors(vectors, self.dim)
        new = self._new_ids(len(x), ids)
        self._vectors = np.concatenate([self._vectors, x])
        self._ids = np.concatenate([self._ids, new])
        self._codes = np.concatenate([self._codes, self.hash(x)])
        self._sorted = None
        return new

    def remove(self, ids: Any) -> int:
        gone = np.isin(self._ids, np.asarray(ids, dtype=np.int64).reshape(-1))
        keep = ~gone
        self._vectors, self._ids, self._codes = (
            self._vectors[keep], self._ids[keep], self._codes[keep])
        self._sorted = None
        return int(gone.sum())

    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sorted is None:
            order = np.argsort(self._codes, axis=0, kind="stable").T  # (L, N)
            keys = np.take_along_axis(self._codes.T, order, axis=1)  # (L, N)
            self._sorted = (order, keys)
        return self._sorted

    def candidates(self, q: np.ndarray) -> list[np.ndarray]:
        """Row positions sharing a bucket with each normalised query (Float32[Q, D])."""
        order, keys = self._tables()
        qcodes = self.hash(q)  # (Q, L)
        spans = [(np.searchsorted(keys[t], qcodes[:, t], "left"),
                  np.searchsorted(keys[t], qcodes[:, t], "right")) for t in range(self.tables)]
        out = []
        for row in range(len(q)):
            parts = [order[t, lo[row]:hi[row]] for t, (lo, hi) in enumerate(spans)]
            out.append(np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64))
        return out

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = as_vectors(queries, self.dim, "queries")
        scores, ids = [], []
        for row, cand in enumerate(self.candidates(q)):
            sims = self._vectors[cand] @ q[row]  # (C,)
            vals, cols = topk_rows(sims[None, :], k)
            scores.append(vals[0])
            ids.append(self._ids[cand[cols[0]]])
        return pad_results(scores, ids, k)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._vectors, self._ids, self._codes, self._planes))

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        config = {"bits": self.bits, "tables": self.tables, "seed": self.seed}
        return config, {"vectors": self._vectors, "ids": self._ids, "planes": self._planes}

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]
                    ) -> RandomHyperplaneLSH:
        index = cls(dim=config["dim"], bits=config["bits"], tables=config["tables"],
                    seed=config["seed"])
        index._planes = arrays["planes"]
        index._vectors, index._ids = arrays["vectors"], arrays["ids"]
        index._codes = index.hash(index._vectors)
        return index
