"""``seesall world``: write a synthetic dataset in the standard formats, plus a preview."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

from tqdm import tqdm

from seesall.data.export import ClassTables, export_clips, export_scenes
from seesall.structures import Scene
from seesall.viz import save_png
from seesall.viz.preview import Names, dataset_preview
from seesall.world import (
    ACTIONS,
    PERSON_KEYPOINTS,
    PERSON_SKELETON,
    SEMANTIC_CLASSES,
    STUFF_CLASSES,
    THING_CLASSES,
    WorldConfig,
    render_clip,
    render_pair,
    render_scene,
)

HELP = "Write a synthetic dataset (COCO, label PNGs, .flo, clips) and DIR/preview.png."

TASKS = ("detection", "semantic", "instance", "keypoints", "panoptic", "flow", "action", "all")
"""Tasks whose data the world writes. Single-image tasks share one export (scenes)."""

WORLD_TABLES = ClassTables(
    things=THING_CLASSES,
    semantic=SEMANTIC_CLASSES,
    stuff_count=len(STUFF_CLASSES),
    keypoints=PERSON_KEYPOINTS,
    skeleton=PERSON_SKELETON,
    keypoint_labels=(THING_CLASSES.index("person"),),
    actions=ACTIONS,
)

PREVIEW_COUNT = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=TASKS, default="all",
                        help="which data to write: scenes (detection/semantic/instance/keypoints/"
                             "panoptic), pairs with flow (flow), clips (action), or all three")
    parser.add_argument("--n", type=_positive, default=16, help="number of samples of each kind")
    parser.add_argument("--size", type=_size, default=(128, 128), help="image size: S or HxW (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="sample i uses seed + i (same seed, same bytes)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--min-objects", type=int, default=2, help="fewest objects per scene")
    parser.add_argument("--max-objects", type=int, default=6, help="most objects per scene")
    parser.add_argument("--photo-backgrounds", type=float, default=0.0,
                        help="probability of a real-photo background (scikit-image samples)")
    parser.add_argument("--kinematogram", action="store_true",
                        help="objects wear the background's random dots: visible only by motion")
    parser.add_argument("--clip-length", type=int, default=12, help="frames per clip")
    parser.add_argument("--video-format", choices=("frames", "mp4"), default="frames",
                        help="clips as PNG frame folders (lossless) or mp4 files")
    parser.add_argument("--mask-format", choices=("rle", "polygon"), default="rle",
                        help="COCO segmentation encoding")


def run(args: argparse.Namespace) -> int:
    cfg = WorldConfig(size=args.size, num_objects=(args.min_objects, args.max_objects),
                      photo_backgrounds=args.photo_backgrounds, kinematogram=args.kinematogram,
                      clip_length=args.clip_length)
    kinds = _kinds(args.task)
    out: Path = args.out
    for kind in kinds:
        folder = out / kind if len(kinds) > 1 else out
        render = {"scenes": render_scene, "pairs": render_pair, "clips": render_clip}[kind]
        samples = _progress(_samples(render, cfg, args.seed, args.n), args.n, f"world {kind}")
        preview: list[Scene] = []
        samples = _keep_first(samples, preview, PREVIEW_COUNT)
        if kind == "clips":
            export_clips(samples, folder, WORLD_TABLES, video_format=args.video_format)
        else:
            export_scenes(samples, folder, WORLD_TABLES, mask_format=args.mask_format)
        save_png(dataset_preview(preview, _names()), folder / "preview.png")
        print(f"wrote {args.n} {kind} to {folder} (preview: {folder / 'preview.png'})")
    return 0


def _names() -> Names:
    t = WORLD_TABLES
    return Names(things=t.things, semantic=t.semantic, actions=t.actions, skeleton=t.skeleton)


def _kinds(task: str) -> list[str]:
    if task == "all":
        return ["scenes", "pairs", "clips"]
    return {"flow": ["pairs"], "action": ["clips"]}.get(task, ["scenes"])


def _samples(render: Callable[[WorldConfig, int], Scene], cfg: WorldConfig, seed: int, n: int
             ) -> Iterator[Scene]:
    for i in range(n):
        yield render(cfg, seed + i).replace(image_id=i)


def _keep_first(samples: Iterator[Scene], keep: list[Scene], count: int) -> Iterator[Scene]:
    for s in samples:
        if len(keep) < count:
            keep.append(s)
        yield s


def _progress(it: Iterator[Scene], total: int, desc: str) -> Iterator[Scene]:
    return tqdm(it, total=total, desc=desc, unit="sample", leave=False, mininterval=0.5)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be S or HxW, got {text!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 16:
        raise argparse.ArgumentTypeError(f"size must be S or HxW with sides >= 16, got {text!r}")
    return parts[0], parts[1]

