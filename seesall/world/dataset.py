"""WorldDataset: the synthetic world as a map-style torch Dataset."""

from __future__ import annotations

from collections.abc import Callable

from torch.utils.data import Dataset

from seesall.structures import Scene
from seesall.world.clip import render_clip
from seesall.world.config import WorldConfig
from seesall.world.pair import render_pair
from seesall.world.scene import render_scene

RENDERERS: dict[str, Callable[[WorldConfig, int], Scene]] = {
    "scene": render_scene,
    "pair": render_pair,
    "clip": render_clip,
}


class WorldDataset(Dataset[Scene]):
    """``n`` scenes, pairs or clips of the world; item ``i`` is rendered from seed ``seed + i``.

    Items are drawn on demand (nothing is stored), so the dataset is identical in every
    worker process and every epoch. Use ``seesall.structures.collate`` as ``collate_fn``.
    """

    def __init__(self, kind: str, n: int, cfg: WorldConfig | None = None, seed: int = 0) -> None:
        if kind not in RENDERERS:
            raise ValueError(f"WorldDataset kind must be one of {list(RENDERERS)}, got {kind!r}")
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"WorldDataset n must be a non-negative int, got {n!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"WorldDataset seed must be a non-negative int, got {seed!r}")
        self.kind, self.n, self.seed = kind, n, seed
        self.cfg = cfg if cfg is not None else WorldConfig()
        self._render = RENDERERS[kind]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Scene:
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"WorldDataset index {index} out of range for {self.n} items")
        scene = self._render(self.cfg, self.seed + index)
        return scene.replace(file_name=f"world:{self.kind}:{self.seed + index}")
