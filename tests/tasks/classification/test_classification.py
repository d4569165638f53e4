"""Classification: top-k against scikit-learn, models of the table, data, a tiny overfit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import top_k_accuracy_score

from seesall.io.image import write_image
from seesall.nn import normalize_image
from seesall.tasks.classification import (
    MODELS,
    ImageFolderDataset,
    TopKAccuracy,
    WorldCrops,
    classification_loss,
    collate_crops,
)
from seesall.world import THING_CLASSES, WorldConfig

torch.set_num_threads(1)
WORLD = WorldConfig(size=(64, 64), num_objects=(1, 3))


@pytest.mark.parametrize("k", [1, 2, 5])
def test_topk_matches_sklearn(k: int) -> None:
    g = torch.Generator().manual_seed(k)
    scores = torch.rand(50, 8, generator=g)  # distinct scores: no ties
    labels = torch.randint(0, 8, (50,), generator=g)
    ev = TopKAccuracy(ks=(k,))
    ev.update(scores[:20], (None, labels[:20]))
    other = TopKAccuracy(ks=(k,))
    other.update(scores[20:], (None, labels[20:]))
    ev.merge([ev.state(), other.state()])  # as gathered from two processes
    ref = top_k_accuracy_score(labels.numpy(), scores.numpy(), k=k, labels=np.arange(8))
    assert ev.compute()[f"top{k}"] == pytest.approx(ref, abs=1e-12)
    assert ev.compute()["count"] == 50


def test_loss_matches_hand_formula() -> None:
    logits = torch.randn(4, 5)
    labels = torch.tensor([0, 4, 2, 2])
    logp = logits.log_softmax(1)
    eps = 0.1
    ref = (-(1 - eps) * logp[torch.arange(4), labels] - eps / 5 * logp.sum(1)).mean()
    out = classification_loss(logits, labels, label_smoothing=eps)
    torch.testing.assert_close(out["total"], ref)
    with pytest.raises(ValueError, match="logits"):
        classification_loss(logits, labels[:3])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_forward(name: str) -> None:
    model = MODELS[name](num_classes=8).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 8)
    model.train()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 8)  # same type in train and eval


def test_world_crops_deterministic_and_labelled() -> None:
    a = WorldCrops(n=24, crop_size=32, seed=5, world=WORLD, cache=False)
    b = WorldCrops(n=24, crop_size=32, seed=5, world=WORLD)
    labels = set()
    for i in range(24):
        (x, y), (x2, y2) = a[i], b[i]
        assert x.dtype == torch.uint8 and x.shape == (3, 32, 32)
        assert torch.equal(x, x2) and y == y2 and 0 <= y < len(THING_CLASSES)
        labels.add(y)
    assert len(labels) >= 4
    with pytest.raises(IndexError):
        a[24]


def test_image_folder(tmp_path: Path) -> None:
    for c, name in enumerate(["cat", "dog"]):
        (tmp_path / name).mkdir()
        for i in range(2):
            write_image(tmp_path / name / f"{i}.png", torch.full((3, 10, 12), 40 * c + i, dtype=torch.uint8))
    ds = ImageFolderDataset(tmp_path, crop_size=16)
    assert ds.classes == ["cat", "dog"] and len(ds) == 4
    x, y = ds[3]
    assert x.shape == (3, 16, 16) and y == 1 and int(x[0, 0, 0]) == 41
    with pytest.raises(FileNotFoundError):
        ImageFolderDataset(tmp_path / "nope", crop_size=16)


def test_tiny_classifier_overfits_16_crops() -> None:
    torch.manual_seed(0)
    data = WorldCrops(n=16, crop_size=32, seed=0, world=WORLD)
    images, labels = collate_crops([data[i] for i in range(16)])
    model = MODELS["classifier_tiny"](num_classes=len(THING_CLASSES))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = normalize_image(images)
    for _ in range(80):
        opt.zero_grad()
        classification_loss(model(x), labels)["total"].backward()
        opt.step()
    model.eval()
    ev = TopKAccuracy()
    with torch.no_grad():
        ev.update(model(x).softmax(1), (images, labels))
    assert ev.compute()["top1"] == 1.0


def test_train_and_eval_on_an_image_folder(tmp_path: Path, capsys) -> None:
    from seesall.cli.main import main
    from seesall.engine.checkpoint import load_checkpoint

    data = WorldCrops(n=24, crop_size=24, seed=0, world=WORLD)
    for split, idx in (("train", range(16)), ("val", range(16, 24))):
        for i in idx:
            image, label = data[i]
            folder = tmp_path / "data" / split / THING_CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            write_image(folder / f"{i}.png", image)
    run = tmp_path / "run"
    argv = [
        "train",
        "classification",
        "--data",
        str(tmp_path / "data"),
        "--model",
        "classifier_tiny",
        "--max-steps",
        "3",
        "--batch-size",
        "4",
        "--image-size",
        "24",
        "--no-progress",
        "--out",
        str(run),
    ]
    assert main(argv) == 0
    meta = load_checkpoint(run).meta
    assert meta["class_names"] == sorted(p.name for p in (tmp_path / "data" / "train").iterdir())
    # the val images whose class the training folder has (the run's classes come from train/)
    known = sum(1 for p in (tmp_path / "data" / "val").glob("*/*.png") if p.parent.name in meta["class_names"])
    assert meta["metrics"]["count"] == known > 0
    assert main(["eval", "classification", "--checkpoint", str(run), "--data", str(tmp_path / "data" / "val")]) == 0
    assert f"count={known}" in capsys.readouterr().out
