"""Mask R-CNN pieces: pasting, RoI mask targets, the model's forward/backward/predict."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors

from seesall.structures import Objects
from seesall.tasks.instance.mask_head import mask_loss, mask_targets, paste_masks
from seesall.tasks.instance.models import INSTANCE_MODELS

torch.set_num_threads(1)


def test_paste_reproduces_a_mask_in_a_box_of_its_own_size() -> None:
    g = torch.Generator().manual_seed(0)
    m = (torch.rand(2, 28, 28, generator=g) > 0.5).float()
    boxes = torch.tensor([[5.0, 7.0, 33.0, 35.0], [0.0, 0.0, 28.0, 28.0]])
    out = paste_masks(m, boxes, (40, 50))
    assert out.dtype == torch.bool and out.shape == (2, 40, 50)
    assert torch.equal(out[0, 7:35, 5:33], m[0].bool()) and out[0].sum() == m[0].sum()
    assert torch.equal(out[1, :28, :28], m[1].bool()) and out[1].sum() == m[1].sum()


def test_paste_of_a_full_mask_fills_exactly_the_box() -> None:
    out = paste_masks(torch.ones(1, 28, 28), torch.tensor([[10.0, 20.0, 30.0, 41.0]]), (64, 64))
    expected = torch.zeros(64, 64, dtype=torch.bool)
    expected[20:41, 10:30] = True
    assert torch.equal(out[0], expected)


def test_mask_targets_crop_the_ground_truth_to_the_roi() -> None:
    gt = torch.zeros(1, 64, 64, dtype=torch.bool)
    gt[0, 16:48, 16:32] = True  # left half of the RoI below
    t = mask_targets(gt, torch.tensor([[16.0, 16.0, 48.0, 48.0]]), 28)
    assert t.shape == (1, 28, 28)
    assert t[0, :, :14].eq(1).all() and t[0, :, 14:].eq(0).all()


def test_mask_loss_uses_the_class_channel_only() -> None:
    logits = torch.zeros(2, 3, 4, 4)
    logits[0, 1] = 10.0  # right class, right target -> ~0 loss
    logits[1, 2] = -10.0
    loss = mask_loss(logits, torch.tensor([1, 2]), torch.stack([torch.ones(4, 4),
                                                                torch.zeros(4, 4)]))
    assert loss.item() == pytest.approx(0.0, abs=1e-4)


def _scene_objects(size: int = 64) -> list[Objects]:
    masks = torch.zeros(2, size, size, dtype=torch.bool)
    masks[0, 8:30, 8:28] = True
    masks[1, 30:60, 34:60] = True
    kp = torch.tensor([[[10.0, 10.0], [20.0, 25.0]], [[40.0, 35.0], [50.0, 55.0]]])
    return [Objects(labels=torch.tensor([0, 1]),
                    boxes=tv_tensors.BoundingBoxes(torch.tensor([[8.0, 8, 28, 30],
                                                                 [34, 30, 60, 60]]),
                                                   format="XYXY", canvas_size=(size, size)),
                    masks=tv_tensors.Mask(masks),
                    keypoints=tv_tensors.KeyPoints(kp, canvas_size=(size, size)),
                    visibility=torch.tensor([[2, 2], [0, 0]], dtype=torch.uint8),
                    ids=torch.tensor([1, 2]))]


@pytest.mark.parametrize("name", ["mask_rcnn_small", "solo_tiny"])
def test_forward_backward_predict(name: str) -> None:
    seg = INSTANCE_MODELS[name](num_classes=2)
    images = torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8)
    losses = seg.losses(images, _scene_objects())
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    seg.model.eval()
    preds = seg.predict(images, [(64, 60)])
    assert preds[0].canvas_size == (64, 60) and preds[0].masks is not None



def test_mask_rcnn_small_passes_detector_options() -> None:
    """``roi_batch_size`` reaches the detector's RoI sampler, which picks the mask head's RoIs."""
    seg = INSTANCE_MODELS["mask_rcnn_small"](num_classes=2, roi_batch_size=32)
    assert seg.model.detector.roi_sampler.batch_size == 32
    assert INSTANCE_MODELS["mask_rcnn_small"](num_classes=2).model.detector.roi_sampler \
        .batch_size == 128
