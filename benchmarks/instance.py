"""Instance segmentation, keypoints and panoptic on the synthetic world, budgeted by CPU time.

    .venv/bin/python benchmarks/instance.py --budget 300 --size 96 --batch 8 \
        --ckpt-dir runs/instance_bench [--only mask_rcnn,solo,...] [--name instance]
    .venv/bin/python benchmarks/instance.py --pictures-only --ckpt-dir runs/instance_bench

Every model trains from scratch on the same pre-rendered world scenes (seeds 0..) for
``--budget`` seconds of CPU time of this process (one thread; AdamW, warm-up and a cosine
schedule over the budget, as the detection benchmark's ``fit``), then is evaluated on the
same held-out scenes (seeds 10,000,000..) with COCO mask AP and box AP (the project's
evaluator, pycocotools' algorithm), score threshold 0.05 and at most 100 detections, and
inference ms per image (batch 1, one thread, median):

* ``mask_rcnn``: our Mask R-CNN small (FastNet + FPN Faster R-CNN, 4-conv mask head),
  64 sampled RoIs per image (the mask head's cost on CPU grows with them);
* ``solo``: our SOLO small (decoupled heads, the five levels ``FIVE_LEVELS``);
* ``tv_maskrcnn_r50_fpn``: torchvision ``maskrcnn_resnet50_fpn(weights=None,
  weights_backbone=None)`` at the same input size, with anchors sized as ours
  (2 x the level's stride) so that the world's objects are matched, and our proposal and
  RoI counts (1000 / 300 proposals in training / inference, 64 RoIs per image);
* ``keypoint_rcnn``: our Keypoint R-CNN small on scenes of persons (>= 32 px tall: OKS
  allows a stick figure of 16 px about one pixel of error), circles and squares:
  COCO keypoint AP (OKS, the synthetic person's sigmas) of the person class;
* ``stuff_unet``: a small U-Net for the semantic map, whose stuff classes are merged with
  Mask R-CNN's things into the panoptic map (PQ/SQ/RQ against the scenes' truth).

Checkpoints go to ``--ckpt-dir`` (one ``NAME.pt`` each; not committed); the pictures are
drawn from them: results/NAME_{masks,keypoints,panoptic}.png.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision import tv_tensors
from torchvision.models.detection.anchor_utils import AnchorGenerator

from seesall.io.atomic import write_json, write_text
from seesall.structures import Objects, Scene, collate
from seesall.tasks.detection.coco_eval import CocoEvaluator
from seesall.tasks.instance.models import SOLOPostprocess, mask_rcnn_small, solo_small
from seesall.tasks.instance.solo_post import SOLOPostConfig
from seesall.tasks.keypoints.metrics import SYNTHETIC_PERSON_SIGMAS, KeypointEvaluator
from seesall.tasks.keypoints.models import keypoint_rcnn_small
from seesall.tasks.panoptic import MergeConfig, PanopticQuality, merge_panoptic
from seesall.tasks.panoptic.merge import scene_to_panoptic
from seesall.tasks.panoptic.metrics import categories_from_world
from seesall.tasks.semantic.models import preprocess, unet_small
from seesall.viz.draw import draw_objects
from seesall.viz.layout import grid, save_png, titled
from seesall.viz.palette import colorize_semantic
from seesall.world import (
    PERSON_KEYPOINTS,
    PERSON_SKELETON,
    SEMANTIC_CLASSES,
    STUFF_CLASSES,
    THING_CLASSES,
    WorldConfig,
    render_scene,
)

RESULTS = Path(__file__).parent / "results"
VAL_SEED = 10_000_000
K = len(THING_CLASSES)
PERSON = THING_CLASSES.index("person")
KEYPOINT_CLASSES = ("person", "circle", "square")
ROI_BATCH = 64  # RoIs per image for every two-stage model (ours and torchvision's)
LossFn = Callable[[list[Scene]], dict[str, Tensor]]
Predict = Callable[[Tensor, list[tuple[int, int]]], list[Objects]]


@dataclass
class Run:
    """A model under test: its module (trained and saved), loss on a list of scenes and
    batch-of-images predictor; ``world`` says which scenes it sees."""

    module: nn.Module
    loss: LossFn
    predict: Predict
    world: str = "all"


def _ours(seg: Any, world: str = "all") -> Run:
    def loss(scenes: list[Scene]) -> dict[str, Tensor]:
        b = collate(scenes, size_divisible=32)
        return seg.losses(b.images, [s.objects for s in b.scenes])

    def predict(images: Tensor, sizes: list[tuple[int, int]]) -> list[Objects]:
        return seg.predict(images, sizes)
    return Run(seg.model, loss, predict, world)


def build_solo() -> Run:
    seg = solo_small(num_classes=K)
    seg.postprocess = SOLOPostprocess(seg.model, SOLOPostConfig(score_threshold=0.05))
    return _ours(seg)


def build_tv(size: int) -> Run:
    anchors = AnchorGenerator(sizes=((8,), (16,), (32,), (64,), (128,)),
                              aspect_ratios=((0.5, 1.0, 2.0),) * 5)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=K + 1, min_size=size, max_size=size,
        rpn_anchor_generator=anchors, rpn_post_nms_top_n_train=1000, rpn_post_nms_top_n_test=300,
        box_batch_size_per_image=ROI_BATCH)

    def loss(scenes: list[Scene]) -> dict[str, Tensor]:
        targets = [{"boxes": s.objects.boxes.as_subclass(Tensor), "labels": s.objects.labels + 1,
                    "masks": s.objects.masks.as_subclass(Tensor).to(torch.uint8)} for s in scenes]
        return model([s.image.as_subclass(Tensor).float() / 255 for s in scenes], targets)

    @torch.no_grad()
    def predict(images: Tensor, sizes: list[tuple[int, int]]) -> list[Objects]:
        out = []
        for img, (h, w) in zip(images, sizes, strict=True):
            r = model([img[:, :h, :w].float() / 255])[0]
            out.append(Objects(labels=r["labels"] - 1, boxes=tv_tensors.BoundingBoxes(
                r["boxes"], format="XYXY", canvas_size=(h, w)),
                masks=tv_tensors.Mask(r["masks"][:, 0] >= 0.5), scores=r["scores"]))
        return out
    return Run(model, loss, predict)


def build_stuff_unet() -> Run:
    net = unet_small(num_classes=len(SEMANTIC_CLASSES))

    def loss(scenes: list[Scene]) -> dict[str, Tensor]:
        x = torch.stack([s.image.as_subclass(Tensor) for s in scenes])
        y = torch.stack([s.semantic.as_subclass(Tensor).long() for s in scenes])
        return {"ce": F.cross_entropy(net(preprocess(x))["logits"], y, ignore_index=255)}
    return Run(net, loss, lambda images, sizes: [])


def build(name: str, size: int) -> Run:
    if name == "mask_rcnn":
        return _ours(mask_rcnn_small(num_classes=K, roi_batch_size=ROI_BATCH))
    if name == "solo":
        return build_solo()
    if name == "tv_maskrcnn_r50_fpn":
        return build_tv(size)
    if name == "keypoint_rcnn":
        return _ours(keypoint_rcnn_small(num_classes=K, num_keypoints=len(PERSON_KEYPOINTS),
                                         keypoint_classes=(PERSON,)), world="keypoints")
    if name == "stuff_unet":
        return build_stuff_unet()
    raise ValueError(f"--only: unknown run {name!r}")


def fit(run: Run, scenes: list[Scene], *, budget: float, max_steps: int, batch: int,
        lr: float, seed: int = 0) -> dict[str, float]:
    """AdamW with linear warm-up and a cosine over ``budget`` CPU seconds (or ``max_steps``,
    whichever runs out first): the detection benchmark's schedule."""
    params = [p for p in run.module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    warm, cpu0, wall0 = 20, time.process_time(), time.perf_counter()

    def progress(step: int) -> float:
        return min(1.0, max(step / max_steps, (time.process_time() - cpu0) / budget))

    run.module.train()
    step = 0
    while progress(step) < 1.0:
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warm) * 0.5 * (
                1 + math.cos(math.pi * progress(step)))
        idx = torch.randint(0, len(scenes), (batch,), generator=g).tolist()
        losses = run.loss([scenes[i] for i in idx])
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        step += 1
        if step % 25 == 1:
            print(f"  step {step} cpu {time.process_time() - cpu0:.0f}s: " + " ".join(
                f"{k}={float(v.detach()):.3f}" for k, v in losses.items()), flush=True)
    wall = time.perf_counter() - wall0
    return {"steps": step, "train_cpu_s": time.process_time() - cpu0, "train_wall_s": wall,
            "train_images_per_s": step * batch / wall}


@torch.no_grad()
def evaluate(run: Run, scenes: list[Scene], keypoints: bool) -> tuple[dict[str, float],
                                                                       list[Objects]]:
    """COCO bbox and segm AP (or, with ``keypoints``, bbox and person keypoint AP) over
    ``scenes``, batch 1, with timing."""
    run.module.eval()
    segm = CocoEvaluator(categories=THING_CLASSES, iou_type="segm")
    bbox = CocoEvaluator(categories=THING_CLASSES, iou_type="bbox")
    kps = KeypointEvaluator(classes=[PERSON], class_names=["person"],
                            sigmas=SYNTHETIC_PERSON_SIGMAS)
    preds, times = [], []
    for s in scenes:
        b = collate([s])
        t0 = time.perf_counter()
        p = run.predict(b.images, b.image_sizes)
        times.append(time.perf_counter() - t0)
        preds += p
        if not keypoints:
            segm.update([s], p)
        bbox.update([s], p)
        if keypoints:
            kps.update([s], p)
    bx = bbox.compute()
    out = {"box_AP": bx["AP"], "box_AP50": bx["AP50"],
           "inference_ms": 1000 * statistics.median(times)}
    if not keypoints:
        m = segm.compute()
        out.update(mask_AP=m["AP"], mask_AP50=m["AP50"], mask_AP75=m["AP75"])
    else:
        k = kps.compute()
        out.update(keypoint_AP=k["AP"], keypoint_AP50=k["AP50"])
    return out, preds


@torch.no_grad()
def stuff_map(net: nn.Module, scene: Scene) -> Tensor:
    """Tensor[H, W] int64: the U-Net's arg-max semantic classes."""
    net.eval()
    return net(preprocess(scene.image.as_subclass(Tensor)[None]))["logits"].argmax(1)[0]


def panoptic(net: nn.Module, scenes: list[Scene], preds: list[Objects]
             ) -> tuple[dict[str, float], list[tuple[Tensor, Tensor]]]:
    """Mask R-CNN's things (score >= 0.3) + the U-Net's stuff -> PQ; (segment ids, classes)
    maps per scene."""
    ns = len(STUFF_CLASSES)
    pq = PanopticQuality(categories_from_world(ns, K))
    maps = []
    for s, p in zip(scenes, preds, strict=True):
        pan, segs = merge_panoptic(semantic=stuff_map(net, s), masks=p.masks.as_subclass(Tensor),
                                   labels=p.labels, scores=p.scores, num_stuff=ns,
                                   cfg=MergeConfig(score_threshold=0.3))
        gt, gsegs = scene_to_panoptic(s, ns)
        pq.update(gt, gsegs, pan, segs)
        cat = torch.full_like(pan, 255)
        for seg in segs:
            cat[pan == seg.id] = seg.category_id
        maps.append((pan, cat))
    out = pq.compute()
    return {k: float(out[k]) for k in ("PQ", "SQ", "RQ", "PQ_th", "PQ_st")}, maps


def _top(objs: Objects, k: int, min_score: float = 0.0) -> Objects:
    """The ``k`` highest-scoring predictions at or above ``min_score``."""
    objs = objs[objs.scores >= min_score]
    return objs[objs.scores.argsort(descending=True)[:k]]


def _segment_colors(pan: Tensor) -> Tensor:
    g = torch.Generator().manual_seed(1)
    lut = torch.randint(40, 255, (int(pan.max()) + 1, 3), generator=g, dtype=torch.uint8)
    lut[0] = 0
    return lut[pan].permute(2, 0, 1).contiguous()


def _up(img: Tensor, k: int) -> Tensor:
    return img.repeat_interleave(k, dim=1).repeat_interleave(k, dim=2)


def mask_picture(scenes: list[Scene], preds: dict[str, list[Objects]], path: Path, *,
                 scale: int, min_score: float, top: int = 8) -> None:
    """Truth and each model's predictions (score >= ``min_score``, at most ``top``) side by
    side, one scene per row."""
    tiles = []
    for i, s in enumerate(scenes):
        img = s.image.as_subclass(Tensor)
        tiles.append(titled(draw_objects(img, s.objects, THING_CLASSES, scale=scale), "truth"))
        for model, p in preds.items():
            tiles.append(titled(draw_objects(img, _top(p[i], top, min_score), THING_CLASSES,
                                             scale=scale), model))
    save_png(grid(tiles, ncols=1 + len(preds)), path)


def keypoint_picture(scenes: list[Scene], preds: list[Objects], path: Path, *, scale: int,
                     min_score: float) -> None:
    """Persons' skeletons: truth | predicted persons (score >= ``min_score``)."""
    tiles = []
    for s, p in zip(scenes, preds, strict=True):
        img = s.image.as_subclass(Tensor)
        truth = s.objects[s.objects.labels == PERSON].replace(masks=None)
        people = _top(p[p.labels == PERSON], 4, min_score).replace(masks=None)
        tiles.append(titled(draw_objects(img, truth, THING_CLASSES, skeleton=PERSON_SKELETON,
                                         scale=scale), "truth"))
        tiles.append(titled(draw_objects(img, people, THING_CLASSES, skeleton=PERSON_SKELETON,
                                         scale=scale), f"persons >= {min_score}"))
    save_png(grid(tiles, ncols=4), path)


def panoptic_picture(scenes: list[Scene], maps: list[tuple[Tensor, Tensor]], path: Path, *,
                     scale: int) -> None:
    """image | truth classes | predicted panoptic classes | predicted segments."""
    n = len(SEMANTIC_CLASSES)
    tiles = []
    for s, (pan, cat) in zip(scenes, maps, strict=True):
        truth = colorize_semantic(s.semantic.as_subclass(Tensor), n)
        tiles += [titled(_up(x, scale), t) for x, t in (
            (s.image.as_subclass(Tensor), "image"), (truth, "truth classes"),
            (colorize_semantic(cat, n), "panoptic classes"),
            (_segment_colors(pan), "panoptic segments"))]
    save_png(grid(tiles, ncols=4), path)


def worlds(args: argparse.Namespace) -> dict[str, WorldConfig]:
    base = WorldConfig(size=(args.size, args.size), min_size=args.min_object)
    return {"all": base, "keypoints": WorldConfig(size=base.size, min_size=args.kp_min_object,
                                                  classes=KEYPOINT_CLASSES)}


def load(name: str, args: argparse.Namespace) -> Run | None:
    """The run rebuilt with its saved weights, or None if ``--ckpt-dir`` has none."""
    path = Path(args.ckpt_dir) / f"{name}.pt"
    if not path.is_file():
        return None
    run = build(name, args.size)
    run.module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    run.module.eval()
    return run


def panoptic_from_checkpoints(args: argparse.Namespace, val: list[Scene]
                              ) -> tuple[dict[str, float], list] | None:
    things, stuff = load("mask_rcnn", args), load("stuff_unet", args)
    if things is None or stuff is None:
        return None
    preds = evaluate(things, val, keypoints=False)[1]
    return panoptic(stuff.module, val, preds)


def pictures(args: argparse.Namespace, val: dict[str, list[Scene]]) -> list[str]:
    """All pictures from the saved checkpoints; returns the files written."""
    n, written = args.picture_scenes, []
    scenes = val["all"][:n]
    preds = {}
    for name in ("mask_rcnn", "solo"):
        run = load(name, args)
        if run is not None:
            preds[name] = evaluate(run, scenes, keypoints=False)[1]
    if preds:
        path = RESULTS / f"{args.name}_masks.png"
        mask_picture(scenes, preds, path, scale=args.scale, min_score=args.mask_picture_score)
        written.append(path.name)
    kp = load("keypoint_rcnn", args)
    if kp is not None:
        people = [s for s in val["keypoints"] if (s.objects.labels == PERSON).any()][:n]
        path = RESULTS / f"{args.name}_keypoints.png"
        keypoint_picture(people, evaluate(kp, people, keypoints=True)[1], path,
                         scale=args.scale, min_score=args.picture_score)
        written.append(path.name)
    pan = panoptic_from_checkpoints(args, scenes)
    if pan is not None:
        path = RESULTS / f"{args.name}_panoptic.png"
        panoptic_picture(scenes, pan[1], path, scale=args.scale)
        written.append(path.name)
    return written


def markdown(rows: dict[str, dict], pq: dict, args: argparse.Namespace) -> str:
    lines = [f"# Instance segmentation and keypoints (world {args.size}×{args.size}, objects >= "
             f"{args.min_object} px, {args.budget:.0f} CPU s of training per model × batch "
             f"{args.batch}, {args.train} train / {args.val} held-out scenes)", "",
             "| model | steps | mask AP | mask AP50 | mask AP75 | box AP | box AP50 | keypoint AP "
             "(person) | keypoint AP50 | infer ms | train img/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        if "box_AP" not in r:
            continue
        cells = [f"{r[k]:.3f}" if k in r else "–" for k in (
            "mask_AP", "mask_AP50", "mask_AP75", "box_AP", "box_AP50", "keypoint_AP",
            "keypoint_AP50")]
        lines.append(f"| {name} | {r['steps']} | " + " | ".join(cells) +
                     f" | {r['inference_ms']:.0f} | {r['train_images_per_s']:.2f} |")
    if pq:
        lines += ["", "Panoptic (Mask R-CNN things + U-Net stuff): " + ", ".join(
            f"{k} {v:.3f}" for k, v in pq.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=300.0, help="CPU seconds of training per model")
    p.add_argument("--stuff-budget", type=float, default=60.0, help="CPU s for the stuff U-Net")
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--min-object", type=float, default=16.0, help="smallest object, pixels")
    p.add_argument("--kp-min-object", type=float, default=32.0,
                   help="smallest object of the keypoint world (persons' height), pixels")
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--val", type=int, default=100)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--tv-lr", type=float, default=None, help="torchvision's lr (default --lr)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="initialisation and batch order")
    p.add_argument("--only", default="mask_rcnn,solo,tv_maskrcnn_r50_fpn,keypoint_rcnn,stuff_unet")
    p.add_argument("--name", default="instance", help="output name: results/NAME.*")
    p.add_argument("--ckpt-dir", default="runs/instance_bench", help="checkpoints NAME.pt")
    p.add_argument("--pictures-only", action="store_true")
    p.add_argument("--no-pictures", action="store_true")
    p.add_argument("--picture-scenes", type=int, default=4)
    p.add_argument("--picture-score", type=float, default=0.3, help="keypoint picture")
    p.add_argument("--mask-picture-score", type=float, default=0.15, help="mask picture")
    p.add_argument("--scale", type=int, default=3, help="picture enlargement")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    Path(args.ckpt_dir).mkdir(parents=True, exist_ok=True)
    cfgs = worlds(args)
    val = {k: [render_scene(c, VAL_SEED + i) for i in range(args.val)] for k, c in cfgs.items()}
    out_json = RESULTS / f"{args.name}.json"
    old = json.loads(out_json.read_text()) if out_json.is_file() else {}
    rows, pq = old.get("results", {}), old.get("panoptic", {})

    def save() -> None:
        write_json(out_json, {"config": vars(args), "results": rows, "panoptic": pq}, indent=2)
        write_text(RESULTS / f"{args.name}.md", markdown(rows, pq, args))

    if not args.pictures_only:
        train = {k: [render_scene(c, i) for i in range(args.train)] for k, c in cfgs.items()}
        for name in args.only.split(","):
            torch.manual_seed(args.seed)
            run = build(name, args.size)
            unet = name == "stuff_unet"
            lr = args.tv_lr if name.startswith("tv_") and args.tv_lr else args.lr
            print(name, flush=True)
            r = fit(run, train[run.world], budget=args.stuff_budget if unet else args.budget,
                    max_steps=args.max_steps, batch=args.batch, lr=lr, seed=args.seed)
            torch.save(run.module.state_dict(), Path(args.ckpt_dir) / f"{name}.pt")
            m = {} if unet else evaluate(run, val[run.world], name == "keypoint_rcnn")[0]
            rows[name] = {**r, **m, "budget_cpu_s": args.stuff_budget if unet else args.budget}
            print(name, {k: round(float(v), 4) for k, v in rows[name].items()}, flush=True)
            save()
        pan = panoptic_from_checkpoints(args, val["all"])
        if pan is not None:
            pq = pan[0]
            save()
    if not args.no_pictures:
        print("pictures:", pictures(args, val), flush=True)


if __name__ == "__main__":
    main()
