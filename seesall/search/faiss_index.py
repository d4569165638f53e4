"""FAISS indexes behind the :class:`VectorIndex` contract: flat, LSH, HNSW and IVF.

Flat, LSH and HNSW indexes are wrapped in ``IndexIDMap2`` so they store our
int64 ids (IVF stores them natively) and can ``remove_ids``; vectors are L2-normalised and the metric is inner product,
so scores are cosines. Where FAISS differs:

- ``IndexLSH`` ranks by Hamming distance h between ``nbits``-bit codes; its
  score is reported as the angle estimate cos(π·h / nbits).
- ``IndexHNSWFlat`` cannot remove vectors (FAISS raises "remove_ids not
  implemented"). Removed ids become tombstones: searches over-fetch and drop
  them, and once tombstones exceed ``rebuild_fraction`` of the index it is
  rebuilt from its own stored vectors.
- ``IndexIVFFlat`` must be trained (k-means over ``nlist`` lists) before it can
  hold vectors; the first ``add`` trains it and needs at least ``nlist``
  vectors.

Saving uses ``faiss.serialize_index`` (bytes inside our ``.npz``, written
atomically), not ``faiss.write_index`` which writes in place.
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np

from seesall.search.base import VectorIndex, as_vectors, pad_results


def _new_faiss(method: str, dim: int, params: dict[str, int]) -> faiss.Index:
    ip = faiss.METRIC_INNER_PRODUCT
    if method == "flat":
        return faiss.IndexFlatIP(dim)
    if method == "lsh":
        return faiss.IndexLSH(dim, params["nbits"])  # random rotation + sign bits
    if method == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params["m"], ip)
        index.hnsw.efConstruction = params["ef_construction"]
        return index
    if method == "ivf":
        return faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, params["nlist"], ip)
    raise ValueError(f"unknown FAISS method {method!r}; expected flat, lsh, hnsw or ivf")


def _wrap(method: str, index: faiss.Index) -> faiss.Index:
    """``IndexIDMap2`` around flat/LSH/HNSW; IVF keeps our ids in its own lists.

    ``IndexIDMap2.remove_ids`` over an IVF index corrupts results (the IVF lists
    keep the map's old positions while the map shifts), so IVF is used bare with
    its native ``add_with_ids`` / ``remove_ids``.
    """
    return index if method == "ivf" else faiss.IndexIDMap2(index)


class FaissIndex(VectorIndex):
    """A FAISS index (``method`` in flat / lsh / hnsw / ivf) with our ids, names and saving.

    Use the factories :func:`faiss_flat`, :func:`faiss_lsh`, :func:`faiss_hnsw`,
    :func:`faiss_ivf`, which hold the sizes.
    """

    kind = "faiss"

    def __init__(self, *, dim: int, method: str, params: dict[str, int],
                 rebuild_fraction: float = 0.25) -> None:
        super().__init__(dim=dim)
        self.method, self.params = method, dict(params)
        self.rebuild_fraction = rebuild_fraction
        self._index = _wrap(method, _new_faiss(method, dim, self.params))
        self._removed: set[int] = set()
        self._apply_search_params()

    @property
    def inner(self) -> faiss.Index:
        return self._index if self.method == "ivf" else faiss.downcast_index(self._index.index)

    def _apply_search_params(self) -> None:
        if self.method == "hnsw":
            self.inner.hnsw.efSearch = self.params["ef_search"]
        elif self.method == "ivf":
            self.inner.nprobe = self.params["nprobe"]

    def _all_ids(self) -> np.ndarray:
        if self.method != "ivf":
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = self._index.invlists
        parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                 for i in range(self._index.nlist) if lists.list_size(i)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def ids(self) -> np.ndarray:
        ids = self._all_ids()
        return ids[~np.isin(ids, list(self._removed))] if self._removed else ids

    def add(self, vectors: Any, ids: Any | None = None) -> np.ndarray:
        x = as_vectors(vectors, self.dim)
        new = self._new_ids(len(x), ids)
        if not self._index.is_trained:
            if len(x) < self.params.get("nlist", 1):
                raise ValueError(f"IVF index needs at least nlist={self.params['nlist']} "
                                 f"vectors in its first add to train, got {len(x)}")
            self._index.train(x)
        self._index.add_with_ids(x, new)
        return new

    def remove(self, ids: Any) -> int:
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        present = np.intersect1d(wanted, self.ids())
        if self.method != "hnsw":
            return int(self._index.remove_ids(present))
        self._removed.update(present.tolist())
        if len(self._removed) > self.rebuild_fraction * self._index.ntotal:
            self._rebuild()
        return len(present)

    def _rebuild(self) -> None:
        """Drop tombstoned vectors by building a fresh index from the stored ones."""
        all_ids = self._all_ids()
        vectors = self.inner.reconstruct_n(0, self._index.ntotal)  # (N, D) in id_map order
        # faiss.contrib.torch_utils (imported by pytorch-metric-learning, for one) patches
        # reconstruct_n to return a torch tensor; the index's other calls here take numpy.
        vectors = np.ascontiguousarray(np.asarray(vectors), dtype=np.float32)
        keep = ~np.isin(all_ids, list(self._removed))
        self._index = _wrap(self.method, _new_faiss(self.method, self.dim, self.params))
        self._apply_search_params()
        self._removed = set()
        if keep.any():
            self._index.add_with_ids(vectors[keep], all_ids[keep])

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = as_vectors(queries, self.dim, "queries")
        fetch = min(k + len(self._removed), self._index.ntotal)
        if fetch == 0:
            return pad_results([np.zeros(0)] * len(q), [np.zeros(0, np.int64)] * len(q), k)
        dist, ids = self._index.search(q, fetch)
        scores = dist.astype(np.float32)
        if self.method == "lsh":
            scores = np.cos(math.pi * scores / self.params["nbits"]).astype(np.float32)
        if not self._removed:
            return pad_results(list(scores), list(ids), k)
        dead = np.isin(ids, list(self._removed)) | (ids < 0)
        return pad_results([s[~m] for s, m in zip(scores, dead, strict=True)],
                           [i[~m] for i, m in zip(ids, dead, strict=True)], k)

    def nbytes(self) -> int:
        return int(faiss.serialize_index(self._index).nbytes)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        config = {"method": self.method, "params": self.params,
                  "rebuild_fraction": self.rebuild_fraction}
        return config, {"faiss": faiss.serialize_index(self._index),
                        "removed": np.array(sorted(self._removed), dtype=np.int64)}

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> FaissIndex:
        index = cls(dim=config["dim"], method=config["method"], params=config["params"],
                    rebuild_fraction=config["rebuild_fraction"])
        index._index = faiss.deserialize_index(arrays["faiss"])
        index._removed = set(arrays["removed"].tolist())
        index._apply_search_params()
        return index


def faiss_flat(*, dim: int) -> FaissIndex:
    """Exact inner-product search (``IndexFlatIP``)."""
    return FaissIndex(dim=dim, method="flat", params={})


def faiss_lsh(*, dim: int, nbits: int = 256) -> FaissIndex:
    """``IndexLSH``: random rotation to ``nbits`` dims, sign bits, Hamming ranking."""
    return FaissIndex(dim=dim, method="lsh", params={"nbits": nbits})


def faiss_hnsw(*, dim: int, m: int = 32, ef_construction: int = 40,
               ef_search: int = 64) -> FaissIndex:
    """``IndexHNSWFlat``: a navigable small-world graph with ``m`` links per node."""
    return FaissIndex(dim=dim, method="hnsw", params={
        "m": m, "ef_construction": ef_construction, "ef_search": ef_search})


def faiss_ivf(*, dim: int, nlist: int = 100, nprobe: int = 8) -> FaissIndex:
    """``IndexIVFFlat``: k-means into ``nlist`` lists, ``nprobe`` lists visited per query."""
    return FaissIndex(dim=dim, method="ivf", params={"nlist": nlist, "nprobe": nprobe})
