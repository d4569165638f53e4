"""The loop's options: gradient accumulation, bf16 autocast, time budget, frozen parts."""

from __future__ import annotations

from pathlib import Path

import torch

from seesall.engine.checkpoint import load_checkpoint
from seesall.engine.run import train

NO_DROPOUT = ["task.dropout=0.0", "trainer.max_steps=6", "data.val_size=0"]


def test_grad_accumulation_equals_the_big_batch(tmp_path: Path, tiny) -> None:
    train(tiny.make_config(str(tmp_path / "big"), [*NO_DROPOUT, "data.batch_size=8"]), tiny)
    cfg = tiny.make_config(str(tmp_path / "acc"), [*NO_DROPOUT, "data.batch_size=4", "trainer.grad_accum=2"])
    train(cfg, tiny)
    a, b = load_checkpoint(tmp_path / "big").model, load_checkpoint(tmp_path / "acc").model
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    assert [s for s, _ in tiny.losses(tmp_path / "acc")] == list(range(1, 7))


def test_bf16_autocast_and_clipping(tmp_path: Path, tiny) -> None:
    cfg = tiny.make_config(str(tmp_path / "bf16"), ["trainer.amp=bf16", "optim.clip_grad_norm=0.5"])
    result = train(cfg, tiny)
    assert result["step"] == 20
    assert all(loss is not None for _, loss in tiny.losses(tmp_path / "bf16"))


def test_time_budget_stops_and_checkpoints(tmp_path: Path, tiny) -> None:
    run = tmp_path / "budget"
    cfg = tiny.make_config(str(run), ["trainer.minutes=0.0001", "trainer.max_steps=1000"])
    result = train(cfg, tiny)
    assert result["step"] < 1000 and "time budget" in result["stop_reason"]
    meta = load_checkpoint(run).meta
    assert meta["step"] == result["step"] and "acc" in meta["metrics"]  # eval + checkpoint at the stop


def test_frozen_parameters_do_not_move(tmp_path: Path, tiny) -> None:
    run = tmp_path / "frozen"
    cfg = tiny.make_config(str(run), ["model.freeze=['backbone.*']", "trainer.max_steps=4"])
    train(cfg, tiny)
    torch.manual_seed(cfg.trainer.seed)  # the run's initial weights
    start = tiny.build_model("mlp", cfg).state_dict()
    end = load_checkpoint(run).model
    torch.testing.assert_close(end["backbone.0.weight"], start["backbone.0.weight"], rtol=0, atol=0)
    assert not torch.equal(end["head.weight"], start["head.weight"])
