"""One picture of everything a Scene knows: objects, semantic map, depth, flow, clip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from seesall.structures import Scene
from seesall.viz.draw import draw_objects, draw_tracks
from seesall.viz.flow import flow_to_color
from seesall.viz.layout import grid, titled
from seesall.viz.palette import colorize_semantic


@dataclass(frozen=True)
class Names:
    """Class tables used to caption pictures."""

    things: Sequence[str]
    semantic: Sequence[str] = ()
    actions: Sequence[str] = ()
    skeleton: Sequence[tuple[int, int]] = ()


def scene_panels(scene: Scene, names: Names, max_frames: int = 6) -> list[Tensor]:
    """Titled Tensor[3, H, W] uint8 panels, one per label the scene carries."""
    panels = [titled(draw_objects(scene.image, scene.objects, names.things, skeleton=names.skeleton),
                     f"objects ({len(scene.objects)})")]
    if scene.semantic is not None and names.semantic:
        panels.append(titled(colorize_semantic(scene.semantic, len(names.semantic)), "semantic"))
    if scene.depth is not None:
        panels.append(titled(_grey(scene.depth.as_subclass(Tensor)), "depth (dark = near)"))
    if scene.image2 is not None:
        panels.append(titled(scene.image2.as_subclass(Tensor), "frame 2"))
    if scene.flow is not None:
        panels.append(titled(flow_to_color(scene.flow, valid=scene.flow_valid), "flow (black = invalid)"))
    if scene.video is not None:
        panels.extend(_clip_panels(scene, names, max_frames))
    return panels


def scene_preview(scene: Scene, names: Names, max_frames: int = 6) -> Tensor:
    """All panels of one scene in a row: Tensor[3, H', W'] uint8."""
    panels = scene_panels(scene, names, max_frames)
    return grid(panels, ncols=len(panels))


def dataset_preview(scenes: Sequence[Scene], names: Names, max_frames: int = 6) -> Tensor:
    """One row per scene: Tensor[3, H', W'] uint8."""
    rows = [scene_preview(s, names, max_frames) for s in scenes]
    return grid(rows, ncols=1)


def _clip_panels(scene: Scene, names: Names, max_frames: int) -> list[Tensor]:
    video = scene.video.as_subclass(Tensor)
    t = video.shape[0]
    idx = torch.linspace(0, t - 1, min(t, max_frames)).round().long().unique()
    frames = video[idx]
    if scene.frame_objects is not None:
        frames = draw_tracks(frames, [scene.frame_objects[i] for i in idx.tolist()])
    action = ""
    if scene.action is not None:
        action = names.actions[scene.action] if scene.action < len(names.actions) else str(scene.action)
    return [titled(f, f"t={int(i)} {action}".strip()) for f, i in zip(frames, idx)]


def _grey(values: Tensor) -> Tensor:
    v = values.float()
    lo, hi = v.min(), v.max()
    g = ((v - lo) / (hi - lo).clamp_min(1e-6) * 255).round().to(torch.uint8)
    return g.expand(3, *g.shape).contiguous()
