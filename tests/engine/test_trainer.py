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


def test_loader_workers_do_not_change_the_losses(tmp_path: Path, tiny) -> None:
    steps = ["trainer.max_steps=12", "data.val_size=0"]  # crosses an epoch boundary (8 steps)
    train(tiny.make_config(str(tmp_path / "w0"), steps), tiny)
    train(tiny.make_config(str(tmp_path / "w2"), [*steps, "data.num_workers=2"]), tiny)
    assert tiny.losses(tmp_path / "w0") == tiny.losses(tmp_path / "w2")


def test_best_checkpoint_holds_the_best_evaluation(tmp_path: Path, tiny) -> None:
    import json

    run = tmp_path / "best"
    train(tiny.make_config(str(run), ["trainer.eval_every=2", "trainer.max_steps=16"]), tiny)
    rows = [json.loads(x) for x in (run / "scalars.jsonl").read_text().splitlines()]
    evals = [(r["val/acc"], r["step"]) for r in rows if "val/acc" in r]
    assert len(evals) == 8
    best_acc = max(a for a, _ in evals)
    first_best_step = min(s for a, s in evals if a == best_acc)  # ties keep the earlier one
    meta = load_checkpoint(run, name="best").meta
    assert meta["metrics"]["acc"] == best_acc and meta["step"] == first_best_step
    assert load_checkpoint(run, name="last").meta["step"] == 16


def test_calibrate_hook_runs_in_eval_mode_on_the_evaluation_schedule() -> None:
    from types import SimpleNamespace

    from seesall.engine.hooks import CalibrateHook

    model = torch.nn.Linear(2, 2).train()
    seen = []
    hook = CalibrateHook(3, model, lambda m: seen.append((trainer.step, m.training, torch.is_grad_enabled())))
    trainer = SimpleNamespace(step=0, is_final_step=False)
    for step in range(1, 8):
        trainer.step, trainer.is_final_step = step, step == 7
        hook.after_step(trainer)
    assert seen == [(3, False, False), (6, False, False), (7, False, False)]
    assert model.training
