"""Bootstrapping (Sung & Poggio 1994): mine false positives on unseen images, retrain.

Round 0 trains on the training images, where the background RoIs the box head
sees are a random sample (``RoISampler``). Each later round first runs the
detector on images it has never seen, keeps its confident detections that
overlap no ground-truth box (IoU < 0.5) as *hard negatives*, adds those images
to the training set, and trains further with the hard negatives always among
the background RoIs. Every round logs its false-positive count and test AP.

Hard negatives enter through ``FasterRCNN.forward(..., hard_negatives=...)``, so
bootstrapping needs a two-stage detector. The small fixed-step loop ``fit`` is
also what the detection benchmark uses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from seesall.ops.boxes import box_iou
from seesall.structures import Objects, collate
from seesall.tasks.detection.coco_eval import CocoEvaluator
from seesall.tasks.detection.models import Detector

if TYPE_CHECKING:
    from seesall.engine.config import RunConfig


@dataclass
class RoundLog:
    """One bootstrapping round: false positives found on its unseen images, test AP."""

    round: int
    train_images: int
    hard_negatives: int
    false_positives: int
    mined_images: int
    AP: float
    AP50: float
    steps: int
    seconds: float


def _loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=g,
                      collate_fn=lambda s: collate(s, size_divisible=32))


def fit(detector: Detector, dataset: Dataset, *, steps: int, batch_size: int, lr: float,
        seed: int = 0, hard: dict[int, Tensor] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        cpu_budget: float | None = None) -> tuple[float, int]:
    """Train with AdamW, linear warm-up and cosine decay; returns (training images/s, steps).

    Training stops after ``steps`` steps or, with ``cpu_budget``, once this process has
    used that many seconds of CPU time (fair on a shared machine, where wall-clock time
    depends on other jobs); the cosine follows whichever of the two runs out first.
    """
    opt = optimizer or torch.optim.AdamW(detector.model.parameters(), lr=lr, weight_decay=1e-4)
    warm, cpu0 = max(1, min(steps // 20, 100)), time.process_time()

    def progress(step: int) -> float:
        used = (time.process_time() - cpu0) / cpu_budget if cpu_budget else 0.0
        return min(1.0, max(step / steps, used))

    detector.model.train()
    done, images, start, epoch = 0, 0, time.perf_counter(), 0
    while progress(done) < 1.0:
        for batch in _loader(dataset, batch_size, True, seed + epoch):
            for group in opt.param_groups:
                group["lr"] = lr * min(1.0, (done + 1) / warm) * 0.5 * (
                    1 + math.cos(math.pi * progress(done)))
            targets = [s.objects for s in batch.scenes]
            negs = ([hard.get(s.image_id, torch.zeros(0, 4)) for s in batch.scenes]
                    if hard else None)
            loss = sum(detector.losses(batch.images, targets, negs).values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(detector.model.parameters(), 10.0)
            opt.step()
            done, images = done + 1, images + len(batch)
            if progress(done) >= 1.0:
                break
        epoch += 1
    return images / (time.perf_counter() - start), done


@torch.no_grad()
def predict_dataset(detector: Detector, dataset: Dataset,
                    batch_size: int = 8) -> tuple[list, list[Objects]]:
    """(scenes, predictions) over a whole dataset, in eval mode."""
    detector.model.eval()
    scenes, preds = [], []
    for batch in _loader(dataset, batch_size, False, 0):
        scenes += batch.scenes
        preds += detector.predict(batch.images, batch.image_sizes)
    return scenes, preds


def coco_ap(scenes: Sequence, preds: Sequence[Objects], names: Sequence[str]) -> dict[str, Any]:
    ev = CocoEvaluator(categories=names)
    ev.update(scenes, preds)
    return ev.compute()


def false_positives(pred: Objects, gt: Objects, *, score_thresh: float,
                    iou_thresh: float = 0.5) -> Tensor:
    """Confident detections overlapping no ground-truth box: Tensor[M, 4] xyxy."""
    keep = pred.scores >= score_thresh
    boxes = pred.boxes.as_subclass(Tensor)[keep]
    if len(gt) == 0 or len(boxes) == 0:
        return boxes
    iou = box_iou(boxes, gt.boxes.as_subclass(Tensor))  # (M, G)
    return boxes[iou.max(dim=1).values < iou_thresh]


def bootstrap(detector: Detector, *, train_set: Dataset, pools: Sequence[Dataset],
              test_set: Dataset | None, names: Sequence[str], steps: int, batch_size: int,
              lr: float, score_thresh: float = 0.3, seed: int = 0,
              cpu_budget: float | None = None
              ) -> tuple[list[RoundLog], Dataset, dict[int, Tensor]]:
    """Rounds 0..len(pools): train ``steps`` (or ``cpu_budget`` CPU seconds) each, then
    mine FPs on the next unseen pool.

    Returns the per-round logs, the final training set and the hard negatives per image id.
    """
    if not detector.two_stage:
        raise ValueError("bootstrapping adds hard-negative RoIs and needs a Faster R-CNN model")
    hard: dict[int, Tensor] = {}
    data, logs = train_set, []
    opt = torch.optim.AdamW(detector.model.parameters(), lr=lr, weight_decay=1e-4)
    for r in range(len(pools) + 1):
        t0 = time.perf_counter()
        _, done = fit(detector, data, steps=steps, batch_size=batch_size, lr=lr,
                      seed=seed + 1000 * r, hard=hard, optimizer=opt, cpu_budget=cpu_budget)
        ap = coco_ap(*predict_dataset(detector, test_set), names) if test_set else {}
        fp_count = mined = 0
        if r < len(pools):
            scenes, preds = predict_dataset(detector, pools[r])
            for s, p in zip(scenes, preds, strict=True):
                fps = false_positives(p, s.objects, score_thresh=score_thresh)
                fp_count += len(fps)
                if len(fps):
                    hard[int(s.image_id)] = fps
            mined = len(scenes)
            data = ConcatDataset([data, pools[r]])
        logs.append(RoundLog(r, len(data), sum(len(v) for v in hard.values()), fp_count, mined,
                             float(ap.get("AP", math.nan)), float(ap.get("AP50", math.nan)),
                             done, time.perf_counter() - t0))
        print("bootstrap", asdict(logs[-1]), flush=True)
    return logs, data, hard


def bootstrap_for_run(module: Any, cfg: RunConfig, t: Any, train_set: Dataset,
                      val_set: Dataset | None, names: list[str]
                      ) -> tuple[Dataset, dict[int, Tensor]]:
    """``seesall train detection --bootstrap-rounds R``: R mining rounds before the engine.

    Each mining round trains ``trainer.max_steps // (R + 1)`` steps; the engine then
    trains the final round on the returned training set (``train_set`` plus the mined
    pools of ``task.bootstrap_pool`` unseen world scenes each) with the returned hard
    negatives (image id -> Tensor[M, 4]). Per-round logs go to ``OUT/bootstrap.json``.
    """
    from pathlib import Path

    from seesall.io.atomic import write_json
    from seesall.world.dataset import WorldDataset

    if not isinstance(train_set, WorldDataset):
        raise ValueError("--bootstrap-rounds needs --data world (unseen scenes to mine)")
    from seesall.tasks.detection.recipe import MINING_SEED_OFFSET

    pools = [WorldDataset("scene", t.bootstrap_pool, train_set.cfg,
                          seed=t.world_seed + MINING_SEED_OFFSET + r * t.bootstrap_pool)
             for r in range(t.bootstrap_rounds)]
    logs, data, hard = bootstrap(
        module.detector, train_set=train_set, pools=pools, test_set=val_set, names=names,
        steps=max(1, cfg.trainer.max_steps // (t.bootstrap_rounds + 1)),
        batch_size=cfg.data.batch_size, lr=cfg.optim.lr, seed=cfg.trainer.seed)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    write_json(Path(cfg.out) / "bootstrap.json", [asdict(x) for x in logs], indent=2)
    return data, hard
