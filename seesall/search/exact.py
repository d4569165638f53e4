"""Exact cosine search: one matrix product against every stored vector."""

from __future__ import annotations

from typing import Any

import numpy as np

from seesall.search.base import VectorIndex, as_vectors


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k largest values and their columns, best first: Float[Q, N] -> [Q, k] x2."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((len(scores), 0), np.float32), np.zeros((len(scores), 0), np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (Q, k) unordered
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(part, order, axis=1)


class ExactIndex(VectorIndex):
    """Brute-force cosine top-K (numpy BLAS matmul, queries in chunks)."""

    kind = "exact"

    def __init__(self, *, dim: int, chunk: int = 1024) -> None:
        super().__init__(dim=dim)
        self.chunk = chunk
        self._vectors = np.zeros((0, dim), np.float32)
        self._ids = np.zeros(0, np.int64)

    def ids(self) -> np.ndarray:
        return self._ids.copy()

    def vectors(self) -> np.ndarray:
        """The stored (normalised) vectors, Float32[N, D], in :meth:`ids` order."""
        return self._vectors

    def add(self, vectors: Any, ids: Any | None = None) -> np.ndarray:
        x = as_vectors(vectors, self.dim)
        new = self._new_ids(len(x), ids)
        self._vectors = np.concatenate([self._vectors, x])
        self._ids = np.concatenate([self._ids, new])
        return new

    def remove(self, ids: Any) -> int:
        gone = np.isin(self._ids, np.asarray(ids, dtype=np.int64).reshape(-1))
        self._vectors, self._ids = self._vectors[~gone], self._ids[~gone]
        return int(gone.sum())

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = as_vectors(queries, self.dim, "queries")
        out_s = np.full((len(q), k), -np.inf, np.float32)
        out_i = np.full((len(q), k), -1, np.int64)
        rows = max(1, min(self.chunk, (1 << 26) // max(len(self._ids), 1)))  # <= 256 MB of scores
        for s in range(0, len(q), rows):
            sims = q[s : s + rows] @ self._vectors.T  # (rows, N)
            vals, cols = topk_rows(sims, k)
            out_s[s : s + len(sims), : vals.shape[1]] = vals
            out_i[s : s + len(sims), : vals.shape[1]] = self._ids[cols]
        return out_s, out_i

    def nbytes(self) -> int:
        return self._vectors.nbytes + self._ids.nbytes

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"chunk": self.chunk}, {"vectors": self._vectors, "ids": self._ids}

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> ExactIndex:
        index = cls(dim=config["dim"], chunk=config["chunk"])
        index._vectors, index._ids = arrays["vectors"], arrays["ids"]
        return index
