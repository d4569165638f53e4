"""Checkpoints that survive a kill at any moment and never unpickle code.

Layout of ``RUN_DIR/checkpoints/``::

    step_00000200/
        model.safetensors   weights and buffers (DDP/compile wrappers stripped)
        meta.json           the sidecar: format, seesall version, task, model name, step,
                            epoch, metrics, class names, resolved config
        state.safetensors   optimiser tensors and RNG states (one set per process)
        state.json          optimiser param groups and scalars, data position, Python and
                            NumPy RNG, AMP scaler, counters
    last -> step_00000200   symbolic links, replaced atomically
    best -> step_00000100

A checkpoint is written into a hidden temporary folder (every file fsynced), renamed
to ``step_N`` and only then pointed to by ``last``/``best`` (a symlink swapped with
``os.replace``). A kill before the swap leaves the previous checkpoint in place.
Reading uses safetensors and JSON only.

``SEESALL_FAULT_DELAY="checkpoint@STEP=SECONDS,step=SECONDS"`` makes the writer (at
one step's checkpoint, or always without ``@STEP``) or every training step sleep, so
crash tests can kill the process at a chosen moment.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save
from torch import Tensor, nn

import seesall
from seesall.io.atomic import fsync_dir, write_bytes, write_json

FORMAT = "seesall-checkpoint/1"


def fault_delay(point: str, step: int | None = None) -> None:
    """Sleep as SEESALL_FAULT_DELAY says for ``point`` (crash tests only).

    Items are ``point=SECONDS`` (always) or ``point@STEP=SECONDS`` (only at that step).
    """
    spec = os.environ.get("SEESALL_FAULT_DELAY", "")
    for item in filter(None, spec.split(",")):
        name, _, seconds = item.partition("=")
        name, _, at = name.strip().partition("@")
        if name == point and (not at or (step is not None and int(at) == step)):
            time.sleep(float(seconds))


def unwrap_model(model: nn.Module) -> nn.Module:
    """The user's module inside DDP and/or torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def model_state(model: nn.Module) -> dict[str, Tensor]:
    """Contiguous CPU copies of the unwrapped model's state dict (shared storage removed)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in unwrap_model(model).state_dict().items()}


# ---- RNG ------------------------------------------------------------------------------


def rng_state() -> tuple[dict[str, Tensor], dict[str, Any]]:
    """This process's torch (CPU, CUDA), NumPy and Python RNG states as (tensors, JSON)."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    py = random.getstate()
    meta = {"numpy": [kind, int(pos), int(has_gauss), float(cached)], "python": [py[0], list(py[1]), py[2]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(tensors["torch"])
    if torch.cuda.is_available():
        states = [tensors[f"cuda{i}"] for i in range(torch.cuda.device_count()) if f"cuda{i}" in tensors]
        if states:
            torch.cuda.set_rng_state_all(states)
    kind, pos, has_gauss, cached = meta["numpy"]
    keys = tensors["numpy"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


# ---- optimiser state <-> (tensors, JSON) ----------------------------------------------


def split_optimizer_state(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors-able tensors and JSON-able rest."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"{pid}.{name}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def join_optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`split_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        pid, _, name = key.partition(".")
        state.setdefault(int(pid), {})[name] = value
    for pid, entries in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entries)
    return {"state": state, "param_groups": meta["param_groups"]}


# ---- writing ---------------------------------------------------------------------------


@dataclass
class CheckpointData:
    """What one checkpoint holds. ``train`` is None for a weights-only checkpoint."""

    model: dict[str, Tensor]
    meta: dict[str, Any]
    train_tensors: dict[str, Tensor] | None = None
    train: dict[str, Any] | None = None


def _write_folder(folder: Path, data: CheckpointData) -> None:
    write_bytes(folder / "model.safetensors", save(data.model))
    if data.train is not None:
        write_bytes(folder / "state.safetensors", save(data.train_tensors or {}))
        write_json(folder / "state.json", data.train)
    fault_delay("checkpoint", int(data.meta["step"]))
    write_json(folder / "meta.json", data.meta, indent=2)  # written last: marks it complete


def _point(root: Path, name: str, target: str) -> None:
    tmp = root / f".{name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, root / name)
    fsync_dir(root)


def save_checkpoint(root: str | os.PathLike, data: CheckpointData, *, names: tuple[str, ...]) -> Path:
    """Write ``data`` as ``root/step_N`` and point each of ``names`` ("last", "best") at it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    final = root / f"step_{int(data.meta['step']):08d}"
    if not (final / "meta.json").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=root))
        _write_folder(tmp, data)
        if final.exists():  # an incomplete folder of the same step (cannot be pointed to)
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(root)
    for name in names:
        _point(root, name, final.name)
    _remove_unreferenced(root)
    return final


def _remove_unreferenced(root: Path) -> None:
    keep = {os.readlink(root / n) for n in ("last", "best") if (root / n).is_symlink()}
    for folder in root.glob("step_*"):
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


# ---- reading ---------------------------------------------------------------------------


def resolve_checkpoint(path: str | os.PathLike, name: str = "last") -> Path:
    """A checkpoint folder from a run dir, its ``checkpoints/`` dir, a folder or a file in it."""
    p = Path(path)
    if p.is_file():
        p = p.parent
    for candidate in (p, p / name, p / "checkpoints" / name):
        if (candidate / "meta.json").is_file() and (candidate / "model.safetensors").is_file():
            return candidate
    if not p.exists():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    raise FileNotFoundError(f"{p}: no checkpoint here (expected meta.json + model.safetensors)")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: unreadable checkpoint file ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _read_tensors(path: Path) -> dict[str, Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except Exception as e:  # safetensors' own error types
        raise ValueError(f"{path}: unreadable safetensors file ({e})") from None


def load_checkpoint(path: str | os.PathLike, *, name: str = "last", train: bool = False) -> CheckpointData:
    """Read a checkpoint (safetensors + JSON only). ``train`` also reads the resume state."""
    folder = resolve_checkpoint(path, name)
    meta = _read_json(folder / "meta.json")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder / 'meta.json'}: format is {meta.get('format')!r}, expected {FORMAT!r}")
    data = CheckpointData(model=_read_tensors(folder / "model.safetensors"), meta=meta)
    if train:
        if not (folder / "state.json").is_file():
            raise ValueError(f"{folder}: holds weights only, no training state to resume from")
        data.train_tensors = _read_tensors(folder / "state.safetensors")
        data.train = _read_json(folder / "state.json")
    return data


def make_meta(
    *,
    task: str,
    model_name: str,
    step: int,
    epoch: int,
    metrics: dict[str, float],
    class_names: list[str],
    config: dict[str, Any],
) -> dict[str, Any]:
    """The sidecar ``meta.json``."""
    return {
        "format": FORMAT,
        "seesall_version": seesall.__version__,
        "task": task,
        "model": model_name,
        "step": step,
        "epoch": epoch,
        "metrics": metrics,
        "class_names": list(class_names),
        "config": config,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
