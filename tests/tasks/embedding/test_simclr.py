"""Augmentations against torchvision / OpenCV, models, SimCLR step, probes, data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from seesall.tasks.embedding import batch_augment as BA
from seesall.tasks.embedding.augment import AugmentConfig, apply_batch, build_view_transform
from seesall.tasks.embedding.data import ImageSet, crop_objects, load_digits_images
from seesall.tasks.embedding.models import ENCODERS, Classifier, embedding_net
from seesall.tasks.embedding.probe import knn_accuracy, linear_probe
from seesall.tasks.embedding.simclr import SimCLRLoss, simclr_net
from seesall.tasks.embedding.train import class_balanced_batches, train_steps


def _imgs(b: int = 4, s: int = 16) -> torch.Tensor:
    return torch.rand(b, 3, s, s, generator=torch.Generator().manual_seed(0))


def test_photometric_kernels_match_torchvision() -> None:
    x = _imgs()
    f = torch.tensor([0.5, 0.9, 1.2, 1.6])
    for ours, ref in [(BA.adjust_brightness, TF.adjust_brightness),
                      (BA.adjust_contrast, TF.adjust_contrast),
                      (BA.adjust_saturation, TF.adjust_saturation)]:
        got = ours(x, f)
        want = torch.stack([ref(x[i], float(f[i])) for i in range(4)])
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(BA.grayscale(x), TF.rgb_to_grayscale(x), atol=1e-6, rtol=0)


def test_blur_matches_torchvision() -> None:
    x = _imgs()
    sigma = torch.tensor([0.3, 0.8, 1.2, 2.0])
    got = BA.gaussian_blur(x, sigma, 5)
    want = torch.stack([TF.gaussian_blur(x[i], [5, 5], [float(sigma[i])] * 2) for i in range(4)])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_sobel_matches_opencv() -> None:
    x = _imgs(1)
    grey = x[0].mean(dim=0).numpy().astype(np.float64)
    gx = cv2.Sobel(grey, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(grey, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    want = np.clip(np.hypot(gx, gy) / (4 * 2**0.5), 0, 1)
    np.testing.assert_allclose(BA.sobel_magnitude(x)[0, 0].numpy(), want, atol=1e-5)


def test_hue_rotation_keeps_grey_and_full_turn() -> None:
    x = _imgs()
    grey = BA.grayscale(x).expand_as(x).contiguous()
    torch.testing.assert_close(BA.rotate_hue(grey, torch.full((4,), 0.3)), grey, atol=1e-4,
                               rtol=0)
    mid = x * 0.5 + 0.25  # stay inside [0, 1] so no clamping
    torch.testing.assert_close(BA.rotate_hue(mid, torch.ones(4)), mid, atol=1e-5, rtol=0)


def test_geometry_identity_when_everything_off() -> None:
    cfg = AugmentConfig(size=16, crop_scale=None, flip=False, jitter=0, grayscale_p=0, blur_p=0)
    x = (_imgs() * 255).to(torch.uint8)
    torch.testing.assert_close(BA.BatchAugment(cfg)(x), x.float() / 255, atol=1e-5, rtol=0)
    flip = AugmentConfig(size=16, crop_scale=None, flip=True, jitter=0, grayscale_p=0, blur_p=0)
    out = BA.BatchAugment(flip, generator=torch.Generator().manual_seed(0))(
        x.repeat(16, 1, 1, 1))
    flipped = [torch.allclose(o, x[i % 4].float().flip(-1) / 255, atol=1e-5)
               for i, o in enumerate(out)]
    assert 0 < sum(flipped) < 64


@pytest.mark.parametrize("op", ["rotation", "cutout_p", "noise_std", "sobel_p", "grayscale_p"])
def test_every_op_switches(op: str) -> None:
    base = dict(size=16, crop_scale=None, flip=False, jitter=0.0, grayscale_p=0.0, blur_p=0.0)
    value = {"rotation": 30.0, "cutout_p": 1.0, "noise_std": 0.1, "sobel_p": 1.0,
             "grayscale_p": 1.0}[op]
    x = (_imgs() * 255).to(torch.uint8)
    off = BA.BatchAugment(AugmentConfig(**base))(x)
    on = BA.BatchAugment(AugmentConfig(**{**base, op: value}))(x)
    assert on.shape == (4, 3, 16, 16) and not torch.allclose(on, off)
    v2_view = apply_batch(build_view_transform(AugmentConfig(**{**base, op: value})), x)
    assert v2_view.shape == on.shape and v2_view.dtype == torch.float32


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="crop_scale"):
        AugmentConfig(crop_scale=(0.5, 1.5))
    with pytest.raises(ValueError, match="blur_p"):
        AugmentConfig(blur_p=2.0)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_encoders_forward(name: str) -> None:
    net = embedding_net(name, dim=16)
    out = net(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 16)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))


def test_simclr_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    images = (torch.rand(8, 3, 8, 8) * 255).to(torch.uint8)
    model = simclr_net("convnet_digits", proj_dim=16, hidden_dim=32)
    loss = SimCLRLoss(augment=AugmentConfig(size=8, crop_scale=(0.8, 1.0), blur_p=0.0),
                      temperature=0.5)
    first = float(loss(model, images)["loss_nt_xent"].detach())
    out = train_steps(model, loss, iter(lambda: images, None), steps=40, lr=3e-3)
    assert out["loss_nt_xent"] < first - 0.5


def test_probes_on_separable_features() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    x = torch.nn.functional.one_hot(y, 3).float() * 3 + 0.3 * torch.randn(60, 3, generator=g)
    assert linear_probe(x[:40], y[:40], x[40:], y[40:]) == 1.0
    assert knn_accuracy(x[:40], y[:40], x[40:], y[40:], k=3) == 1.0


def test_digits_and_balanced_batches() -> None:
    digits = load_digits_images()
    assert digits.images.shape == (1797, 3, 8, 8) and digits.images.dtype == torch.uint8
    train, test = digits.split(0.25)
    assert len(train) + len(test) == 1797 and set(test.labels.tolist()) == set(range(10))
    batch = next(class_balanced_batches(train, classes_per_batch=4, per_class=3))
    assert len(batch) == 12 and len(batch.labels.unique()) == 4
    with pytest.raises(ValueError, match="labels"):
        ImageSet(digits.images[:3], digits.labels[:2], ())


def test_crop_objects_square_context() -> None:
    img = torch.zeros(3, 40, 40, dtype=torch.uint8)
    img[:, 10:20, 10:30] = 200
    crop = crop_objects(img, torch.tensor([[10.0, 10, 30, 20]]), size=16, context=0.0)
    assert crop.shape == (1, 3, 16, 16)
    # the box is 20 wide, 10 tall: the square crop holds it in its middle half rows
    assert crop[0, 0, 8, 8] == 200 and crop[0, 0, 1, 8] == 0


def test_classifier_shapes() -> None:
    c = Classifier(encoder=ENCODERS["convnet_digits"](), num_classes=10)
    assert c(torch.rand(2, 3, 8, 8)).shape == (2, 10)
