"""Transfer learning: local weight files, head replacement, freezing, per-group learning rates.

Nothing is downloaded. A weight file is either safetensors or a torch file that
``torch.load(weights_only=True)`` accepts (a plain state dict of tensors); a file
that needs to unpickle code is refused without running anything.

Key names: a state dict saved from torchvision's ``resnet*()`` or
``mobilenet_v3_*()`` loads into the matching :mod:`seesall.nn.backbones` backbone
(the module names are torchvision's; ``fc.*`` and ``classifier.*`` are dropped).
Common wrappers are stripped: ``module.`` (DDP), ``_orig_mod.`` (torch.compile),
``backbone.`` (a seesall classifier or detector), ``backbone.body.`` (torchvision
detection models).
"""

from __future__ import annotations

import fnmatch
import os
import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn
from torchvision.ops.misc import FrozenBatchNorm2d

_PREFIXES = (
    "",
    "module.",
    "_orig_mod.",
    "model.",
    "backbone.",
    "backbone.body.",
    "module.backbone.",
    "_orig_mod.backbone.",
)


@dataclass
class LoadReport:
    """What a weight load did: keys loaded, model keys left as they were, file keys ignored."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    prefix: str = ""


def load_state_dict_file(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a state dict from safetensors or a weights-only torch file, never unpickling code.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not safetensors and not a weights-only torch file,
            or does not hold a dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path), device="cpu")
        except Exception as e:  # safetensors raises its own error types
            raise ValueError(f"{path}: not a readable safetensors file ({e})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"{path}: refused, not a weights-only torch file (loading it would run code): {first}"
        ) from None
    return _as_state_dict(obj, path)


def _as_state_dict(obj: object, path: Path) -> dict[str, Tensor]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{path}: expected a non-empty dict of tensors, got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"{path}: entry {bad[0]!r} is not a tensor")
    return obj


def _best_prefix(keys: Iterable[str], wanted: set[str]) -> str:
    keys = list(keys)
    scores = {p: sum(k.startswith(p) and k[len(p) :] in wanted for k in keys) for p in _PREFIXES}
    return max(_PREFIXES, key=lambda p: (scores[p], -len(p)))


def load_backbone_weights(model: nn.Module, path: str | os.PathLike, *, strict: bool = True) -> LoadReport:
    """Load a local weight file into ``model`` (a backbone or a whole model).

    Keys are matched after stripping the wrapper prefix that matches most model keys.
    File keys the model does not have (a classifier's ``fc``) are ignored and reported.

    Raises:
        ValueError: a tensor's shape differs from the model's (naming the key and shapes),
            no key matched at all, or (``strict``) some model weights are missing.
    """
    state = load_state_dict_file(path)
    own = model.state_dict()
    prefix = _best_prefix(state, set(own))
    mapped = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    report = LoadReport(prefix=prefix)
    report.unexpected = sorted(k for k in state if not k.startswith(prefix) or k[len(prefix) :] not in own)
    usable = {}
    for key, value in mapped.items():
        if key not in own:
            continue
        if own[key].shape != value.shape:
            raise ValueError(
                f"{path}: {prefix + key} has shape {tuple(value.shape)}, the model expects {tuple(own[key].shape)}"
            )
        usable[key] = value
    if not usable:
        raise ValueError(f"{path}: no weight name matches the model (first file key {next(iter(state))!r})")
    report.loaded = sorted(usable)
    report.missing = sorted(k for k in own if k not in usable and not k.endswith("num_batches_tracked"))
    if strict and report.missing:
        raise ValueError(f"{path}: missing {len(report.missing)} weights, first {report.missing[0]!r}")
    model.load_state_dict(usable, strict=False)
    return report


def init_from_file(model: nn.Module, path: str | os.PathLike) -> LoadReport:
    """``--init``: load the file into ``model.backbone`` when the model has one, else the model.

    A file from a whole seesall model (e.g. a classifier checkpoint) also fills the
    backbone; head weights are never taken from the file (the head is new).
    """
    target = getattr(model, "backbone", model)
    return load_backbone_weights(target, path, strict=True)


def replace_module(model: nn.Module, name: str, new: nn.Module) -> nn.Module:
    """Replace the sub-module at dotted ``name`` (e.g. ``"head"``) and return the old one."""
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    if not hasattr(parent, attr):
        raise ValueError(f"replace_module: the model has no sub-module {name!r}")
    old = getattr(parent, attr)
    setattr(parent, attr, new)
    return old


def _stage_param_names(model: nn.Module, upto: int) -> set[str]:
    backbone = getattr(model, "backbone", model)
    if not hasattr(backbone, "stages"):
        raise ValueError("freezing by stage number needs a seesall backbone (with stages())")
    prefix = "backbone." if backbone is not model else ""
    stages = backbone.stages()
    if not 0 <= upto < len(stages):
        raise ValueError(f"freeze stage {upto}: the backbone has stages 0..{len(stages) - 1}")
    ids = {id(p) for s in stages[: upto + 1] for p in s.parameters()}
    return {prefix + n for n, p in backbone.named_parameters() if id(p) in ids}


def freeze(model: nn.Module, patterns: Sequence[str]) -> list[str]:
    """Set ``requires_grad=False`` on parameters chosen by ``patterns``; return their names.

    Each pattern is a stage number N (freeze the backbone stem = stage 0 up to stage N,
    as detectron2's FREEZE_AT minus one), ``re:REGEX`` (``re.search`` on the name) or a glob
    (``fnmatch``, e.g. ``backbone.layer1.*``). A pattern that matches nothing is an error.
    """
    chosen: set[str] = set()
    names = [n for n, _ in model.named_parameters()]
    for pattern in patterns:
        if pattern.isdigit():
            hit = _stage_param_names(model, int(pattern))
        elif pattern.startswith("re:"):
            rx = re.compile(pattern[3:])
            hit = {n for n in names if rx.search(n)}
        else:
            hit = {n for n in names if fnmatch.fnmatchcase(n, pattern)}
        if not hit:
            raise ValueError(f"--freeze {pattern!r} matches no parameter (e.g. {names[0]!r})")
        chosen |= hit
    for n, p in model.named_parameters():
        if n in chosen:
            p.requires_grad_(False)
    return sorted(chosen)


def freeze_batchnorm(model: nn.Module) -> int:
    """Replace every BatchNorm2d with torchvision's FrozenBatchNorm2d (fixed statistics).

    Returns the number of layers replaced. Loads from BatchNorm state dicts unchanged.
    """
    count = 0
    for name, child in list(model.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            with torch.no_grad():
                frozen.weight.copy_(child.weight)
                frozen.bias.copy_(child.bias)
                frozen.running_mean.copy_(child.running_mean)
                frozen.running_var.copy_(child.running_var)
            setattr(model, name, frozen)
            count += 1
        else:
            count += freeze_batchnorm(child)
    return count


def param_groups(model: nn.Module, *, lr: float, weight_decay: float, backbone_lr_mult: float = 1.0) -> list[dict]:
    """Optimiser groups: trainable ``backbone.*`` parameters at ``lr * backbone_lr_mult``,
    the rest at ``lr``; biases and 1-d (norm) weights without weight decay."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = (name.startswith("backbone."), p.ndim <= 1)
        groups.setdefault(key, []).append(p)
    if not groups:
        raise ValueError("every parameter is frozen: nothing to train")
    result = []
    for (is_backbone, no_decay), params in sorted(groups.items()):
        group_lr = lr * (backbone_lr_mult if is_backbone else 1.0)
        result.append(
            {
                "params": params,
                "lr": group_lr,
                "initial_lr": group_lr,
                "weight_decay": 0.0 if no_decay else weight_decay,
            }
        )
    return result
