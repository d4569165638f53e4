"""Semantic models: shapes, max-unpool placement, convolutionalization, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from seesall.cli.main import main
from seesall.tasks.semantic.fcn import ResNetTrunk, convolutionalize
from seesall.tasks.semantic.losses import SemanticLossConfig, semantic_loss
from seesall.tasks.semantic.models import SEMANTIC_MODELS
from seesall.tasks.semantic.unet import UP_MODES, UNet, Up

torch.set_num_threads(1)


@pytest.mark.parametrize("name", list(SEMANTIC_MODELS))
def test_forward_backward(name: str) -> None:
    model = SEMANTIC_MODELS[name](num_classes=4, edge_head=True)
    x = torch.randn(2, 3, 32, 48)
    out = model(x)
    assert out["logits"].shape == (2, 4, 32, 48) and out["edge_logits"].shape == (2, 1, 32, 48)
    target = torch.randint(0, 4, (2, 32, 48))
    losses = semantic_loss(out, target, SemanticLossConfig(lovasz=1.0, dice=1.0, edge=1.0))
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("mode", UP_MODES)
@pytest.mark.parametrize("skips", [(True, True), (False, True), (False, False)])
def test_unet_modes_and_odd_sizes(mode: str, skips: tuple[bool, bool]) -> None:
    model = UNet(in_channels=3, num_classes=3, widths=(4, 8, 8), up_mode=mode, skips=skips)
    assert model(torch.randn(1, 3, 13, 10))["logits"].shape == (1, 3, 13, 10)


def test_max_unpool_puts_values_at_the_pooled_indices() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 8)
    pooled, idx = torch.nn.MaxPool2d(2, return_indices=True)(x)
    up = Up(in_channels=2, out_channels=2, mode="maxunpool")
    with torch.no_grad():
        up.proj.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        up.proj.bias.zero_()
    y = up(pooled, idx, x.shape[-2:])
    # independent check: in every 2×2 window the maximum of x keeps its value and place
    for c in range(2):
        for i in range(0, 6, 2):
            for j in range(0, 8, 2):
                win, out = x[0, c, i:i + 2, j:j + 2], y[0, c, i:i + 2, j:j + 2]
                k = int(win.argmax())
                assert out.flatten()[k] == win.flatten()[k]
                assert (out.flatten().ne(0).sum()) == 1
    assert torch.equal(y.flatten(2).gather(2, idx.flatten(2)), pooled.flatten(2))


def test_convolutionalized_classifier_equals_the_classifier() -> None:
    torch.manual_seed(0)
    clf = torchvision.models.resnet18(weights=None, num_classes=5).eval()
    x = torch.randn(1, 3, 64, 96)
    trunk = ResNetTrunk(clf).eval()
    dense = convolutionalize(clf.fc)(trunk(x)["c5"])  # (1, 5, 2, 3): the classifier per cell
    assert dense.shape == (1, 5, 2, 3)
    with torch.no_grad():
        torch.testing.assert_close(dense.mean(dim=(2, 3)), clf(x), rtol=1e-5, atol=1e-5)


def _write(path: Path, arr: np.ndarray) -> None:
    Image.fromarray(arr.astype(np.uint8), mode="L").save(path)


def test_eval_cli(tmp_path: Path) -> None:
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 1
    gt[0, 0] = 255
    pred = np.zeros((8, 8), np.uint8)
    pred[2:6, 3:7] = 1
    _write(tmp_path / "gt" / "a.png", gt)
    _write(tmp_path / "pred" / "a.png", pred)
    out = tmp_path / "m.json"
    rc = main(["eval", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
               str(tmp_path / "pred"), "--num-classes", "3", "--out", str(out)])
    assert rc == 0
    m = json.loads(out.read_text())
    assert set(m) >= {"mIoU", "pixel_accuracy", "iou_per_class", "boundary_iou"}
    assert m["iou_per_class"][1] == pytest.approx(12 / 20) and m["iou_per_class"][2] is None
    (tmp_path / "pred" / "a.png").unlink()
    assert main(["eval", "semantic", "--gt", str(tmp_path / "gt"), "--pred",
                 str(tmp_path / "pred"), "--num-classes", "3"]) == 2
