"""Transfer learning from local files made here from torchvision's own models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from seesall.engine.transfer import (
    freeze,
    freeze_batchnorm,
    init_from_file,
    load_backbone_weights,
    param_groups,
    replace_module,
)
from seesall.nn import mobilenet_v3_large, resnet18
from seesall.tasks.classification.model import resnet18_cls

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tv_resnet18() -> nn.Module:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():  # non-trivial BN statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


def _reference_c5(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    y = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer4(net.layer3(net.layer2(net.layer1(y))))


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_torchvision_resnet18_file_loads_into_backbone(tmp_path: Path, tv_resnet18, suffix) -> None:
    path = tmp_path / f"resnet18{suffix}"
    state = tv_resnet18.state_dict()
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    backbone = resnet18().eval()
    report = load_backbone_weights(backbone, path)
    assert report.unexpected == ["fc.bias", "fc.weight"] and not report.missing
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)["c5"], _reference_c5(tv_resnet18, x), rtol=0, atol=0)


def test_init_classifier_then_replace_head(tmp_path: Path, tv_resnet18) -> None:
    path = tmp_path / "r18.pth"
    torch.save(tv_resnet18.state_dict(), path)
    model = resnet18_cls(num_classes=8).eval()
    head_before = model.head.weight.clone()
    init_from_file(model, path)
    torch.testing.assert_close(model.head.weight, head_before)  # the head is not taken
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = _reference_c5(tv_resnet18, x).mean((2, 3))
        torch.testing.assert_close(model.backbone(x)["c5"].mean((2, 3)), ref)
    old = replace_module(model, "head", nn.Linear(512, 3))
    assert old.out_features == 8 and model(x).shape == (1, 3)


def test_torchvision_mobilenet_names_and_wrapped_prefixes(tmp_path: Path) -> None:
    ref = torchvision.models.mobilenet_v3_large(weights=None).eval()
    path = tmp_path / "mnv3.pt"
    torch.save({"model": {f"module.{k}": v for k, v in ref.state_dict().items()}}, path)
    ours = mobilenet_v3_large().eval()
    report = load_backbone_weights(ours, path)
    assert report.prefix == "module." and not report.missing
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)["c5"], ref.features(x), rtol=0, atol=0)


def test_shape_mismatch_and_no_match_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"conv1.weight": torch.zeros(8, 3, 7, 7)}, str(path))
    with pytest.raises(ValueError, match=r"conv1.weight has shape \(8, 3, 7, 7\).*\(64, 3, 7, 7\)"):
        load_backbone_weights(resnet18(), path)
    save_file({"nothing.here": torch.zeros(1)}, str(path))
    with pytest.raises(ValueError, match="no weight name matches"):
        load_backbone_weights(resnet18(), path)
    with pytest.raises(FileNotFoundError):
        load_backbone_weights(resnet18(), tmp_path / "missing.pt")


def test_freeze_by_glob_regex_and_stage() -> None:
    model = resnet18_cls(num_classes=4)
    assert set(freeze(model, ["backbone.layer1.*"])) == {
        n for n, _ in model.named_parameters() if n.startswith("backbone.layer1.")
    }
    model = resnet18_cls(num_classes=4)
    names = freeze(model, ["1"])  # stem + c2
    expected = {
        n for n, _ in model.named_parameters() if n.startswith(("backbone.conv1.", "backbone.bn1.", "backbone.layer1."))
    }
    assert set(names) == expected
    assert all(p.requires_grad == (n not in expected) for n, p in model.named_parameters())
    model = resnet18_cls(num_classes=4)
    assert freeze(model, [r"re:^head\."]) == ["head.bias", "head.weight"]
    with pytest.raises(ValueError, match="matches no parameter"):
        freeze(model, ["nope.*"])
    with pytest.raises(ValueError, match="stages 0..4"):
        freeze(model, ["7"])


def test_freeze_batchnorm_equals_eval_mode_bn() -> None:
    torch.manual_seed(0)
    model = resnet18().eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)["c5"]
    state = model.state_dict()
    assert freeze_batchnorm(model) == 20
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert any(isinstance(m, FrozenBatchNorm2d) for m in model.modules())
    model.train()  # frozen statistics even in train mode
    with torch.no_grad():
        torch.testing.assert_close(model(x)["c5"], ref, rtol=1e-5, atol=1e-5)
    model.load_state_dict(state)  # BatchNorm state dicts still load


def test_param_groups_lr_and_decay() -> None:
    model = resnet18_cls(num_classes=4)
    freeze(model, ["0"])
    groups = param_groups(model, lr=0.1, weight_decay=1e-4, backbone_lr_mult=0.1)
    by_id = {id(p): g for g in groups for p in g["params"]}
    assert by_id[id(model.head.weight)]["lr"] == 0.1
    assert by_id[id(model.backbone.layer1[0].conv1.weight)]["lr"] == pytest.approx(0.01)
    assert by_id[id(model.head.bias)]["weight_decay"] == 0.0
    assert by_id[id(model.head.weight)]["weight_decay"] == 1e-4
    assert id(model.backbone.conv1.weight) not in by_id  # frozen
