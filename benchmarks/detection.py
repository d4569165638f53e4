"""Detection benchmark: our Faster R-CNN / RetinaNet vs torchvision's, plus ablations.

One run, one synthetic train/test split, the same step budget and optimiser
(AdamW, warm-up + cosine, batch size, gradient clipping) for every model:

* ours: ``faster_rcnn_small`` (RoIAlign), ``retinanet_small`` (focal loss);
* peers: torchvision ``fasterrcnn_mobilenet_v3_large_320_fpn`` and
  ``retinanet_resnet50_fpn_v2`` (weights=None, weights_backbone=None), resized to
  the same input size;
* ablations: RetinaNet with plain cross-entropy and with OHEM; Faster R-CNN with
  RoIPool; bootstrapping rounds 0, 1, 2 (one run, its budget split over the rounds, the
  test AP and the false positives mined logged after every round).

Measured: COCO AP/AP50 on the held-out scenes (pycocotools-exact), training
images/s, and inference ms/image (median, batch 1, ``--latency-size`` square
input, ``--threads`` threads). Writes ``benchmarks/results/detection.{json,md}``
after every run (so partial results survive) and a picture of the best model's
predictions on held-out scenes.

    python benchmarks/detection.py                      # full budget
    python benchmarks/detection.py --steps 60 --test-size 100 --only ours_retinanet
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from seesall.io.atomic import write_json, write_text
from seesall.structures import Objects, collate
from seesall.tasks.detection.bootstrap import bootstrap, coco_ap, fit, predict_dataset
from seesall.tasks.detection.common import detections_to_objects
from seesall.tasks.detection.models import DETECTORS, Detector
from seesall.viz.draw import draw_objects
from seesall.viz.layout import grid, save_png, titled
from seesall.world import THING_CLASSES, WorldConfig
from seesall.world.dataset import WorldDataset

RESULTS = Path(__file__).parent / "results"
TEST_SEED, POOL_SEED = 1_000_000, 2_000_000


class TorchvisionDetector:
    """A torchvision detection model behind the ``Detector`` interface (labels shifted by 1)."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.two_stage = model, False

    @staticmethod
    def _images(images: Tensor) -> list[Tensor]:
        return [im.float() / 255.0 for im in images]

    def losses(self, images: Tensor, targets: list[Objects], hard: Any = None) -> dict[str, Tensor]:
        tv_targets = [{"boxes": t.boxes.as_subclass(Tensor), "labels": t.labels + 1}
                      for t in targets]
        return self.model(self._images(images), tv_targets)

    @torch.no_grad()
    def predict(self, images: Tensor, image_sizes: list[tuple[int, int]]) -> list[Objects]:
        out = self.model(self._images(images))
        return [detections_to_objects(o["boxes"], o["scores"], o["labels"] - 1, size, 1.0, 100)
                for o, size in zip(out, image_sizes, strict=True)]


def torchvision_model(name: str, size: int) -> TorchvisionDetector:
    from torchvision.models import detection as tvd

    kw = {"weights": None, "weights_backbone": None, "num_classes": len(THING_CLASSES) + 1,
          "min_size": size, "max_size": size}
    return TorchvisionDetector(getattr(tvd, name)(**kw))


def ours(name: str, **kw: Any) -> Callable[[int], Detector]:
    return lambda size: DETECTORS[name](num_classes=len(THING_CLASSES), **kw)


RUNS: dict[str, tuple[Callable[[int], Any], int, bool]] = {
    # name: (builder(size), bootstrapping rounds, whether those rounds mine false positives)
    "ours_faster_rcnn_small": (ours("faster_rcnn_small"), 0, False),
    "ours_retinanet_small": (ours("retinanet_small"), 0, False),
    "tv_fasterrcnn_mobilenet_v3_large_320_fpn": (
        lambda s: torchvision_model("fasterrcnn_mobilenet_v3_large_320_fpn", s), 0, False),
    "tv_retinanet_resnet50_fpn_v2": (lambda s: torchvision_model("retinanet_resnet50_fpn_v2", s), 0, False),
    "ablation_retinanet_ce": (ours("retinanet_small", cls_loss="ce"), 0, False),
    "ablation_retinanet_ohem": (ours("retinanet_small", cls_loss="ohem"), 0, False),
    "ablation_faster_rcnn_roipool": (ours("faster_rcnn_small", roi_pooler="pool"), 0, False),
    "ablation_bootstrap_2": (ours("faster_rcnn_small"), 2, True),
    # the control: the same rounds and added images, no hard negatives
    "ablation_bootstrap_2_no_mining": (ours("faster_rcnn_small"), 2, False),
}


@torch.no_grad()
def latency_ms(det: Any, size: int, runs: int) -> float:
    """Median ms per image, batch 1, on world scenes of ``size`` x ``size``."""
    det.model.eval()
    transform = getattr(det.model, "transform", None)  # torchvision resizes inside the model
    if transform is not None:
        transform.min_size, transform.max_size = (size,), size
    data = WorldDataset("scene", runs + 3, WorldConfig(size=(size, size)), seed=TEST_SEED)
    times = []
    for i in range(runs + 3):
        batch = collate([data[i]], size_divisible=32)
        t = time.perf_counter()
        det.predict(batch.images, batch.image_sizes)
        if i >= 3:  # warm-up
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run_one(name: str, args: argparse.Namespace, train: Dataset, test: Dataset,
            world: WorldConfig) -> tuple[dict[str, Any], Any]:
    build, rounds, mines = RUNS[name]
    torch.manual_seed(args.seed)
    det = build(args.image_size)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"model": name, "budget": args.budget}
    if rounds:
        pools = [WorldDataset("scene", args.pool_size, world, seed=POOL_SEED + r * args.pool_size)
                 for r in range(rounds)]
        logs, _, _ = bootstrap(det, train_set=train, pools=pools, test_set=test,
                               names=THING_CLASSES, steps=args.steps, batch_size=args.batch_size,
                               lr=args.lr, seed=args.seed, cpu_budget=args.budget / (rounds + 1),
                               score_thresh=args.mine_score if mines else math.inf)
        row["rounds"] = [vars(x) for x in logs]
        row["mine_score"] = args.mine_score if mines else None
        row["train_img_per_s"], row["steps"] = float("nan"), sum(x.steps for x in logs)
    else:
        row["train_img_per_s"], row["steps"] = fit(
            det, train, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
            seed=args.seed, cpu_budget=args.budget)
    row["train_seconds"] = time.perf_counter() - t0  # bootstrapping: with mining and test AP
    scenes, preds = predict_dataset(det, test, batch_size=8)
    m = coco_ap(scenes, preds, THING_CLASSES)
    row.update(AP=m["AP"], AP50=m["AP50"], AP75=m["AP75"], APs=m["APs"], APm=m["APm"])
    torch.set_num_threads(args.threads)
    row["infer_ms"] = latency_ms(det, args.latency_size, args.latency_runs)
    torch.set_num_threads(args.train_threads)
    return row, (det, scenes, preds)


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    head = (f"Detection benchmark: training budgets in CPU seconds of one thread (batch {args.batch_size}, "
            f"{args.image_size}px world scenes from a pool of {args.train_size}); COCO AP on "
            f"{args.test_size} held-out scenes; inference batch 1 at {args.latency_size}px, {args.threads} "
            "threads, measured right after each training (compare speed in detection_latency.json, "
            "interleaved).\n\n"
            "| model | budget CPU s | AP | AP50 | AP75 | APs | APm | steps | train img/s | infer ms |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    lines = [f"| {r['model']} | {r.get('budget', args.budget):.0f} | {r['AP']:.3f} | {r['AP50']:.3f} | "
             f"{r['AP75']:.3f} | {r['APs']:.3f} | {r['APm']:.3f} | {r.get('steps', 0)} | "
             f"{r['train_img_per_s']:.2f} | {r['infer_ms']:.1f} |" for r in rows]
    boot = [f"| {r['model']} | {r.get('mine_score') or 'none'} | {x['round']} | {x['steps']} | "
            f"{x['false_positives']} | {x['mined_images']} | {x['hard_negatives']} | {x['AP']:.3f} | "
            f"{x['AP50']:.3f} |" for r in rows if "rounds" in r for x in r["rounds"]]
    table = ("\n\nBootstrapping: each round trains the run's budget / 3, then mines false positives "
             "(detections scored >= the mining score that overlap no ground-truth box by IoU 0.5) on 200 "
             "unseen scenes, which join the training set with their false positives as hard negatives; "
             "the control adds the same scenes and mines nothing. Test AP after every round:\n\n"
             "| run | mining score | round | steps | false positives | mined images | hard negatives kept "
             "| test AP | test AP50 |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(boot)
             if boot else "")
    return head + "\n".join(lines) + table + "\n"


def picture(det_scenes_preds: tuple[Any, list, list[Objects]], name: str, path: Path,
            score: float = 0.3) -> None:
    """Ground truth next to predictions (score >= ``score``) on 6 held-out scenes, enlarged 3x."""
    _, scenes, preds = det_scenes_preds
    panels = []
    for s, p in zip(scenes[:6], preds[:6], strict=False):
        panels.append(titled(draw_objects(s.image, s.objects, THING_CLASSES, scale=3), "ground truth"))
        panels.append(titled(draw_objects(s.image, p, THING_CLASSES, score_threshold=score, scale=3),
                             f"{name}, score >= {score}"))
    save_png(grid(panels, ncols=4), path)


def picture_from_run(checkpoint: str, args: argparse.Namespace) -> None:
    """The picture, from a ``seesall train detection`` run, on this benchmark's held-out scenes."""
    from seesall.engine.run import load_trained_model
    from seesall.tasks.detection import recipe

    module, _, meta = load_trained_model(checkpoint, recipe)
    world = WorldConfig(size=(args.image_size, args.image_size))
    test = WorldDataset("scene", 6, world, seed=TEST_SEED)
    scenes, preds = predict_dataset(module.detector, test, batch_size=6)
    m = coco_ap(*predict_dataset(module.detector, WorldDataset("scene", args.test_size, world,
                                                               seed=TEST_SEED)), THING_CLASSES)
    print(json.dumps({"checkpoint": checkpoint, "AP": m["AP"], "AP50": m["AP50"]}), flush=True)
    picture((None, scenes, preds), f"{meta['model']} (AP {m['AP']:.3f})", Path(args.out + "_predictions.png"))


def latency_table(args: argparse.Namespace) -> None:
    """Median ms/image of untrained models, measured in interleaved rounds (fair under a
    shared CPU whose load changes); writes ``OUT_latency.json``."""
    torch.set_num_threads(args.threads)
    models = {name: RUNS[name][0](args.latency_size) for name in args.only}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(5):
        for name, det in models.items():
            times[name].append(latency_ms(det, args.latency_size, args.latency_runs))
    out = {name: statistics.median(t) for name, t in times.items()}
    print(json.dumps(out), flush=True)
    write_json(args.out + "_latency.json", {"args": vars(args), "median_ms": out}, indent=2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=900.0,
                   help="training CPU seconds per model (bootstrapping: split over its rounds)")
    p.add_argument("--steps", type=int, default=100_000, help="step cap (cosine length without budget)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--image-size", type=int, default=320)
    p.add_argument("--train-size", type=int, default=2000)
    p.add_argument("--test-size", type=int, default=500)
    p.add_argument("--pool-size", type=int, default=200, help="unseen images per bootstrap round")
    p.add_argument("--mine-score", type=float, default=0.3,
                   help="bootstrapping: detections at least this confident that overlap no "
                        "ground truth are mined as false positives")
    p.add_argument("--latency-size", type=int, default=320)
    p.add_argument("--latency-runs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train-threads", type=int, default=1, help="threads while training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", nargs="*", default=list(RUNS), choices=list(RUNS))
    p.add_argument("--out", default=str(RESULTS / "detection"))
    p.add_argument("--latency-only", action="store_true",
                   help="only time the untrained models of --only, interleaved, 5 rounds")
    p.add_argument("--picture-from", default=None, metavar="RUN",
                   help="only draw the prediction picture of a `seesall train detection` run")
    p.add_argument("--merge", nargs="*", default=None, metavar="JSON",
                   help="only merge the rows of earlier partial runs into --out")
    args = p.parse_args()
    if args.merge:
        rows = [r for f in args.merge for r in json.loads(Path(f).read_text())["rows"]]
        first = argparse.Namespace(**json.loads(Path(args.merge[0]).read_text())["args"])
        write_json(args.out + ".json", {"args": vars(first), "rows": rows}, indent=2)
        write_text(args.out + ".md", markdown(rows, first))
        return
    if args.latency_only:
        latency_table(args)
        return
    if args.picture_from:
        picture_from_run(args.picture_from, args)
        return
    torch.set_num_threads(args.train_threads)
    world = WorldConfig(size=(args.image_size, args.image_size))
    train = WorldDataset("scene", args.train_size, world, seed=0)
    test = WorldDataset("scene", args.test_size, world, seed=TEST_SEED)
    rows, best = [], None
    for name in args.only:
        row, trained = run_one(name, args, train, test, world)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if name.startswith("ours") and (best is None or row["AP"] > best):
            best = row["AP"]
            picture(trained, name, Path(args.out + "_predictions.png"))
        write_json(args.out + ".json", {"args": vars(args), "rows": rows}, indent=2)
        write_text(args.out + ".md", markdown(rows, args))


if __name__ == "__main__":
    main()
