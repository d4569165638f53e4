"""Stand-alone FlowNet weight files: one ``.safetensors`` whose metadata names the model factory."""

from __future__ import annotations

import os
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save
from torch import nn

from seesall.io.atomic import write_bytes


def save_flow_weights(model: nn.Module, name: str, path: str | os.PathLike, *,
                      half: bool = True, extra: dict[str, str] | None = None) -> Path:
    """Write ``model``'s state dict (float16 when ``half``: halves the file) with metadata
    ``{"task": "flow", "model": name}`` plus ``extra`` (e.g. the training cost); returns the path."""
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
             for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, save(state, metadata={**(extra or {}), "task": "flow", "model": name}))
    return path


def load_flow_weights(path: str | os.PathLike) -> nn.Module:
    """The FlowNet saved by :func:`save_flow_weights`, in eval mode (float32)."""
    from seesall.tasks.flow.models import MODELS

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such flow weight file")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("task") != "flow" or meta.get("model") not in MODELS:
        raise ValueError(f"{path}: not a flow weight file (task={meta.get('task')!r}, "
                         f"model={meta.get('model')!r})")
    model = MODELS[meta["model"]]()
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    model.load_state_dict(state)
    return model.eval()


def flow_weights_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a flow weight file (``task``, ``model`` and any extra entries)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such flow weight file")
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})
