"""Backbone contract: channels/strides match feature_specs; torchvision weights load unchanged."""

from __future__ import annotations

import pytest
import torch
import torchvision
import torchvision.transforms.v2.functional as TF
from torch import nn

from seesall.nn import BACKBONES, FeatureSpec, normalize_image
from seesall.nn.backbones import STAGE_NAMES

torch.set_num_threads(1)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_feature_specs_match_outputs(name: str) -> None:
    model = BACKBONES[name]().eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        out = model(x)
    assert list(out) == [s.name for s in model.feature_specs] == list(STAGE_NAMES)
    for spec in model.feature_specs:
        assert isinstance(spec, FeatureSpec)
        f = out[spec.name]
        assert f.shape == (1, spec.channels, 64 // spec.stride, 96 // spec.stride), spec


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_out_features_selects_stages(name: str) -> None:
    full = BACKBONES[name]()
    part = BACKBONES[name](out_features=("c3", "c4"))
    assert [s.name for s in part.feature_specs] == ["c3", "c4"]
    assert [s.channels for s in part.feature_specs] == [s.channels for s in full.feature_specs[1:3]]
    out = part.eval()(torch.randn(1, 3, 64, 64))
    assert list(out) == ["c3", "c4"]
    # stages deeper than the last requested are not built
    assert sum(p.numel() for p in part.parameters()) < sum(p.numel() for p in full.parameters())


def test_unknown_stage_is_an_error() -> None:
    with pytest.raises(ValueError, match="c6"):
        BACKBONES["fastnet"](out_features=("c6",))


def test_resnet18_matches_torchvision_layers() -> None:
    torch.manual_seed(0)
    ref = torchvision.models.resnet18(weights=None).eval()
    ours = BACKBONES["resnet18"]().eval()
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith("fc.")}
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = ours(x)
        y = ref.maxpool(ref.relu(ref.bn1(ref.conv1(x))))
        for name, layer in zip(STAGE_NAMES, [ref.layer1, ref.layer2, ref.layer3, ref.layer4], strict=True):
            y = layer(y)
            torch.testing.assert_close(out[name], y, rtol=0, atol=0)


def test_mobilenet_keys_are_torchvision_keys() -> None:
    ref = torchvision.models.mobilenet_v3_large(weights=None).eval()
    ours = BACKBONES["mobilenet_v3_large"]().eval()
    state = {k: v for k, v in ref.state_dict().items() if k.startswith("features.")}
    ours.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)["c5"], ref.features(x), rtol=0, atol=0)


def test_normalize_image_matches_torchvision_normalize() -> None:
    img = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    ref = TF.normalize(img.float() / 255, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    torch.testing.assert_close(normalize_image(img), ref)
    with pytest.raises(ValueError, match="3, H, W"):
        normalize_image(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))


def test_fastnet_size_is_small() -> None:
    n = sum(p.numel() for p in BACKBONES["fastnet"]().parameters())
    assert 0.5e6 <= n <= 2e6, n
    assert isinstance(BACKBONES["fastnet"](), nn.Module)


def test_weights_argument_loads_a_local_torchvision_file(tmp_path) -> None:
    ref = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    ours = BACKBONES["resnet18"](weights=path, out_features=("c5",)).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        y = ref.maxpool(ref.relu(ref.bn1(ref.conv1(x))))
        y = ref.layer4(ref.layer3(ref.layer2(ref.layer1(y))))
        torch.testing.assert_close(ours(x)["c5"], y, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_stages_cover_every_parameter(name: str) -> None:
    model = BACKBONES[name]()
    stages = model.stages()
    assert len(stages) == 5  # stem, c2..c5
    in_stages = {id(p) for s in stages for p in s.parameters()}
    assert in_stages == {id(p) for p in model.parameters()}
