"""Exact resume after SIGKILL mid-epoch; a kill during a checkpoint write keeps the previous one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from seesall.engine.checkpoint import load_checkpoint
from seesall.engine.config import load_run_config
from seesall.engine.run import train

STEPS = ["trainer.max_steps=24"]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (code {proc.returncode}) before the kill point")
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the kill point")


def _logged_step(run: Path, tiny) -> int:
    path = run / "scalars.jsonl"
    return tiny.losses(run)[-1][0] if path.exists() and path.read_text().strip() else 0


def test_sigkill_mid_epoch_then_resume_gives_the_same_losses(tmp_path: Path, tiny) -> None:
    ref = tmp_path / "ref"
    train(tiny.make_config(str(ref), STEPS), tiny)

    run = tmp_path / "run"
    env = tiny.subprocess_env(SEESALL_FAULT_DELAY="step=0.15")
    proc = subprocess.Popen([sys.executable, str(tiny.TINY), str(run), *STEPS], env=env)
    try:
        _wait_for(lambda: _logged_step(run, tiny) >= 13, proc)  # checkpoint at 10, epoch = 8 steps
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = _logged_step(run, tiny)
    saved = load_checkpoint(run).meta["step"]
    assert saved % 8 != 0 and saved < killed_at < 24, (saved, killed_at)  # mid-epoch, mid-run

    done = subprocess.run(
        [sys.executable, str(tiny.TINY), str(run), "--resume", *STEPS],
        env=tiny.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert tiny.losses(run) == tiny.losses(ref)  # exact, step for step
    assert [s for s, _ in tiny.losses(run)] == list(range(1, 25))


def test_sigkill_during_checkpoint_write_keeps_the_previous_one(tmp_path: Path, tiny) -> None:
    run = tmp_path / "run"
    env = tiny.subprocess_env(SEESALL_FAULT_DELAY="checkpoint@10=120")
    proc = subprocess.Popen([sys.executable, str(tiny.TINY), str(run), "trainer.max_steps=20"], env=env)
    ckpts = run / "checkpoints"

    def writing() -> bool:  # the step-10 writer has written its tensors and is paused
        return any((d / "state.json").exists() for d in ckpts.glob(".tmp-step_00000010-*"))

    try:
        _wait_for(writing, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    data = load_checkpoint(run, train=True)
    assert data.meta["step"] == 5 and data.train is not None
    assert (ckpts / "last").resolve().name == "step_00000005"

    cfg = load_run_config(run / "config.yaml", tiny.TaskConfig)
    result = train(cfg, tiny, resume=True)
    assert result["step"] == 20
    assert load_checkpoint(run).meta["step"] == 20
    assert not list(ckpts.glob(".tmp-*"))  # the half-written folder was cleaned up
