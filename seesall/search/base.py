"""The vector-index contract and its on-disk format.

Every index stores L2-normalised float32 vectors under int64 ids and ranks by
cosine similarity (inner product of normalised vectors):

- ``add(vectors Float[N, D], ids Int64[N] | None) -> ids`` (ids are assigned
  0, 1, 2, ... when not given; an id already present is an error);
- ``remove(ids) -> number removed`` (unknown ids are ignored);
- ``search(queries Float[Q, D], k) -> (scores Float32[Q, k], ids Int64[Q, k])``,
  best first; rows are padded with score -inf and id -1 when fewer than k
  vectors can be returned;
- ``save(path)`` writes one ``.npz`` file atomically; :func:`load_index` reads
  any index back. ``names`` maps ids to names (e.g. image paths) and ``info``
  holds JSON-able facts (e.g. the embedding model); both are saved.
"""

from __future__ import annotations

import io
import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from seesall.io.atomic import write_bytes

FORMAT_VERSION = 1


def as_vectors(x: Any, dim: int | None, name: str = "vectors") -> np.ndarray:
    """Float32 [N, D] array with L2-normalised rows (zero rows stay zero)."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or (dim is not None and arr.shape[1] != dim):
        want = f"[N, {dim}]" if dim is not None else "[N, D]"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.ascontiguousarray(arr / np.maximum(norms, 1e-12), dtype=np.float32)


def pad_results(scores: list[np.ndarray], ids: list[np.ndarray], k: int) -> tuple[
        np.ndarray, np.ndarray]:
    """Stack per-query results, padding with (-inf, -1) to k columns."""
    out_s = np.full((len(scores), k), -np.inf, dtype=np.float32)
    out_i = np.full((len(ids), k), -1, dtype=np.int64)
    for row, (s, i) in enumerate(zip(scores, ids, strict=True)):
        out_s[row, : len(s)] = s[:k]
        out_i[row, : len(i)] = i[:k]
    return out_s, out_i


class VectorIndex(ABC):
    """Base of every index: id bookkeeping, names and atomic save."""

    kind: str = ""

    def __init__(self, *, dim: int) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.names: dict[int, str] = {}
        self.info: dict[str, Any] = {}  # JSON-able, saved (e.g. which model made the vectors)
        self._next_id = 0

    # -- ids ------------------------------------------------------------------
    def _new_ids(self, n: int, ids: Any | None) -> np.ndarray:
        if ids is None:
            out = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        else:
            out = np.asarray(ids, dtype=np.int64).reshape(-1)
            if len(out) != n:
                raise ValueError(f"ids has {len(out)} entries for {n} vectors")
            if len(np.unique(out)) != n or (out < 0).any():
                raise ValueError("ids must be unique non-negative integers")
            clash = np.intersect1d(out, self.ids())
            if len(clash):
                raise ValueError(f"ids already in the index: {clash[:5].tolist()}")
        if n:
            self._next_id = max(self._next_id, int(out.max()) + 1)
        return out

    @abstractmethod
    def ids(self) -> np.ndarray:
        """All ids in the index, Int64[N]."""

    def __len__(self) -> int:
        return len(self.ids())

    @abstractmethod
    def add(self, vectors: Any, ids: Any | None = None) -> np.ndarray:
        """Add Float[N, D] vectors; returns their ids."""

    @abstractmethod
    def remove(self, ids: Any) -> int:
        """Remove the given ids; returns how many were present."""

    @abstractmethod
    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine: (scores Float32[Q, k], ids Int64[Q, k])."""

    # -- persistence ------------------------------------------------------------
    @abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able config, arrays) that :meth:`_from_state` turns back into the index."""

    @classmethod
    @abstractmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> VectorIndex:
        """Rebuild an index from :meth:`_state`."""

    def to_bytes(self) -> bytes:
        config, arrays = self._state()
        header = {"format": FORMAT_VERSION, "kind": self.kind, "dim": self.dim,
                  "next_id": self._next_id, "names": {str(k): v for k, v in self.names.items()},
                  "info": self.info, "config": config}
        buf = io.BytesIO()
        np.savez(buf, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                 **arrays)
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to ``path`` atomically (temp file + fsync + rename)."""
        write_bytes(path, self.to_bytes())


def index_from_bytes(data: bytes, table: dict[str, type[VectorIndex]],
                     source: str = "<bytes>") -> VectorIndex:
    """Rebuild an index saved by :meth:`VectorIndex.to_bytes`; ``table`` maps kind -> class."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        header = json.loads(arrays.pop("header").tobytes().decode())
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{source}: not a seesall index file ({e})") from e
    if header.get("format") != FORMAT_VERSION or header.get("kind") not in table:
        raise ValueError(f"{source}: unsupported index format/kind "
                         f"{header.get('format')!r}/{header.get('kind')!r}")
    index = table[header["kind"]]._from_state({"dim": header["dim"], **header["config"]}, arrays)
    index._next_id = int(header["next_id"])
    index.names = {int(k): v for k, v in header["names"].items()}
    index.info = header.get("info", {})
    return index


def read_index_bytes(path: str | os.PathLike) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: index file not found")
    return p.read_bytes()
