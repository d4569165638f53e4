"""``seesall train``: help lists every flag, a run directory holds everything, bad input exits 2."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from seesall.cli.main import build_parser, main
from seesall.engine.checkpoint import load_checkpoint

RUN = [
    "--model",
    "classifier_tiny",
    "--max-steps",
    "6",
    "--train-size",
    "32",
    "--val-size",
    "16",
    "--batch-size",
    "8",
    "--image-size",
    "32",
    "--log-every",
    "2",
    "--eval-every",
    "3",
    "--checkpoint-every",
    "3",
    "--threads",
    "1",
    "--no-progress",
    "--seed",
    "3",
]


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_help_documents_every_flag(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    parser = _train_parser()
    flags = [s for a in parser._actions for s in a.option_strings]
    for required in [
        "--model",
        "--data",
        "--max-steps",
        "--minutes",
        "--seed",
        "--out",
        "--resume",
        "--init",
        "--freeze",
        "--config",
        "--amp",
        "--compile",
        "--grad-accum",
        "--clip-grad-norm",
        "--nonfinite",
        "--warmup-steps",
        "--schedule",
    ]:
        assert required in flags
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag in text
        if action.option_strings:
            assert action.help and action.help.strip(), action.option_strings


def test_run_directory_holds_config_checkpoints_events_scalars(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", "classification", *RUN, "--out", str(run)]) == 0
    assert "trained 6 steps" in capsys.readouterr().out
    assert (run / "config.yaml").is_file()
    for name in ("last", "best"):
        folder = run / "checkpoints" / name
        assert (folder / "model.safetensors").is_file() and (folder / "meta.json").is_file()
    meta = load_checkpoint(run).meta
    assert meta["task"] == "classification" and meta["model"] == "classifier_tiny"
    assert meta["step"] == 6 and meta["class_names"][0] == "circle" and "top1" in meta["metrics"]
    assert meta["config"]["trainer"]["seed"] == 3
    assert list((run / "tb").glob("events.out.tfevents.*"))
    rows = [json.loads(x) for x in (run / "scalars.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 3, 4, 6]  # every 2 steps + evaluations at 3 and 6
    assert all(isinstance(r["loss"], float) for r in rows) and "val/top1" in rows[1]
    assert load_file(str(run / "checkpoints" / "last" / "model.safetensors"))

    # a second train into the same directory is refused; --resume with more steps continues
    assert main(["train", "classification", *RUN, "--out", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "classification", "--resume", str(run), "--max-steps", "8", "--no-progress"]) == 0
    assert load_checkpoint(run).meta["step"] == 8

    out = tmp_path / "m.json"
    assert main(["eval", "classification", "--checkpoint", str(run), "--num", "24", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["count"] == 24 and 0.0 <= metrics["top1"] <= metrics["top5"] <= 1.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "nope"], "not a classification model"),
        (["--max-steps", "0"], "trainer.max_steps must be > 0"),
        (["--init", "/no/such/file.pt"], "not found"),
        (["--freeze", "zzz.*"], "matches no parameter"),
        (["--amp", "fp16", "--device", "cpu"], "fp16 needs CUDA"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    code = main(
        [
            "train",
            "classification",
            "--out",
            str(tmp_path / "r"),
            "--train-size",
            "8",
            "--batch-size",
            "4",
            "--val-size",
            "0",
            "--no-progress",
            "--max-steps",
            "1",
            *argv,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err


def test_models_lists_names_tasks_and_parameters(capsys) -> None:
    from seesall.tasks.classification.model import MODELS

    assert main(["models", "--task", "classification"]) == 0
    out = capsys.readouterr().out
    n = sum(p.numel() for p in MODELS["classifier_tiny"](num_classes=8).parameters())
    line = next(x for x in out.splitlines() if x.startswith("classifier_tiny "))
    assert "classification" in line and f"{n:,}" in line
    assert all(name in out for name in MODELS)


def test_task_options_do_not_shadow_common_flags() -> None:
    import dataclasses

    from seesall.cli.train import _FLAGS, _recipes

    common = {flag for flag, *_ in _FLAGS} | {"--out", "--resume", "--config"}
    for name, recipe in _recipes().items():
        for f in dataclasses.fields(recipe.TaskConfig) if recipe.TaskConfig else ():
            flag = "--" + f.name.replace("_", "-")
            assert flag not in common, f"{name}.TaskConfig.{f.name} shadows the common flag {flag}"


def test_recipe_defaults_sit_under_config_file_and_flags(tmp_path: Path) -> None:
    from seesall.cli.train import _recipes, config_from_args

    parser = _train_parser()
    recipe = _recipes()["embedding"]
    assert recipe.DEFAULTS["optim"]["warmup_steps"] == 50
    cfg, _ = config_from_args(parser.parse_args(["embedding", "--out", str(tmp_path / "a")]), recipe)
    assert cfg.optim.warmup_steps == 50 and cfg.optim.lr == type(cfg.optim)().lr
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("optim:\n  warmup_steps: 7\n  lr: 0.5\n")
    args = parser.parse_args(["embedding", "--out", str(tmp_path / "b"), "--config", str(yaml_file)])
    assert config_from_args(args, recipe)[0].optim.warmup_steps == 7
    args = parser.parse_args(["embedding", "--out", str(tmp_path / "c"), "--warmup-steps", "3"])
    assert config_from_args(args, recipe)[0].optim.warmup_steps == 3
    args = parser.parse_args(["classification", "--out", str(tmp_path / "d")])
    assert config_from_args(args, _recipes()["classification"])[0].optim.warmup_steps == 0
