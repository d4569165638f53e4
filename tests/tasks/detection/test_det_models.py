"""Detector parts and models: losses against torchvision, samplers, every model in the table."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_pool
from torchvision.ops import sigmoid_focal_loss as tv_focal

from seesall.nn.backbones import FeatureSpec
from seesall.structures import Objects, collate
from seesall.tasks.detection.coco_eval import CocoEvaluator
from seesall.tasks.detection.faster_rcnn import FasterRCNNOutput
from seesall.tasks.detection.losses import dense_classification_loss
from seesall.tasks.detection.losses import sigmoid_focal_loss as our_focal
from seesall.tasks.detection.models import DETECTORS, Detector
from seesall.tasks.detection.roi_heads import RoISampler, make_pooler
from seesall.world import THING_CLASSES, WorldConfig, render_scene


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.5, 0.0), (-1.0, 1.5), (0.9, 3.0)])
def test_focal_loss_equals_torchvision(alpha: float, gamma: float) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 7, generator=g) * 4
    targets = (torch.rand(300, 7, generator=g) < 0.1).float()
    ours = our_focal(logits, targets, alpha=alpha, gamma=gamma)
    ref = tv_focal(logits, targets, alpha=alpha, gamma=gamma, reduction="none")
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)


def test_dense_losses() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(50, 3, generator=g)
    targets = torch.zeros(50, 3)
    targets[:5, 1] = 1
    valid = torch.ones(50, dtype=torch.bool)
    valid[-3:] = False
    ce = dense_classification_loss(logits, targets, valid, kind="ce")
    ref = F.binary_cross_entropy_with_logits(logits[:-3], targets[:-3], reduction="sum")
    torch.testing.assert_close(ce, ref)
    focal = dense_classification_loss(logits, targets, valid, kind="focal")
    torch.testing.assert_close(focal, tv_focal(logits[:-3], targets[:-3], reduction="sum"))
    ohem = dense_classification_loss(logits, targets, valid, kind="ohem", neg_pos_ratio=3)
    per = F.binary_cross_entropy_with_logits(logits[:-3], targets[:-3], reduction="none").sum(1)
    expected = per[:5].sum() + per[5:].topk(16).values.sum()  # 16 = min_negatives > 3 * 5
    torch.testing.assert_close(ohem, expected)


def test_roi_pool_pooler_equals_torchvision_on_one_level() -> None:
    x = torch.randn(2, 4, 16, 16)
    pooler = make_pooler("pool", [FeatureSpec("p3", 4, 8)], output_size=5)
    boxes = [torch.tensor([[8.0, 8, 64, 80]]), torch.tensor([[0.0, 0, 30, 20], [40, 40, 120, 90]])]
    out = pooler({"p3": x}, boxes, [(128, 128)] * 2)
    rois = torch.tensor([[0, 8.0, 8, 64, 80], [1, 0, 0, 30, 20], [1, 40, 40, 120, 90]])
    torch.testing.assert_close(out, roi_pool(x, rois, 5, 1 / 8))


def _objects(boxes: list[list[float]], labels: list[int], size: tuple[int, int]) -> Objects:
    from torchvision import tv_tensors

    return Objects(labels=torch.tensor(labels), boxes=tv_tensors.BoundingBoxes(
        torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), format="XYXY", canvas_size=size))


def test_roi_sampler_ratio_and_hard_negatives() -> None:
    g = torch.Generator().manual_seed(0)
    gt = _objects([[10, 10, 50, 50], [60, 60, 100, 110]], [2, 5], (128, 128))
    xy = torch.rand(2000, 2, generator=g) * 100
    props = torch.cat([xy, xy + torch.rand(2000, 2, generator=g) * 40 + 5], dim=1)
    props[:300] = gt.boxes[0] + torch.randn(300, 4, generator=g)  # many positives
    hard = torch.tensor([[0.0, 100, 20, 120], [100.0, 0, 120, 20]])
    rois, labels, matched = RoISampler(batch_size=64, positive_fraction=0.25)(
        [props], [gt], [hard])
    assert 64 <= len(rois[0]) <= 64 + 2  # hard negatives may exceed the batch
    assert int((labels[0] > 0).sum()) == 16  # 1/4 of 64
    assert set(labels[0][labels[0] > 0].tolist()) <= {3, 6}  # class c -> c + 1
    for h in hard:  # both hard negatives are among the background RoIs
        assert ((rois[0] == h).all(dim=1) & (labels[0] == 0)).any()
    assert matched[0].shape == rois[0].shape


def _scenes(n: int = 2, size: int = 64) -> list:
    cfg = WorldConfig(size=(size, size), num_objects=(2, 3))
    return [render_scene(cfg, s).replace(image_id=s + 1) for s in range(n)]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_every_model_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    scenes = _scenes(1)
    batch = collate(scenes)
    det: Detector = DETECTORS[name](num_classes=len(THING_CLASSES))
    det.model.train()
    losses = det.losses(batch.images, [s.objects for s in scenes])
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in det.model.parameters() if p.requires_grad]
    assert sum(g is not None and bool(g.abs().sum() > 0) for g in grads) > len(grads) // 2
    out_train = det.model(batch.images)
    det.model.eval()
    with torch.no_grad():
        out_eval = det.model(batch.images)
    assert type(out_train) is type(out_eval)  # same type in train and eval
    preds = det.predict(batch.images, batch.image_sizes)
    assert len(preds) == 1 and preds[0].scores is not None
    assert preds[0].canvas_size == scenes[0].size


def _overfit(name: str, steps: int, size: int, lr: float) -> float:
    torch.manual_seed(0)
    scenes = _scenes(2, size)
    batch = collate(scenes)
    det = DETECTORS[name](num_classes=len(THING_CLASSES))
    opt = torch.optim.AdamW(det.model.parameters(), lr=lr, weight_decay=1e-4)
    ap50 = 0.0
    for step in range(1, steps + 1):
        det.model.train()
        loss = sum(det.losses(batch.images, [s.objects for s in scenes]).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            det.model.eval()
            ev = CocoEvaluator(categories=THING_CLASSES)
            ev.update(scenes, det.predict(batch.images, batch.image_sizes))
            ap50 = ev.compute()["AP50"]
            if ap50 >= 0.9:
                return ap50
    return ap50


def test_retinanet_small_overfits_two_images() -> None:
    assert _overfit("retinanet_small", 100, 96, 1e-3) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("name", ["faster_rcnn_small", "retinanet_r18", "faster_rcnn_r18"])
def test_model_overfits_two_images(name: str) -> None:
    assert _overfit(name, 300, 96, 1e-3 if "small" in name else 3e-4) >= 0.9


def test_faster_rcnn_output_records_sampling() -> None:
    scenes = _scenes(2)
    batch = collate(scenes)
    det = DETECTORS["faster_rcnn_small"](num_classes=len(THING_CLASSES))
    out = det.model(batch.images, [s.objects for s in scenes])
    assert isinstance(out, FasterRCNNOutput) and out.roi_labels is not None
    assert out.class_logits.shape == (sum(len(r) for r in out.rois), len(THING_CLASSES) + 1)
    with pytest.raises(ValueError, match="targets"):
        det.criterion(det.model(batch.images), [s.objects for s in scenes])
