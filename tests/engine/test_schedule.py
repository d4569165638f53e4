"""LR schedules against torch's own schedulers."""

from __future__ import annotations

import pytest
import torch

from seesall.engine.schedule import lr_factor


def _torch_lrs(make, steps: int) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_cosine_matches_cosine_annealing() -> None:
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.1), 20)
    ours = [lr_factor(s, schedule="cosine", max_steps=20, min_lr_ratio=0.1) for s in range(20)]
    assert ours == pytest.approx(ref, abs=1e-12)


def test_step_matches_multistep() -> None:
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [5, 12], gamma=0.3), 20)
    ours = [lr_factor(s, schedule="step", max_steps=20, milestones=(12, 5), gamma=0.3) for s in range(20)]
    assert ours == pytest.approx(ref, abs=1e-12)


def test_warmup_then_cosine() -> None:
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.LinearLR(o, 1 / 4, 1.0, total_iters=3), 4)
    ours = [lr_factor(s, schedule="cosine", max_steps=10, warmup_steps=4) for s in range(4)]
    assert ours == pytest.approx(ref, abs=1e-12)  # 1/4, 2/4, 3/4, 1
    cos = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6), 6)
    ours = [lr_factor(s, schedule="cosine", max_steps=10, warmup_steps=4) for s in range(4, 10)]
    assert ours == pytest.approx(cos, abs=1e-12)
