"""Turn image files into vectors: the model table, checkpoint loading, folder embedding.

Vector files (``.npz``, written atomically) hold ``vectors`` Float32[N, D] (unit
rows), ``paths`` (str[N], relative to the embedded folder) and ``labels``
Int64[N] (the index of each image's parent folder name in ``class_names``, the
usual one-folder-per-class layout; all 0 for a flat folder).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seesall.io.atomic import write_bytes
from seesall.tasks.embedding.models import embedding_net
from seesall.tasks.embedding.probe import to_input

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")

MODELS: dict[str, Callable[..., nn.Module]] = {
    "convnet_digits": partial(embedding_net, "convnet_digits"),
    "convnet_crops": partial(embedding_net, "convnet_crops"),
    "fastnet_tiny": partial(embedding_net, "fastnet_tiny"),
}
INPUT_SIZES: dict[str, int] = {"convnet_digits": 8, "convnet_crops": 32, "fastnet_tiny": 64}


def load_embedder(*, model: str | None = None, checkpoint: str | None = None,
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """An embedding model in eval mode and its description ``{"model", "size", "checkpoint"}``.

    ``checkpoint``: a folder written by ``seesall.engine`` for the embedding task (its
    meta names the model); ``model``: a name of :data:`MODELS` (random weights drawn
    with seed 0, so every process embeds alike).
    """
    if (model is None) == (checkpoint is None):
        raise ValueError("give exactly one of --model NAME or --checkpoint PATH")
    state = None
    if checkpoint is not None:
        from seesall.engine.checkpoint import load_checkpoint

        data = load_checkpoint(checkpoint)
        model, state = data.meta.get("model"), data.model
        if model not in MODELS:
            raise ValueError(f"{checkpoint}: model {model!r} is not an embedding model "
                             f"({', '.join(MODELS)})")
    if model not in MODELS:
        raise ValueError(f"--model {model!r}: unknown; choose from {', '.join(MODELS)}")
    sizes = {}
    if state is not None and "head.net.3.bias" in state:  # the embedding dimension it was trained at
        sizes["dim"] = int(state["head.net.3.bias"].shape[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # "random weights" are the same in every process
        net = MODELS[model](**sizes)
    if state is not None:
        net.load_state_dict(state)
    return net.eval(), {"model": model, "size": INPUT_SIZES[model], "checkpoint": checkpoint}


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted)."""
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder of images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


@torch.no_grad()
def embed_files(model: nn.Module, files: list[Path], *, size: int,
                batch_size: int = 64) -> np.ndarray:
    """Unit vectors of image files: Float32[N, D]. Images are resized to ``size`` × ``size``."""
    from seesall.io.image import read_image_tensor

    out = []
    for s in range(0, len(files), batch_size):
        imgs = [to_input(read_image_tensor(f)[None], size) for f in files[s : s + batch_size]]
        out.append(nn.functional.normalize(model(torch.cat(imgs)), dim=1))
    return torch.cat(out).numpy().astype(np.float32)


def folder_labels(files: list[Path], root: Path) -> tuple[np.ndarray, list[str]]:
    """Label of each file = its parent folder (relative to ``root``); Int64[N] and names."""
    parents = [str(f.parent.relative_to(root)) for f in files]
    names = sorted(set(parents))
    return np.array([names.index(p) for p in parents], dtype=np.int64), names


def save_vectors(path: str | os.PathLike, vectors: np.ndarray, paths: list[str],
                 labels: np.ndarray, class_names: list[str]) -> None:
    buf = io.BytesIO()
    np.savez(buf, vectors=vectors, paths=np.array(paths, dtype=str), labels=labels,
             class_names=np.array(class_names, dtype=str))
    write_bytes(path, buf.getvalue())


def load_vectors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a vector file; checks that it has ``vectors`` [N, D] and matching ``labels``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: vector file not found")
    try:
        with np.load(p, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"{p}: not a .npz vector file ({e})") from e
    v = data.get("vectors")
    if v is None or v.ndim != 2:
        raise ValueError(f"{p}: field 'vectors' must be an [N, D] array")
    if "labels" in data and data["labels"].shape != (len(v),):
        raise ValueError(f"{p}: field 'labels' must have shape ({len(v)},)")
    return data
