"""Instance segmentation, keypoints and panoptic on the synthetic world.

    .venv/bin/python benchmarks/instance.py [--steps 120 --tv-steps 6 --size 128 --batch 4]

Trained from scratch on the same world scenes (seeds 0..), evaluated on the same
held-out scenes (seeds 10,000,000..) with COCO mask AP and box AP (pycocotools
algorithm through seesall's evaluator) and inference ms per image (batch 1, median):

* ours: Mask R-CNN (FastNet + FPN Faster R-CNN with the mask head and, in the same
  model, the Keypoint R-CNN head for the person class: keypoint AP with the
  synthetic person's OKS sigmas) and SOLO (decoupled, FastNet + FPN);
* peer: torchvision ``maskrcnn_resnet50_fpn(weights=None, weights_backbone=None)``
  at the same input size (min_size = max_size = size); on this CPU one training step
  takes about a minute, so it gets only ``--tv-steps`` steps (its AP says so).

Panoptic: a small U-Net trained for ``--unet-steps`` steps gives the stuff, merged
with our Mask R-CNN's instances; PQ/SQ/RQ against the scenes' panoptic truth.
Writes benchmarks/results/NAME.{json,md} and pictures NAME_{masks,keypoints,panoptic}.png.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor

from seesall.io.atomic import write_json, write_text
from seesall.nn.backbones import normalize_image
from seesall.structures import Objects, Scene, collate
from seesall.tasks.detection.coco_eval import CocoEvaluator
from seesall.tasks.instance.models import Segmenter, solo_small
from seesall.tasks.keypoints.metrics import SYNTHETIC_PERSON_SIGMAS, KeypointEvaluator
from seesall.tasks.keypoints.models import keypoint_mask_rcnn_small
from seesall.tasks.panoptic import MergeConfig, PanopticQuality, merge_panoptic
from seesall.tasks.panoptic.merge import scene_to_panoptic
from seesall.tasks.panoptic.metrics import categories_from_world
from seesall.tasks.semantic.models import unet_tiny
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
Predict = Callable[[Tensor, list[tuple[int, int]]], list[Objects]]


def train_segmenter(seg: Segmenter, scenes: list[Scene], steps: int, batch: int, lr: float
                    ) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(seg.model.parameters(), lr=lr, weight_decay=1e-4)
    seg.model.train()
    times = []
    for step in range(steps):
        idx = torch.randint(0, len(scenes), (batch,), generator=g).tolist()
        b = collate([scenes[i] for i in idx], size_divisible=32)
        t0 = time.perf_counter()
        losses = seg.losses(b.images, [s.objects for s in b.scenes])
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        torch.nn.utils.clip_grad_norm_(seg.model.parameters(), 10.0)
        opt.step()
        times.append(time.perf_counter() - t0)
        if step % 20 == 0:
            print(f"  step {step}: " + " ".join(f"{k}={float(v):.3f}" for k, v in losses.items()),
                  flush=True)
    return {"train_images_per_s": batch / statistics.median(times), "train_seconds": sum(times)}


def tv_model(size: int) -> torch.nn.Module:
    return torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=K + 1, min_size=size, max_size=size)


def train_tv(model: torch.nn.Module, scenes: list[Scene], steps: int, batch: int, lr: float
             ) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()
    times = []
    for _ in range(steps):
        idx = torch.randint(0, len(scenes), (batch,), generator=g).tolist()
        chosen = [scenes[i] for i in idx]
        targets = [{"boxes": s.objects.boxes.as_subclass(Tensor), "labels": s.objects.labels + 1,
                    "masks": s.objects.masks.as_subclass(Tensor).to(torch.uint8)} for s in chosen]
        t0 = time.perf_counter()
        losses = model([s.image.as_subclass(Tensor).float() / 255 for s in chosen], targets)
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return {"train_images_per_s": batch / statistics.median(times) if times else 0.0,
            "train_seconds": sum(times)}


def tv_predict(model: torch.nn.Module) -> Predict:
    @torch.no_grad()
    def predict(images: Tensor, sizes: list[tuple[int, int]]) -> list[Objects]:
        from torchvision import tv_tensors

        out = []
        for img, (h, w) in zip(images, sizes, strict=True):
            r = model([img[:, :h, :w].float() / 255])[0]
            out.append(Objects(labels=r["labels"] - 1, boxes=tv_tensors.BoundingBoxes(
                r["boxes"], format="XYXY", canvas_size=(h, w)),
                masks=tv_tensors.Mask(r["masks"][:, 0] >= 0.5), scores=r["scores"]))
        return out
    return predict


def evaluate(predict: Predict, scenes: list[Scene], keypoints: bool
             ) -> tuple[dict[str, float], list[Objects]]:
    segm = CocoEvaluator(categories=THING_CLASSES, iou_type="segm")
    bbox = CocoEvaluator(categories=THING_CLASSES, iou_type="bbox")
    kps = KeypointEvaluator(classes=[PERSON], class_names=["person"],
                            sigmas=SYNTHETIC_PERSON_SIGMAS)
    preds, times = [], []
    for s in scenes:
        b = collate([s])
        t0 = time.perf_counter()
        p = predict(b.images, b.image_sizes)
        times.append(time.perf_counter() - t0)
        preds += p
        segm.update([s], p)
        bbox.update([s], p)
        if keypoints:
            kps.update([s], p)
    m, bx = segm.compute(), bbox.compute()
    out = {"mask_AP": m["AP"], "mask_AP50": m["AP50"], "mask_AP75": m["AP75"],
           "box_AP": bx["AP"], "box_AP50": bx["AP50"], "inference_ms": 1000 * statistics.median(
               times)}
    if keypoints:
        k = kps.compute()
        out.update(keypoint_AP=k["AP"], keypoint_AP50=k["AP50"])
    return out, preds


def train_stuff_unet(scenes: list[Scene], steps: int, batch: int) -> torch.nn.Module:
    """A small U-Net for the semantic map (its stuff classes feed the panoptic merge)."""
    g = torch.Generator().manual_seed(0)
    net = unet_tiny(num_classes=len(SEMANTIC_CLASSES))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    x = torch.stack([s.image.as_subclass(Tensor) for s in scenes])
    y = torch.stack([s.semantic.as_subclass(Tensor).long() for s in scenes])
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(scenes), (batch,), generator=g)
        loss = F.cross_entropy(net(normalize_image(x[idx]))["logits"], y[idx], ignore_index=255)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def panoptic(net: torch.nn.Module, scenes: list[Scene], preds: list[Objects]
             ) -> tuple[dict[str, float], list[Tensor]]:
    ns = len(STUFF_CLASSES)
    pq = PanopticQuality(categories_from_world(ns, K))
    maps = []
    for s, p in zip(scenes, preds, strict=True):
        sem = net(normalize_image(s.image.as_subclass(Tensor)[None]))["logits"].argmax(1)[0]
        pan, segs = merge_panoptic(semantic=sem, masks=p.masks.as_subclass(Tensor),
                                   labels=p.labels, scores=p.scores, num_stuff=ns,
                                   cfg=MergeConfig(score_threshold=0.3))
        gt, gsegs = scene_to_panoptic(s, ns)
        pq.update(gt, gsegs, pan, segs)
        cat = torch.zeros_like(pan)
        for seg in segs:
            cat[pan == seg.id] = seg.category_id
        cat[pan == 0] = 255
        maps.append((pan, cat))
    out = pq.compute()
    return {k: float(out[k]) for k in ("PQ", "SQ", "RQ", "PQ_th", "PQ_st")}, maps


def pictures(scenes: list[Scene], preds: dict[str, list[Objects]], pan_maps: list, name: str,
             n: int = 4, top: int = 5) -> None:
    """Instance masks (each model's ``top`` predictions), persons' keypoints (scenes with
    persons), panoptic maps; written as results/NAME_{masks,keypoints,panoptic}.png."""
    tiles = []
    for i in range(n):
        s = scenes[i]
        img = s.image.as_subclass(Tensor)
        tiles.append(titled(draw_objects(img, s.objects, THING_CLASSES), "truth"))
        for model, p in preds.items():
            tiles.append(titled(draw_objects(img, _top(p[i], top), THING_CLASSES), model))
    save_png(_up(grid(tiles, ncols=1 + len(preds))), RESULTS / f"{name}_masks.png")
    kp_tiles = []
    with_people = [i for i, s in enumerate(scenes) if (s.objects.labels == PERSON).any()]
    for i in with_people[:n]:
        s, p = scenes[i], preds["mask_rcnn"][i]
        img = s.image.as_subclass(Tensor)
        people = _top(p[p.labels == PERSON], 2)
        kp_tiles.append(titled(draw_objects(img, s.objects[s.objects.labels == PERSON],
                                            THING_CLASSES, skeleton=PERSON_SKELETON), "truth"))
        kp_tiles.append(titled(draw_objects(img, people.replace(masks=None), THING_CLASSES,
                                            skeleton=PERSON_SKELETON), "top-2 persons"))
    if kp_tiles:
        save_png(_up(grid(kp_tiles, ncols=2)), RESULTS / f"{name}_keypoints.png")
    pan_tiles = []
    for i in range(n):
        s = scenes[i]
        pan, cat = pan_maps[i]
        gt_sem = s.semantic.as_subclass(Tensor)
        pan_tiles += [titled(s.image.as_subclass(Tensor), "image"),
                      titled(colorize_semantic(gt_sem, len(SEMANTIC_CLASSES)), "truth classes"),
                      titled(colorize_semantic(cat, len(SEMANTIC_CLASSES)), "panoptic classes"),
                      titled(_segment_colors(pan), "panoptic segments")]
    save_png(_up(grid(pan_tiles, ncols=4)), RESULTS / f"{name}_panoptic.png")


def _top(objs: Objects, k: int) -> Objects:
    """The ``k`` highest-scoring predictions (pictures show them whatever their score)."""
    return objs[objs.scores.argsort(descending=True)[:k]]


def _segment_colors(pan: Tensor) -> Tensor:
    g = torch.Generator().manual_seed(1)
    lut = torch.randint(40, 255, (int(pan.max()) + 1, 3), generator=g, dtype=torch.uint8)
    lut[0] = 0
    return lut[pan].permute(2, 0, 1).contiguous()


def _up(img: Tensor) -> Tensor:
    return F.interpolate(img[None].float(), scale_factor=2, mode="nearest")[0].byte()


def markdown(rows: dict[str, dict], pq: dict, args: argparse.Namespace) -> str:
    lines = [f"# Instance segmentation (world {args.size}×{args.size}, batch {args.batch}, "
             f"{args.train} train / {args.val} held-out scenes)", "",
             "| model | steps | mask AP | mask AP50 | box AP | box AP50 | keypoint AP (person) "
             "| infer ms | train img/s |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        kp = f"{r['keypoint_AP']:.3f}" if "keypoint_AP" in r else "–"
        lines.append(f"| {name} | {r['steps']} | {r['mask_AP']:.3f} | {r['mask_AP50']:.3f} | "
                     f"{r['box_AP']:.3f} | {r['box_AP50']:.3f} | {kp} | {r['inference_ms']:.0f} "
                     f"| {r['train_images_per_s']:.2f} |")
    if pq:
        lines += ["", "Panoptic (our Mask R-CNN things + U-Net stuff): " + ", ".join(
            f"{k} {v:.3f}" for k, v in pq.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--tv-steps", type=int, default=6)
    p.add_argument("--unet-steps", type=int, default=150)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--train", type=int, default=300)
    p.add_argument("--val", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", default="mask_rcnn,solo,tv_maskrcnn_r50_fpn")
    p.add_argument("--name", default="instance", help="output name: results/NAME.*")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = WorldConfig(size=(args.size, args.size))
    train = [render_scene(cfg, s) for s in range(args.train)]
    val = [render_scene(cfg, VAL_SEED + s) for s in range(args.val)]
    rows, preds, pq = {}, {}, {}
    only = args.only.split(",")

    def save() -> None:
        write_json(RESULTS / f"{args.name}.json", {"config": vars(args), "results": rows,
                                               "panoptic": pq}, indent=2)
        write_text(RESULTS / f"{args.name}.md", markdown(rows, pq, args))

    for name in only:
        torch.manual_seed(0)
        print(name, flush=True)
        if name == "tv_maskrcnn_r50_fpn":
            model = tv_model(args.size)
            r = train_tv(model, train, args.tv_steps, args.batch, args.lr / 10)
            model.eval()
            m, preds[name] = evaluate(tv_predict(model), val, keypoints=False)
            steps = args.tv_steps
        else:
            seg = (keypoint_mask_rcnn_small(num_classes=K, num_keypoints=len(PERSON_KEYPOINTS),
                                            keypoint_classes=(PERSON,)) if name == "mask_rcnn"
                   else solo_small(num_classes=K))
            r = train_segmenter(seg, train, args.steps, args.batch, args.lr)
            seg.model.eval()
            m, preds[name] = evaluate(seg.predict, val, keypoints=name == "mask_rcnn")
            steps = args.steps
        rows[name] = {"steps": steps, **r, **m}
        print(name, {k: round(float(v), 4) for k, v in rows[name].items()}, flush=True)
        save()
    if "mask_rcnn" in preds:
        net = train_stuff_unet(train, args.unet_steps, 8)
        pq, maps = panoptic(net, val, preds["mask_rcnn"])
        save()
        pictures(val, preds, maps, args.name)


if __name__ == "__main__":
    main()
