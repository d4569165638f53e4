"""A short training / evaluation loop for clip classifiers (until the engine's recipe is used)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.tasks.video.metrics import TopKAccuracy
from seesall.tasks.video.models import normalize_video


def action_loss(logits: Tensor, labels: Tensor) -> dict[str, Tensor]:
    """{"loss_action": cross-entropy} for logits Tensor[B, K] and labels Tensor[B]; for
    per-stream logits Tensor[B, S, K] (``TwoStream`` in training) the mean over streams of each
    stream's cross-entropy, and {"loss_stream<i>": ...} per stream."""
    if logits.ndim == 3:
        b, s, k = logits.shape
        per = F.cross_entropy(logits.reshape(b * s, k), labels.repeat_interleave(s),
                              reduction="none").view(b, s).mean(dim=0)  # (S,)
        out = {f"loss_stream{i}": per[i] for i in range(s)}
        out["loss_action"] = per.mean()
        return out
    return {"loss_action": F.cross_entropy(logits, labels)}


def forward_batch(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """A collated batch (see ``collate_clips``) -> logits Tensor[B, K]."""
    flow = batch.get("flow") if getattr(model, "uses_flow", False) else None
    return model(normalize_video(batch["video"]), flow)


def _cycle(batches: Iterable[dict[str, Tensor]]) -> Iterator[dict[str, Tensor]]:
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:  # an empty list, or an exhausted / closed generator
            raise ValueError("batches yielded nothing; pass a non-empty list or an endless generator")


def fit(model: nn.Module, batches: Iterable[dict[str, Tensor]], *, steps: int, lr: float = 2e-3,
        weight_decay: float = 1e-4) -> dict[str, float]:
    """AdamW with cosine decay for ``steps`` steps over (cycled) batches; returns wall and CPU
    seconds and the mean loss of the last tenth of the steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    model.train()
    start, cpu, losses = time.perf_counter(), time.process_time(), []
    for _, batch in zip(range(steps), _cycle(batches), strict=False):
        loss = action_loss(forward_batch(model, batch), batch["labels"])["loss_action"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    tail = losses[-max(1, len(losses) // 10):]
    return {"train_seconds": time.perf_counter() - start,
            "train_cpu_seconds": time.process_time() - cpu, "final_loss": sum(tail) / len(tail)}


@torch.no_grad()
def evaluate_clips(model: nn.Module, batches: Iterable[dict[str, Tensor]],
                   class_names: tuple[str, ...] | None = None) -> dict[str, float]:
    """Top-1 / top-5 (and per-class top-1) of ``model`` in eval mode, plus ms per clip."""
    model.eval()
    metric = TopKAccuracy(class_names=class_names)
    seconds, clips = 0.0, 0
    for batch in batches:
        t0 = time.perf_counter()
        logits = forward_batch(model, batch)
        seconds += time.perf_counter() - t0
        clips += int(batch["labels"].numel())
        metric.update(logits, batch["labels"])
    out = metric.compute()
    out["ms_per_clip"] = 1000.0 * seconds / max(clips, 1)
    return out
