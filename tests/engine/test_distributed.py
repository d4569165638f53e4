"""torchrun with 2 processes (gloo, CPU) equals 1 process with the same global batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from seesall.engine.checkpoint import load_checkpoint
from seesall.engine.run import train

COMMON = ["task.dropout=0.0", "trainer.max_steps=6", "data.val_size=31", "optim.name=adamw"]


def test_torchrun_two_processes_match_one_process(tmp_path: Path, tiny) -> None:
    one = tmp_path / "one"
    train(tiny.make_config(str(one), [*COMMON, "data.batch_size=8"]), tiny)

    two = tmp_path / "two"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(tiny.TINY),
        str(two),
        *COMMON,
        "data.batch_size=4",
    ]
    done = subprocess.run(cmd, env=tiny.subprocess_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]

    a = load_file(str(one / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(two / "checkpoints" / "last" / "model.safetensors"))
    assert a.keys() == b.keys()
    start = tiny.build_model("mlp", tiny.make_config(str(one), COMMON))  # parameters moved
    assert any(not torch.allclose(a[k], v) for k, v in start.state_dict().items())
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5)
    # the losses logged by rank 0 are averaged over both processes: the same global batch
    for (s1, l1), (s2, l2) in zip(tiny.losses(one), tiny.losses(two), strict=True):
        assert s1 == s2 and abs(l1 - l2) < 1e-5
    # evaluation gathered from both shards: every one of the 31 samples counted once
    m1, m2 = load_checkpoint(one).meta["metrics"], load_checkpoint(two).meta["metrics"]
    assert m1["count"] == m2["count"] == 31.0
    assert m1["acc"] == m2["acc"]
