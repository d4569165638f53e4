"""Configs: unknown keys and wrong types are errors naming the key; YAML round trip; flags win."""

from __future__ import annotations

from pathlib import Path

import pytest

from seesall.cli.main import main
from seesall.engine.config import (
    RunConfig,
    TrainerConfig,
    build_run_config,
    load_run_config,
    save_run_config,
)


def _build(data: dict, overrides: dict | None = None) -> RunConfig:
    return build_run_config(
        task_name="t", out="o", file_data=data, overrides=overrides or {}, task_config_class=None, where="cfg.yaml"
    )


def test_unknown_key_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"cfg.yaml: unknown key trainer.max_step\b"):
        _build({"trainer": {"max_step": 3}})
    with pytest.raises(ValueError, match="unknown section 'trainr'"):
        _build({"trainr": {}})


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("trainer", "max_steps", "ten"),
        ("trainer", "max_steps", 2.5),
        ("trainer", "compile", "yes"),
        ("optim", "lr", "fast"),
        ("optim", "milestones", ["a"]),
        ("trainer", "amp", "fp8"),
        ("data", "batch_size", True),
    ],
)
def test_wrong_type_names_the_key(section: str, key: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"{section}\.{key}"):
        _build({section: {key: value}})


def test_ranges_and_coercion() -> None:
    cfg = _build({"optim": {"lr": 1, "milestones": [3, 5]}, "trainer": {"minutes": 2}})
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.milestones == (3, 5) and cfg.trainer.minutes == 2.0
    with pytest.raises(ValueError, match="trainer.max_steps must be > 0"):
        _build({"trainer": {"max_steps": 0}})


def test_flags_override_file_and_frozen() -> None:
    cfg = _build({"trainer": {"max_steps": 5, "seed": 1}}, {"trainer": {"max_steps": 9}})
    assert (cfg.trainer.max_steps, cfg.trainer.seed) == (9, 1)
    with pytest.raises(AttributeError):
        cfg.trainer.seed = 3  # type: ignore[misc]


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = _build({"optim": {"milestones": [2, 4], "clip_grad_norm": 1.5}, "model": {"freeze": ["1"]}})
    save_run_config(cfg, tmp_path / "config.yaml")
    assert load_run_config(tmp_path / "config.yaml", None) == cfg
    assert TrainerConfig() == cfg.trainer


def test_cli_bad_config_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  max_stepz: 3\n")
    code = main(["train", "classification", "--config", str(bad), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "bad.yaml" in err and "trainer.max_stepz" in err
    bad.write_text("optim:\n  lr: fast\n")
    assert main(["train", "classification", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "optim.lr must be float" in capsys.readouterr().err
