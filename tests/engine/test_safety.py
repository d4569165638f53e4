"""Loading never runs code; a NaN loss stops (or is skipped) naming the step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from seesall.cli.main import main
from seesall.engine.checkpoint import load_checkpoint
from seesall.engine.run import train
from seesall.engine.trainer import NonFiniteLossError
from seesall.engine.transfer import load_state_dict_file


class _Payload:
    """Unpickling this would create ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _evil_file(tmp_path: Path, name: str) -> tuple[Path, Path]:
    marker = tmp_path / "PWNED"
    path = tmp_path / name
    torch.save({"conv1.weight": torch.zeros(1), "x": _Payload(marker)}, path)
    assert not marker.exists()
    return path, marker


def test_pickle_with_code_is_refused_by_the_weight_loader(tmp_path: Path) -> None:
    path, marker = _evil_file(tmp_path, "evil.pt")
    with pytest.raises(ValueError, match="refused, not a weights-only"):
        load_state_dict_file(path)
    assert not marker.exists()


def test_pickle_with_code_is_refused_by_train_init(tmp_path: Path, capsys) -> None:
    path, marker = _evil_file(tmp_path, "evil.pth")
    code = main(
        [
            "train",
            "classification",
            "--init",
            str(path),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "1",
            "--train-size",
            "8",
            "--batch-size",
            "4",
            "--val-size",
            "0",
            "--no-progress",
        ]
    )
    assert code == 2 and not marker.exists()
    assert "evil.pth" in capsys.readouterr().err


def test_pickle_in_a_checkpoint_folder_is_refused(tmp_path: Path, tiny) -> None:
    run = tmp_path / "run"
    train(tiny.make_config(str(run), ["trainer.max_steps=2"]), tiny)
    folder = (run / "checkpoints" / "last").resolve()
    path, marker = _evil_file(tmp_path, "evil.pt")
    shutil.copy(path, folder / "model.safetensors")
    with pytest.raises(ValueError, match="model.safetensors"):
        load_checkpoint(run)
    shutil.copy(path, folder / "state.safetensors")
    with pytest.raises(ValueError):
        load_checkpoint(folder, train=True)
    assert not marker.exists()


def test_nan_loss_stops_naming_the_step(tmp_path: Path, tiny) -> None:
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 3 \(ce=nan"):
        train(tiny.make_config(str(tmp_path / "a"), ["task.nan_at_call=3"]), tiny)


def test_nan_loss_skipped_by_flag(tmp_path: Path, tiny) -> None:
    run = tmp_path / "b"
    cfg = tiny.make_config(str(run), ["task.nan_at_call=3", "trainer.nonfinite=skip", "trainer.max_steps=6"])
    result = train(cfg, tiny)
    assert result["step"] == 6 and result["skipped"] == 1
    rows = [json.loads(x) for x in (run / "scalars.jsonl").read_text().splitlines()]
    assert rows[2]["step"] == 3 and rows[2]["loss"] is None and rows[2]["skipped"] == 1
    assert all(r["loss"] is not None for r in rows[3:])
    weights = load_checkpoint(run).model
    assert all(torch.isfinite(v).all() for v in weights.values())
