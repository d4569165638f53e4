"""Learning-rate schedules as pure functions of the step (nothing to save but the step)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence


def lr_factor(
    step: int,
    *,
    schedule: str,
    max_steps: int,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
) -> float:
    """Multiplier of the base learning rate for the optimiser step ``step`` (0-based).

    Linear warm-up from ``1 / warmup_steps`` to 1 over the first ``warmup_steps`` steps,
    then ``cosine`` (from 1 to ``min_lr_ratio`` at ``max_steps``, as
    ``CosineAnnealingLR(T_max=max_steps - warmup_steps)``), ``step`` (times ``gamma``
    at every milestone reached, as ``MultiStepLR``) or ``constant``.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return gamma ** bisect.bisect_right(sorted(milestones), step)
    if schedule == "cosine":
        span = max(max_steps - warmup_steps, 1)
        progress = min((step - warmup_steps) / span, 1.0)
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}; expected cosine, step or constant")
