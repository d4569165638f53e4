"""Image search: vector indexes (exact, random-hyperplane LSH, FAISS) with add/remove/save.

>>> index = build_index("hnsw", dim=128)
>>> ids = index.add(vectors)                 # Float[N, 128]
>>> scores, found = index.search(queries, 10)
>>> index.save("images.index")               # atomic
>>> index = load_index("images.index")
"""

from __future__ import annotations

import os
from collections.abc import Callable

from seesall.search.base import VectorIndex, index_from_bytes, read_index_bytes
from seesall.search.exact import ExactIndex
from seesall.search.faiss_index import (
    FaissIndex,
    faiss_flat,
    faiss_hnsw,
    faiss_ivf,
    faiss_lsh,
)
from seesall.search.lsh import RandomHyperplaneLSH, collision_probability

_KINDS: dict[str, type[VectorIndex]] = {
    ExactIndex.kind: ExactIndex,
    RandomHyperplaneLSH.kind: RandomHyperplaneLSH,
    FaissIndex.kind: FaissIndex,
}


def index_table() -> dict[str, Callable[..., VectorIndex]]:
    """Index factories by name (each takes ``dim=`` plus its own size keywords)."""
    return {
        "exact": ExactIndex,
        "lsh": RandomHyperplaneLSH,
        "faiss_flat": faiss_flat,
        "faiss_lsh": faiss_lsh,
        "hnsw": faiss_hnsw,
        "ivf": faiss_ivf,
    }


def build_index(name: str, *, dim: int, **sizes: int) -> VectorIndex:
    """An empty index from :func:`index_table`."""
    table = index_table()
    if name not in table:
        raise ValueError(f"unknown index {name!r}; choose from {sorted(table)}")
    return table[name](dim=dim, **sizes)


def load_index(path: str | os.PathLike) -> VectorIndex:
    """Read an index written by :meth:`VectorIndex.save`."""
    return index_from_bytes(read_index_bytes(path), _KINDS, source=str(path))


__all__ = [
    "ExactIndex", "FaissIndex", "RandomHyperplaneLSH", "VectorIndex", "build_index",
    "collision_probability", "faiss_flat", "faiss_hnsw", "faiss_ivf", "faiss_lsh",
    "index_table", "load_index",
]
