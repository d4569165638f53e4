"""Assemble one training run from a RunConfig and a task recipe, and run it."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from seesall.engine import checkpoint as ckpt
from seesall.engine.config import RunConfig, build_run_config, save_run_config, to_dict
from seesall.engine.data import EpochStream, eval_loader
from seesall.engine.distributed import (
    DistInfo,
    all_gather_object,
    barrier,
    init_distributed,
    shutdown_distributed,
)
from seesall.engine.evaluation import evaluate
from seesall.engine.hooks import CalibrateHook, CheckpointHook, EvalHook, LogHook, LRScheduleHook, TimeBudgetHook
from seesall.engine.recipe import Recipe, TaskParts
from seesall.engine.schedule import lr_factor
from seesall.engine.trainer import Hook, Trainer
from seesall.engine.transfer import freeze, freeze_batchnorm, init_from_file, param_groups


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """``trainer.amp`` -> the autocast dtype (None for full precision)."""
    if amp == "none":
        return None
    if amp == "fp16" and device.type != "cuda":
        raise ValueError("trainer.amp fp16 needs CUDA; use bf16 on CPU")
    return torch.bfloat16 if amp == "bf16" else torch.float16


def prepare_model(parts: TaskParts, cfg: RunConfig) -> nn.Module:
    """Transfer-learning options on the task's model: BN freezing, --init, --freeze."""
    model = parts.model
    if cfg.model.freeze_bn:
        freeze_batchnorm(model)
    if cfg.model.init:
        init_from_file(model, cfg.model.init)
    if cfg.model.freeze:
        freeze(model, cfg.model.freeze)
    return model


def load_trained_model(
    checkpoint: str | Path, recipe: Recipe, *, name: str = "last", **build_kw: Any
) -> tuple[nn.Module, RunConfig, dict[str, Any]]:
    """A recipe's model rebuilt as its run built it, with a checkpoint's weights, in eval mode.

    The model name and the resolved config come from the checkpoint's ``meta.json``;
    ``build_kw`` goes to ``recipe.build_model`` (e.g. ``num_classes``).

    Returns:
        (model, the run's RunConfig, the meta dict).
    """
    data = ckpt.load_checkpoint(checkpoint, name=name)
    meta, where = data.meta, f"{checkpoint} meta.json"
    if meta.get("task") != recipe.NAME:
        raise ValueError(f"{checkpoint}: a {meta.get('task')!r} checkpoint, not {recipe.NAME}")
    if meta.get("model") not in recipe.MODELS:
        raise ValueError(f"{where}: model {meta.get('model')!r} is not a {recipe.NAME} model")
    conf = dict(meta.get("config") or {})
    cfg = build_run_config(
        task_name=recipe.NAME,
        out=str(conf.pop("out", "")),
        file_data={k: v for k, v in conf.items() if k != "task_name"},
        overrides={},
        task_config_class=recipe.TaskConfig,
        where=where,
    )
    model = recipe.build_model(meta["model"], cfg, **build_kw)
    if cfg.model.freeze_bn:
        freeze_batchnorm(model)
    model.load_state_dict(data.model)
    return model.eval(), cfg, meta


def build_optimizer(model: nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    groups = param_groups(model, lr=o.lr, weight_decay=o.weight_decay, backbone_lr_mult=o.backbone_lr_mult)
    if o.name == "sgd":
        return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum)
    return torch.optim.AdamW(groups, lr=o.lr)


def _saver(
    cfg: RunConfig, parts: TaskParts, model: nn.Module, dist: DistInfo
) -> Callable[[Trainer, tuple[str, ...]], None]:
    """The CheckpointHook's writer: every rank sends its RNG, rank 0 writes."""
    root = Path(cfg.out) / "checkpoints"

    def save(trainer: Trainer, names: tuple[str, ...]) -> None:
        rngs = all_gather_object(ckpt.rng_state())  # every rank's RNG, for exact resume
        if not dist.is_main:
            return
        opt_tensors, opt_meta = ckpt.split_optimizer_state(trainer.optimizer.state_dict())
        tensors = {f"optim.{k}": v for k, v in opt_tensors.items()}
        for rank, (rng_tensors, _) in enumerate(rngs):
            tensors.update({f"rng.{rank}.{k}": v for k, v in rng_tensors.items()})
        meta = ckpt.make_meta(
            task=cfg.task_name,
            model_name=cfg.model.name,
            step=trainer.step,
            epoch=trainer.data.epoch,
            metrics=trainer.metrics,
            class_names=parts.class_names,
            config=to_dict(cfg),
        )
        train = {
            "trainer": trainer.state_dict(),
            "optimizer": opt_meta,
            "rng": [m for _, m in rngs],
            "world_size": dist.world_size,
        }
        data = ckpt.CheckpointData(ckpt.model_state(model), meta, tensors, train)
        ckpt.save_checkpoint(root, data, names=names)

    return save


def restore(trainer: Trainer, model: nn.Module, run_dir: str, dist: DistInfo) -> None:
    """Continue from ``run_dir``'s last checkpoint: weights, optimiser, data position, RNG."""
    data = ckpt.load_checkpoint(run_dir, name="last", train=True)
    assert data.train is not None and data.train_tensors is not None
    ckpt.unwrap_model(model).load_state_dict(data.model)
    opt = {k[len("optim.") :]: v for k, v in data.train_tensors.items() if k.startswith("optim.")}
    trainer.optimizer.load_state_dict(ckpt.join_optimizer_state(opt, data.train["optimizer"]))
    trainer.load_state_dict(data.train["trainer"])
    rank = dist.rank % int(data.train["world_size"])
    prefix = f"rng.{rank}."
    rng = {k[len(prefix) :]: v for k, v in data.train_tensors.items() if k.startswith(prefix)}
    ckpt.set_rng_state(rng, data.train["rng"][rank])


def _hooks(cfg: RunConfig, parts: TaskParts, model: nn.Module, dist: DistInfo, amp: torch.dtype | None) -> list[Hook]:
    t, o = cfg.trainer, cfg.optim
    factor = functools.partial(
        lr_factor,
        schedule=o.schedule,
        max_steps=t.max_steps,
        warmup_steps=o.warmup_steps,
        min_lr_ratio=o.min_lr_ratio,
        milestones=o.milestones,
        gamma=o.gamma,
    )
    hooks: list[Hook] = [LRScheduleHook(factor)]
    if t.minutes is not None:
        hooks.append(TimeBudgetHook(t.minutes))
    if parts.calibrate is not None:
        calibrate = parts.calibrate
        hooks.append(CalibrateHook(t.eval_every, ckpt.unwrap_model(model), lambda m: calibrate(m, dist.device)))
    if parts.make_evaluator is not None and parts.val_set is not None:
        hooks.append(EvalHook(t.eval_every, functools.partial(_run_eval, cfg, parts, model, dist, amp)))
    hooks.append(
        CheckpointHook(
            t.checkpoint_every,
            _saver(cfg, parts, model, dist),
            best_metric=t.best_metric or parts.best_metric,
            best_mode=t.best_mode if t.best_metric else parts.best_mode,
        )
    )
    hooks.append(LogHook(cfg.out, period=t.log_every, progress=t.progress, enabled=dist.is_main))
    return hooks


def _run_eval(
    cfg: RunConfig, parts: TaskParts, model: nn.Module, dist: DistInfo, amp: torch.dtype | None
) -> dict[str, float]:
    assert parts.val_set is not None and parts.make_evaluator is not None
    loader = eval_loader(
        parts.val_set,
        batch_size=cfg.data.batch_size,
        collate_fn=parts.collate,
        num_workers=cfg.data.num_workers,
        rank=dist.rank,
        world_size=dist.world_size,
    )
    return evaluate(
        ckpt.unwrap_model(model),
        loader,
        inputs=parts.inputs,
        postprocess=parts.postprocess,
        evaluator=parts.make_evaluator(),
        device=dist.device,
        autocast_dtype=amp,
    )


def wrap_model(model: nn.Module, cfg: RunConfig, dist: DistInfo) -> nn.Module:
    """torch.compile (opt-in) and DDP (when launched by torchrun) around the model."""
    wrapped: nn.Module = model
    if cfg.trainer.compile:
        wrapped = torch.compile(wrapped)
    if dist.distributed:
        ids = [dist.local_rank] if dist.device.type == "cuda" else None
        wrapped = DistributedDataParallel(wrapped, device_ids=ids)
    return wrapped


def build_trainer(cfg: RunConfig, parts: TaskParts, model: nn.Module, dist: DistInfo) -> Trainer:
    """The Trainer for a prepared model: optimiser, data stream, AMP, hooks."""
    optimizer = build_optimizer(model, cfg)
    amp = autocast_dtype(cfg.trainer.amp, dist.device)
    seed_everything(cfg.trainer.seed + dist.rank)
    stream = EpochStream(
        parts.train_set,
        batch_size=cfg.data.batch_size,
        collate_fn=parts.collate,
        num_workers=cfg.data.num_workers,
        seed=cfg.trainer.seed,
        rank=dist.rank,
        world_size=dist.world_size,
    )
    wrapped = wrap_model(model, cfg, dist)
    return Trainer(
        model=wrapped,
        loss_fn=parts.loss,
        inputs=parts.inputs,
        optimizer=optimizer,
        data=stream,
        dist=dist,
        max_steps=cfg.trainer.max_steps,
        grad_accum=cfg.trainer.grad_accum,
        clip_grad_norm=cfg.optim.clip_grad_norm,
        autocast_dtype=amp,
        scaler=torch.amp.GradScaler("cuda") if cfg.trainer.amp == "fp16" else None,
        nonfinite=cfg.trainer.nonfinite,
        hooks=_hooks(cfg, parts, wrapped, dist, amp),
    )


def train(cfg: RunConfig, recipe: Recipe, *, resume: bool = False) -> dict[str, Any]:
    """Train ``recipe`` with ``cfg``; returns the last metrics and the number of steps."""
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    dist = init_distributed(cfg.trainer.device)
    seed_everything(cfg.trainer.seed)  # same model init on every rank
    parts = recipe.build(cfg)
    model = prepare_model(parts, cfg).to(dist.device)
    trainer = build_trainer(cfg, parts, model, dist)
    if dist.is_main:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        save_run_config(cfg, Path(cfg.out) / "config.yaml")
    if resume:
        restore(trainer, model, cfg.out, dist)
    barrier()
    try:
        trainer.train()
    finally:
        shutdown_distributed()
    return {
        "step": trainer.step,
        "metrics": trainer.metrics,
        "skipped": trainer.skipped,
        "stop_reason": trainer.stop_reason,
        "rank": dist.rank,
    }
