"""Semantic segmentation on the synthetic world: our U-Nets and FCN vs two peers.

    .venv/bin/python benchmarks/segmentation.py [--budget 180 --size 64 --batch 8]

Every model is trained from scratch with the same data (world scenes, seeds 0..),
the same loss (pixel-wise cross-entropy), optimiser (AdamW, lr 2e-3, cosine) and
training budget (``--budget`` CPU seconds, or a number of steps), then evaluated
on the same held-out scenes (seeds 10,000,000..):
mIoU and boundary IoU (Cheng et al. 2021, d = 2 % of the diagonal, at least 1 px).
Peers: torchvision ``lraspp_mobilenet_v3_large`` (weights=None, weights_backbone=None)
and ``segmentation_models_pytorch.Unet`` (resnet18 encoder, encoder_weights=None;
a benchmark-only dependency). Speed: training images/s (median step time) and
inference ms per 256×256 image (batch 1, median of 7 runs), one thread each.
Writes benchmarks/results/segmentation.{json,md} and segmentation.png.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from seesall.io.atomic import write_json, write_text
from seesall.nn.backbones import normalize_image
from seesall.tasks.semantic.metrics import SemanticMetric
from seesall.tasks.semantic.models import fcn8s_resnet18, unet_small
from seesall.viz.layout import grid, save_png, titled
from seesall.viz.palette import colorize_semantic
from seesall.world import SEMANTIC_CLASSES, WorldConfig, render_scene

RESULTS = Path(__file__).parent / "results"
VAL_SEED = 10_000_000
C = len(SEMANTIC_CLASSES)


class Logits(nn.Module):
    """Uniform output: Tensor[B, C, H, W] logits from any of the models."""

    def __init__(self, net: nn.Module, key: str | None) -> None:
        super().__init__()
        self.net, self.key = net, key

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        return out[self.key] if self.key is not None else out


def model_table() -> dict[str, Callable[[], nn.Module]]:
    table: dict[str, Callable[[], nn.Module]] = {}
    for mode in ("nearest", "maxunpool", "transposed"):
        for skips in (True, False):
            name = f"unet_{mode}{'' if skips else '_noskip'}"
            table[name] = (lambda m=mode, s=skips: Logits(
                unet_small(num_classes=C, up_mode=m, skips=s), "logits"))
    table["fcn8s_resnet18"] = lambda: Logits(fcn8s_resnet18(num_classes=C), "logits")
    table["tv_lraspp_mobilenet_v3"] = lambda: Logits(
        torchvision.models.segmentation.lraspp_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=C), "out")

    def smp_unet() -> nn.Module:
        import segmentation_models_pytorch as smp

        return Logits(smp.Unet("resnet18", encoder_weights=None, classes=C), None)

    table["smp_unet_resnet18"] = smp_unet
    return table


def render(n: int, seed: int, size: int) -> tuple[Tensor, Tensor]:
    cfg = WorldConfig(size=(size, size))
    scenes = [render_scene(cfg, seed + i) for i in range(n)]
    images = torch.stack([s.image.as_subclass(Tensor) for s in scenes])
    labels = torch.stack([s.semantic.as_subclass(Tensor).long() for s in scenes])
    return images, labels


def train(model: nn.Module, images: Tensor, labels: Tensor, steps: int, batch: int,
          lr: float, seed: int, budget: float | None) -> dict[str, float]:
    """AdamW with cosine decay over ``steps`` steps or, with ``budget``, over that many
    seconds of this process's CPU time (whichever runs out first)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    cpu0, done = time.process_time(), 0

    def progress() -> float:
        used = (time.process_time() - cpu0) / budget if budget else 0.0
        return min(1.0, max(done / steps, used))

    model.train()
    times, start = [], time.perf_counter()
    while progress() < 1.0:
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * progress()))
        idx = torch.randint(0, len(images), (batch,), generator=g)
        x, y = images[idx], labels[idx]
        flip = torch.rand(batch, generator=g) < 0.5  # horizontal flips
        x, y = torch.where(flip[:, None, None, None], x.flip(-1), x), \
            torch.where(flip[:, None, None], y.flip(-1), y)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(normalize_image(x)), y, ignore_index=255)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done += 1
        times.append(time.perf_counter() - t0)
    return {"train_seconds": time.perf_counter() - start, "final_loss": loss.item(), "steps": done,
            "train_images_per_s": batch / statistics.median(times)}


@torch.no_grad()
def evaluate(model: nn.Module, images: Tensor, labels: Tensor) -> tuple[dict, Tensor]:
    model.eval()
    metric = SemanticMetric(C)
    preds = []
    for i in range(0, len(images), 16):
        p = model(normalize_image(images[i:i + 16])).argmax(1)
        metric.update(p, labels[i:i + 16])
        preds.append(p)
    out = metric.compute()
    return {"mIoU": out["mIoU"], "pixel_accuracy": out["pixel_accuracy"],
            "boundary_iou": out["boundary_iou"]}, torch.cat(preds)


@torch.no_grad()
def inference_ms(model: nn.Module, size: int = 256, runs: int = 7) -> float:
    model.eval()
    x = torch.randn(1, 3, size, size)
    model(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def picture(images: Tensor, labels: Tensor, preds: dict[str, Tensor], path: Path) -> None:
    """Rows: held-out scenes; columns: image, ground truth, each model's prediction."""
    tiles = []
    for i in range(min(4, len(images))):
        tiles.append(titled(images[i], "image" if i == 0 else ""))
        tiles.append(titled(colorize_semantic(labels[i], C), "truth" if i == 0 else ""))
        for name, p in preds.items():
            short = name.replace("unet_", "u:").replace("_noskip", "-ns")[:14]
            tiles.append(titled(colorize_semantic(p[i], C), short if i == 0 else ""))
    save_png(grid([F.interpolate(t[None].float(), scale_factor=2, mode="nearest")[0].byte()
                   for t in tiles], ncols=2 + len(preds)), path)


def markdown(rows: dict[str, dict], args: argparse.Namespace) -> str:
    budget = (f"{args.budget:.0f} CPU seconds of training per model (at most {args.steps} steps)"
              if getattr(args, "budget", None) else f"{args.steps} steps")
    lines = [f"# Semantic segmentation (world {args.size}×{args.size}, {budget} × "
             f"batch {args.batch}, {args.train} train / {args.val} held-out scenes)", "",
             "| model | mIoU | boundary IoU | pixel acc | steps | train img/s | infer ms @256² | params M |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['mIoU']:.3f} | {r['boundary_iou']:.3f} | "
                     f"{r['pixel_accuracy']:.3f} | {r.get('steps', args.steps)} | "
                     f"{r['train_images_per_s']:.1f} | "
                     f"{r['inference_ms_256']:.1f} | {r['params_m']:.2f} |")
    return "\n".join(lines) + "\n"


def merge(names: list[str]) -> None:
    """Join the results of model groups run as separate processes (same settings)."""
    import json

    parts = [json.loads((RESULTS / f"{n}.json").read_text()) for n in names]
    keys = ("steps", "budget", "batch", "size", "train", "val", "lr")
    if any({k: p["config"].get(k) for k in keys} != {k: parts[0]["config"].get(k) for k in keys}
           for p in parts):
        raise ValueError(f"results {names} were run with different settings")
    rows = {k: v for p in parts for k, v in p["results"].items()}
    cfg = argparse.Namespace(**parts[0]["config"])
    write_json(RESULTS / "segmentation.json", {"config": vars(cfg), "groups": names,
                                               "results": rows}, indent=2)
    write_text(RESULTS / "segmentation.md", markdown(rows, cfg))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=None,
                   help="training CPU seconds per model (then --steps is only a cap)")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--train", type=int, default=400)
    p.add_argument("--val", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", default="", help="comma-separated model names (default: all)")
    p.add_argument("--name", default="segmentation",
                   help="output name: results/NAME.{json,md,png} (to run model groups in parallel)")
    p.add_argument("--merge", default="",
                   help="comma-separated result names to merge into results/segmentation.*")
    args = p.parse_args()
    if args.merge:
        merge(args.merge.split(","))
        return
    torch.set_num_threads(args.threads)
    table = model_table()
    names = [n for n in args.only.split(",") if n] or list(table)
    train_x, train_y = render(args.train, 0, args.size)
    val_x, val_y = render(args.val, VAL_SEED, args.size)
    rows, preds = {}, {}
    for name in names:
        torch.manual_seed(0)
        model = table[name]()
        r = train(model, train_x, train_y, args.steps, args.batch, args.lr, seed=0,
                  budget=args.budget)
        metrics, preds[name] = evaluate(model, val_x, val_y)
        r.update(metrics, inference_ms_256=inference_ms(model),
                 params_m=sum(q.numel() for q in model.parameters()) / 1e6)
        rows[name] = r
        print(name, {k: round(v, 4) for k, v in r.items()}, flush=True)
        write_json(RESULTS / f"{args.name}.json", {"config": vars(args), "results": rows},
                   indent=2)
        write_text(RESULTS / f"{args.name}.md", markdown(rows, args))
        picture(val_x, val_y, preds, RESULTS / f"{args.name}.png")


if __name__ == "__main__":
    main()
