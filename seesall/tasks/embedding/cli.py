"""``seesall eval embedding``: retrieval metrics of a vector file (from ``seesall embed``)."""

from __future__ import annotations

import argparse
import json

import torch

from seesall.io.atomic import write_json
from seesall.tasks.embedding.embedder import load_vectors
from seesall.tasks.embedding.metrics import retrieval_metrics


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vectors", help=".npz with 'vectors' [N, D] and 'labels' [N]")
    parser.add_argument("--reference", help="optional .npz searched instead of the queries "
                        "themselves (otherwise leave-one-out)")
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--out", help="write the metrics as JSON here")


def _load(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_vectors(path)
    if "labels" not in data:
        raise ValueError(f"{path}: field 'labels' is missing (needed for retrieval metrics)")
    return torch.from_numpy(data["vectors"]).float(), torch.from_numpy(data["labels"]).long()


def evaluate(args: argparse.Namespace) -> int:
    q, ql = _load(args.vectors)
    r, rl = _load(args.reference) if args.reference else (None, None)
    metrics = retrieval_metrics(q, ql, r, rl, ks=tuple(args.ks))
    print(json.dumps(metrics, indent=2))
    if args.out:
        write_json(args.out, metrics, indent=2)
    return 0
