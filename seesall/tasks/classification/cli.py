"""``seesall eval classification``: top-1/top-5 of a checkpoint on world crops or an image folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from seesall.engine.checkpoint import load_checkpoint
from seesall.engine.config import build_run_config
from seesall.engine.data import eval_loader
from seesall.engine.evaluation import evaluate as run_evaluation
from seesall.engine.recipe import VAL_SEED_OFFSET, task_options
from seesall.engine.transfer import freeze_batchnorm
from seesall.io.atomic import write_json
from seesall.tasks.classification import recipe
from seesall.tasks.classification.data import ImageFolderDataset, collate_crops
from seesall.tasks.classification.metrics import TopKAccuracy


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        required=True,
        metavar="RUN_DIR|CKPT",
        help="a run directory (its checkpoints/best) or a checkpoint folder",
    )
    parser.add_argument(
        "--which", choices=["best", "last"], default="best", help="which checkpoint of a run directory (default best)"
    )
    parser.add_argument(
        "--data",
        default="world",
        metavar="world|PATH",
        help="world crops, or an image folder PATH/<class>/<image> with the run's classes",
    )
    parser.add_argument("--num", type=int, default=512, help="number of world crops (default 512)")
    parser.add_argument(
        "--seed", type=int, default=None, help="first world scene seed (default: the run's held-out validation seeds)"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="evaluation batch size")
    parser.add_argument("--out", metavar="JSON", help="also write the metrics to this file")


def _model_and_config(args: argparse.Namespace):
    data = load_checkpoint(args.checkpoint, name=args.which)
    meta = data.meta
    if meta.get("task") != recipe.NAME:
        raise ValueError(f"{args.checkpoint}: a {meta.get('task')!r} checkpoint, not classification")
    conf = dict(meta["config"])
    cfg = build_run_config(
        task_name=recipe.NAME,
        out=str(conf.pop("out")),
        overrides={},
        where=f"{args.checkpoint} meta.json",
        file_data={k: v for k, v in conf.items() if k != "task_name"},
        task_config_class=recipe.TaskConfig,
    )
    model = recipe.build_model(meta["model"], cfg, num_classes=len(meta["class_names"]))
    if cfg.model.freeze_bn:
        freeze_batchnorm(model)
    model.load_state_dict(data.model)
    return model, cfg, list(meta["class_names"])


def evaluate(args: argparse.Namespace) -> int:
    if args.num < 1 or args.batch_size < 1:
        raise ValueError("--num and --batch-size must be >= 1")
    model, cfg, classes = _model_and_config(args)
    if args.data == "world":
        seed = args.seed if args.seed is not None else task_options(cfg, recipe.TaskConfig).world_seed + VAL_SEED_OFFSET
        dataset = recipe.world_crops(cfg, n=args.num, seed=seed)
    else:
        dataset = ImageFolderDataset(Path(args.data), crop_size=cfg.data.image_size, classes=classes)
    loader = eval_loader(
        dataset, batch_size=args.batch_size, collate_fn=collate_crops, num_workers=0, rank=0, world_size=1
    )
    metrics = run_evaluation(
        model,
        loader,
        inputs=recipe.model_inputs,
        postprocess=recipe.postprocess_batch,
        evaluator=TopKAccuracy(),
        device=torch.device("cpu"),
    )
    print(" ".join(f"{k}={v:.4f}" if k != "count" else f"{k}={int(v)}" for k, v in metrics.items()))
    if args.out:
        write_json(args.out, metrics, indent=2)
    return 0
