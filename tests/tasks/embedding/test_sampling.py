"""P×K class-balanced batches: composition, determinism, and the same batch make-up as
pytorch-metric-learning's MPerClassSampler."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from seesall.engine.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainerConfig
from seesall.engine.run import train
from seesall.tasks.embedding import recipe
from seesall.tasks.embedding.data import ImageSet
from seesall.tasks.embedding.sampling import PKBatchSet, class_index, pk_indices
from seesall.tasks.embedding.train import class_balanced_batches


def _labels() -> torch.Tensor:
    # class sizes 9, 7, 5, 12, 3, 1 (the last cannot give a positive pair)
    return torch.cat([torch.full((n,), c) for c, n in enumerate((9, 7, 5, 12, 3, 1))])


def _set(labels: torch.Tensor) -> ImageSet:
    images = torch.arange(len(labels), dtype=torch.uint8)[:, None, None, None].expand(
        -1, 3, 4, 4).contiguous()
    return ImageSet(images, labels, tuple(str(c) for c in range(int(labels.max()) + 1)))


def _make_up(labels: torch.Tensor) -> list[int]:
    return sorted(Counter(labels.tolist()).values())


def test_every_batch_has_p_classes_times_k_distinct_items() -> None:
    labels = _labels()
    by_class = class_index(labels)
    assert [len(i) for i in by_class] == [9, 7, 5, 12, 3]  # the singleton class is left out
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        idx = pk_indices(by_class, classes_per_batch=3, per_class=4, generator=g)
        y = labels[idx]
        assert len(idx) == 12 and _make_up(y) == [4, 4, 4]
        for c in y.unique():  # K consecutive items per class, distinct when the class has >= K
            items = idx[y == c]
            assert (y.view(3, 4)[:, 0:1] == y.view(3, 4)).all()
            if (labels == c).sum() >= 4:
                assert len(items.unique()) == 4
        assert (labels[idx] != 5).all()


def test_small_class_is_drawn_with_replacement_and_p_is_capped() -> None:
    labels = _labels()
    g = torch.Generator().manual_seed(1)
    idx = pk_indices(class_index(labels), classes_per_batch=50, per_class=6, generator=g)
    y = labels[idx]
    assert _make_up(y) == [6] * 5  # only 5 usable classes
    assert set(idx[y == 4].tolist()) <= {33, 34, 35}  # class 4's three images, repeated


def test_make_up_and_class_frequencies_match_m_per_class_sampler() -> None:
    from pytorch_metric_learning.samplers import MPerClassSampler
    from pytorch_metric_learning.utils import common_functions as c_f

    labels = torch.arange(400) % 8  # 8 classes of 50
    p, k, n = 4, 5, 400
    c_f.NUMPY_RANDOM.seed(0)
    ref = list(MPerClassSampler(labels, m=k, batch_size=p * k, length_before_new_iter=n * p * k))
    ref_batches = torch.tensor(ref).view(n, p * k)
    g = torch.Generator().manual_seed(0)
    ours = torch.stack([pk_indices(class_index(labels), classes_per_batch=p, per_class=k,
                                   generator=g) for _ in range(n)])
    for batches in (ref_batches, ours):
        for b in batches:
            assert _make_up(labels[b]) == [k] * p
            assert all(len(b[labels[b] == c].unique()) == k for c in labels[b].unique())
    ref_freq = torch.bincount(labels[ref_batches].flatten(), minlength=8) / (n * p * k)
    our_freq = torch.bincount(labels[ours].flatten(), minlength=8) / (n * p * k)
    torch.testing.assert_close(our_freq, ref_freq, atol=0.03, rtol=0)  # both ~1/8 each


def test_pk_batch_set_is_deterministic_and_collates() -> None:
    data = _set(_labels())
    ds = PKBatchSet(data, classes_per_batch=2, per_class=3, length=10, seed=3, augment=True)
    images, y, flags = ds[4]
    assert images.shape == (6, 3, 4, 4) and flags.all() and _make_up(y) == [3, 3]
    torch.testing.assert_close(ds[4][0], images)  # same index, same batch
    assert len({tuple(ds.indices(i).tolist()) for i in range(10)}) > 1  # indices differ
    batch = recipe.collate([ds[0], ds[1]])
    assert batch[0].shape == (12, 3, 4, 4) and batch[1].shape == (12,)
    single = recipe.collate([(images[0], y[0], flags[0])] * 3)
    assert single[0].shape == (3, 3, 4, 4)
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(ValueError, match="per_class"):
        PKBatchSet(data, classes_per_batch=2, per_class=1, length=10)


def test_class_balanced_batches_are_pk() -> None:
    data = _set(_labels())
    it = class_balanced_batches(data, classes_per_batch=3, per_class=2, seed=0)
    for _ in range(20):
        assert _make_up(next(it).labels) == [2, 2, 2]


def test_recipe_trains_on_pk_batches(tmp_path: Path) -> None:
    cfg = RunConfig(
        task_name="embedding", out=str(tmp_path / "run"),
        model=ModelConfig(name="convnet_digits"),
        data=DataConfig(source="digits", image_size=8, batch_size=1),
        optim=OptimConfig(lr=1e-3, warmup_steps=2),
        trainer=TrainerConfig(max_steps=3, log_every=3, eval_every=0, checkpoint_every=3,
                              progress=False, device="cpu"),
        task=recipe.TaskConfig(miner="semihard", dim=16, classes_per_batch=5, per_class=4),
    )
    parts = recipe.build(cfg)
    assert isinstance(parts.train_set, PKBatchSet) and len(parts.train_set) >= 3
    images, labels, _ = recipe.collate([parts.train_set[0]])
    assert images.shape == (20, 3, 8, 8) and _make_up(labels) == [4] * 5
    assert train(cfg, recipe)["step"] == 3
    bad = RunConfig(task_name="embedding", out=str(tmp_path / "bad"),
                    task=recipe.TaskConfig(classes_per_batch=4, per_class=1))
    with pytest.raises(ValueError, match="per_class"):
        recipe.build(bad)
