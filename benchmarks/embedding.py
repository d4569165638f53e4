"""Embedding benchmark: SimCLR vs raw pixels vs supervised; miners and losses for retrieval.

One run, on two data sets, each split 70/30 into train/test: scikit-learn's real
8×8 handwritten digits, and 32 px crops of whole synthetic-world objects (not
occluded, not cut by the border, with a margin of scene around them; class =
identity, 8 shapes), see :func:`seesall.tasks.embedding.data.world_crops`:

1. linear probe (logistic regression on standardised frozen features, C chosen
   on a validation split of the training set) and 5-NN accuracy of raw pixels, a
   SimCLR encoder trained without labels (on the training images, or with
   ``--unlabelled-scenes N`` also on the crops of N extra scenes), and a
   supervised encoder of the same architecture (cross-entropy), plus SimCLR /
   supervised;
2. triplet loss with random, hardest, semi-hard and distance-weighted mining,
   and the contrastive loss, each trained by the engine through the embedding
   recipe (``seesall train embedding``) on class-balanced P×K batches with a
   learning-rate warm-up: recall@1 (= precision@1) and mAP@R on the test set
   (leave-one-out retrieval among test images).

SimCLR and the supervised encoder train with :func:`~seesall.tasks.embedding.train.train_steps`
(the recipe has no SimCLR or classification objective). Budgets are in optimiser
steps (flags); CPU time and wall-clock are recorded.

    python benchmarks/embedding.py            # ~28 min of one CPU thread
    python benchmarks/embedding.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import torch

from seesall.engine.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainerConfig
from seesall.engine.recipe import TaskParts
from seesall.engine.run import train as run_training
from seesall.io.atomic import write_bytes, write_json, write_text
from seesall.tasks.embedding import recipe
from seesall.tasks.embedding.augment import AugmentConfig
from seesall.tasks.embedding.batch_augment import BatchAugment
from seesall.tasks.embedding.data import (
    CropConfig,
    ImageSet,
    load_digits_images,
    unlabelled,
    world_crops,
)
from seesall.tasks.embedding.metrics import retrieval_metrics
from seesall.tasks.embedding.models import ENCODERS, Classifier
from seesall.tasks.embedding.probe import (
    eval_mode,
    extract,
    knn_accuracy,
    linear_probe,
    raw_pixels,
    to_input,
)
from seesall.tasks.embedding.simclr import SimCLRLoss, simclr_net
from seesall.tasks.embedding.train import classification_loss, random_batches, train_steps

RESULTS = Path(__file__).parent / "results"
MINERS = ("random", "hardest", "semihard", "distance_weighted")


@dataclass(frozen=True)
class Setup:
    """One data set's encoder, input size and augmentations."""

    name: str
    encoder: str
    size: int
    simclr_aug: AugmentConfig
    sup_aug: AugmentConfig
    temperature: float


def setups() -> dict[str, Setup]:
    digits_geo = dict(size=8, flip=False, blur_p=0.0, grayscale_p=0.0)
    crops_geo = dict(size=32)
    return {
        "digits": Setup("digits", "convnet_digits", 8,
                        AugmentConfig(**digits_geo, crop_scale=(0.5, 1.0), rotation=15,
                                      jitter=0.4, noise_std=0.05, cutout_p=0.3),
                        AugmentConfig(**digits_geo, crop_scale=(0.7, 1.0), rotation=10,
                                      jitter=0.0), temperature=0.5),
        "world_crops": Setup("world_crops", "convnet_crops", 32,
                             # SimCLR's recipe: views that hide colour and texture (the
                             # class is the shape); see results/embedding.md for the trials
                             AugmentConfig(**crops_geo, crop_scale=(0.3, 1.0), jitter=1.0,
                                           grayscale_p=0.5, blur_p=0.5),
                             AugmentConfig(**crops_geo, crop_scale=(0.6, 1.0), jitter=0.0,
                                           grayscale_p=0.0, blur_p=0.0), temperature=0.2),
    }


def warmup(steps: int, args: argparse.Namespace) -> int:
    """Warm-up steps of a run of ``steps`` steps: ``--warmup-frac`` of them."""
    return int(round(args.warmup_frac * steps))


def _features(model: torch.nn.Module, data: ImageSet, size: int,
              fn: str = "features") -> torch.Tensor:
    with eval_mode(model):
        return extract(getattr(model, fn) if fn else model, data.images, size=size)


def _probe(name: str, ftr: torch.Tensor, fte: torch.Tensor, train: ImageSet,
           test: ImageSet) -> dict[str, float]:
    out = {"linear_probe": linear_probe(ftr, train.labels, fte, test.labels),
           "knn5": knn_accuracy(ftr, train.labels, fte, test.labels, k=5)}
    r = retrieval_metrics(fte, test.labels)
    out.update(recall_at_1=r["precision_at_1"], map_at_r=r["map_at_r"])
    print(f"  {name:<24} probe {out['linear_probe']:.4f}  5-NN {out['knn5']:.4f}  "
          f"R@1 {out['recall_at_1']:.4f}  mAP@R {out['map_at_r']:.4f}")
    return out


def representation_runs(s: Setup, train: ImageSet, test: ImageSet, args: argparse.Namespace,
                        ) -> tuple[dict[str, dict[str, float]], torch.Tensor]:
    """Raw pixels, SimCLR (no labels) and supervised: probe / k-NN / retrieval."""
    res = {"raw_pixels": _probe("raw pixels", raw_pixels(train.images), raw_pixels(test.images),
                                train, test)}
    torch.manual_seed(args.seed)
    model = simclr_net(s.encoder, proj_dim=64)
    aug = s.simclr_aug if s.name == "digits" else replace(s.simclr_aug,
                                                           rotation=args.crops_rotation)
    loss = SimCLRLoss(augment=aug, temperature=s.temperature)
    steps = args.simclr_steps if s.name == "digits" else args.crops_simclr_steps
    pool = simclr_pool(s.name, train, args)
    c0 = time.process_time()
    t = train_steps(model, lambda m, b: loss(m, b.images),
                    random_batches(pool, args.simclr_batch, args.seed),
                    steps=steps, lr=args.lr, warmup_steps=warmup(steps, args),
                    log_every=args.log_every)
    simclr_test = _features(model, test, s.size)
    res["simclr"] = {**_probe("simclr (no labels)", _features(model, train, s.size),
                              simclr_test, train, test),
                     "seconds": t["seconds"], "cpu_seconds": time.process_time() - c0,
                     "steps": steps, "final_loss": t["loss_nt_xent"],
                     "unlabelled_images": len(pool), "rotation": aug.rotation}
    torch.manual_seed(args.seed)
    clf = Classifier(encoder=ENCODERS[s.encoder](), num_classes=len(s_classes(train)))
    c0 = time.process_time()
    t = train_steps(clf, classification_loss(BatchAugment(s.sup_aug)),
                    random_batches(train, args.sup_batch, args.seed), steps=args.sup_steps,
                    lr=args.lr, warmup_steps=warmup(args.sup_steps, args))
    cpu = time.process_time() - c0
    with eval_mode(clf):
        direct = float((clf(to_input(test.images, s.size)).argmax(1) == test.labels)
                       .float().mean())
    res["supervised"] = {**_probe("supervised (CE)", _features(clf, train, s.size),
                                  _features(clf, test, s.size), train, test),
                         "test_accuracy": direct, "seconds": t["seconds"],
                         "cpu_seconds": cpu, "steps": args.sup_steps}
    res["simclr_over_supervised_probe"] = (res["simclr"]["linear_probe"]
                                           / res["supervised"]["linear_probe"])
    return res, simclr_test


def simclr_pool(name: str, train: ImageSet, args: argparse.Namespace) -> ImageSet:
    """SimCLR's training images, labels dropped: the training split, plus on world crops the
    crops of ``--unlabelled-scenes`` extra scenes (seeds after the labelled ones, so no test
    scene and no labelled scene is among them)."""
    if name != "world_crops" or args.unlabelled_scenes <= 0:
        return unlabelled(train)
    extra = world_crops(num_scenes=args.unlabelled_scenes, size=32,
                        seed=args.seed + args.world_scenes,
                        cfg=CropConfig(context=args.crop_context))
    print(f"  SimCLR pool: {len(train)} training + {len(extra)} unlabelled crops")
    return unlabelled(train, extra)


def s_classes(data: ImageSet) -> tuple[str, ...]:
    return data.class_names


METRIC_RUNS: dict[str, tuple[str, str]] = {
    **{f"triplet_{m}": ("triplet", m) for m in MINERS}, "contrastive": ("contrastive", "all")}


def metric_runs(s: Setup, train: ImageSet, test: ImageSet, args: argparse.Namespace,
                ) -> tuple[dict[str, dict[str, float]], dict[str, torch.Tensor]]:
    """Triplet loss with each miner, and the contrastive loss, each trained by the engine
    (``seesall train embedding``'s recipe on these image sets): retrieval on the test set."""
    res, embeddings = {}, {}
    pk = args.metric_classes > 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (loss, miner) in METRIC_RUNS.items():
            margin = args.margin if loss == "triplet" else args.contrastive_margin
            cfg = RunConfig(
                task_name=recipe.NAME, out=str(Path(tmp) / name),
                model=ModelConfig(name=s.encoder),
                data=DataConfig(source=s.name, image_size=s.size,
                                batch_size=1 if pk else args.metric_batch),
                optim=OptimConfig(lr=args.metric_lr,
                                  warmup_steps=args.metric_warmup),
                trainer=TrainerConfig(max_steps=args.metric_steps, seed=args.seed, device="cpu",
                                      threads=1, log_every=args.metric_steps, eval_every=0,
                                      checkpoint_every=args.metric_steps, progress=False),
                task=recipe.TaskConfig(loss=loss, miner=miner, margin=margin, dim=args.dim,
                                       classes_per_batch=args.metric_classes,
                                       per_class=max(2, args.metric_batch
                                                     // max(args.metric_classes, 1))))
            built: list[TaskParts] = []

            def build(c: RunConfig, built: list[TaskParts] = built) -> TaskParts:
                built.append(recipe.parts_from_sets(c, train, test, size=s.size,
                                                    augment=s.sup_aug))
                return built[-1]

            t0, c0 = time.perf_counter(), time.process_time()
            out = run_training(cfg, SimpleNamespace(build=build))  # type: ignore[arg-type]
            r = out["metrics"]  # the recipe's RetrievalEvaluator on the test set
            res[name] = {"recall_at_1": r["precision_at_1"], "recall_at_5": r["recall_at_5"],
                         "map_at_r": r["map_at_r"], "r_precision": r["r_precision"],
                         "seconds": time.perf_counter() - t0,
                         "cpu_seconds": time.process_time() - c0, "steps": out["step"]}
            embeddings[name] = _features(built[-1].model, test, s.size, fn="")
            print(f"  {name:<24} R@1 {r['precision_at_1']:.4f}  mAP@R {r['map_at_r']:.4f}  "
                  f"({res[name]['cpu_seconds']:.0f} s CPU)")
    return res, embeddings


def tsne_figure(panels: list[tuple[str, torch.Tensor, torch.Tensor, tuple[str, ...]]]) -> bytes:
    """One PNG with a t-SNE scatter per panel, points coloured by class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), squeeze=False)
    for ax, (title, x, y, names) in zip(axes[0], panels, strict=True):
        xy = TSNE(n_components=2, init="pca", perplexity=min(30, len(x) - 1), random_state=0).fit_transform(
            x.numpy())
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=y.numpy(), cmap="tab10", s=6, vmin=0, vmax=9)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        handles = [plt.Line2D([], [], marker="o", ls="", color=sc.cmap(sc.norm(i)), label=n)
                   for i, n in enumerate(names) if (y == i).any()]
        ax.legend(handles=handles, fontsize=6, loc="best", markerscale=0.8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def load(name: str, args: argparse.Namespace) -> tuple[ImageSet, ImageSet]:
    """The digits, or crops of whole world objects (one or two per 128 px scene) at 32 px."""
    data = load_digits_images() if name == "digits" else world_crops(
        num_scenes=args.world_scenes, size=32, seed=args.seed,
        cfg=CropConfig(context=args.crop_context))
    return data.split(0.3, seed=args.seed)


def markdown(results: dict) -> str:
    lines = ["# Embedding benchmark", "",
             f"Command: `{results['command']}`; "
             f"{results['cpu_seconds']:.0f} s of CPU ({results['seconds']:.0f} s wall-clock on "
             "a shared machine).",
             "", "## Representations (test accuracy of a linear probe on frozen features)", "",
             "| data | raw pixels | SimCLR (no labels) | supervised (probe) | supervised (own head)"
             " | SimCLR / supervised | SimCLR 5-NN |", "|---|---|---|---|---|---|---|"]
    for name, r in results["datasets"].items():
        rep = r["representations"]
        lines.append(f"| {name} ({r['train']}/{r['test']}) | {rep['raw_pixels']['linear_probe']:.4f}"
                     f" | {rep['simclr']['linear_probe']:.4f} | "
                     f"{rep['supervised']['linear_probe']:.4f} | "
                     f"{rep['supervised']['test_accuracy']:.4f} | "
                     f"{rep['simclr_over_supervised_probe']:.3f} | {rep['simclr']['knn5']:.4f} |")
    lines += ["", "Linear probe: logistic regression on standardised encoder features (before any "
              "head), C chosen on a stratified 20 % validation split of the training split.",
              "SimCLR's training images (no labels): " + "; ".join(
                  f"{name} {r['representations']['simclr'].get('unlabelled_images', r['train'])}"
                  f" (view rotation ±{r['representations']['simclr'].get('rotation', 0):g}°)"
                  for name, r in results["datasets"].items()) + "."]
    lines += ["", "## Retrieval on the test set (leave-one-out): recall@1 / mAP@R", "",
              "| loss / miner | " + " | ".join(results["datasets"]) + " |",
              "|---|" + "---|" * len(results["datasets"])]
    rows = list(next(iter(results["datasets"].values()))["metric"])
    for row in rows:
        cells = [f"{r['metric'][row]['recall_at_1']:.4f} / {r['metric'][row]['map_at_r']:.4f}"
                 for r in results["datasets"].values()]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    for label in ("raw_pixels", "simclr", "supervised"):
        cells = [f"{r['representations'][label]['recall_at_1']:.4f} / "
                 f"{r['representations'][label]['map_at_r']:.4f}"
                 for r in results["datasets"].values()]
        lines.append(f"| ({label} features) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["digits", "world_crops"])
    p.add_argument("--simclr-steps", type=int, default=100, help="SimCLR steps on the digits")
    p.add_argument("--crops-simclr-steps", type=int, default=800,
                   help="SimCLR steps on the world crops")
    p.add_argument("--simclr-batch", type=int, default=128)
    p.add_argument("--sup-steps", type=int, default=150)
    p.add_argument("--sup-batch", type=int, default=128)
    p.add_argument("--metric-steps", type=int, default=300)
    p.add_argument("--metric-batch", type=int, default=64,
                   help="images per metric-learning batch (P×K with --metric-classes P)")
    p.add_argument("--metric-classes", type=int, default=8,
                   help="P of class-balanced P×K batches (K = batch / P); 0 = uniform batches")
    p.add_argument("--metric-lr", type=float, default=1e-3)
    p.add_argument("--warmup-frac", type=float, default=0.1,
                   help="linear learning-rate warm-up over this fraction of the SimCLR and "
                        "supervised runs' steps")
    p.add_argument("--metric-warmup", type=int, default=50,
                   help="linear learning-rate warm-up steps of the metric-learning runs")
    p.add_argument("--world-scenes", type=int, default=2000)
    p.add_argument("--crop-context", type=float, default=0.2,
                   help="margin of scene around each world crop, a fraction of the box's side")
    p.add_argument("--crops-rotation", type=float, default=0.0,
                   help="largest rotation (degrees) of SimCLR's views of world crops")
    p.add_argument("--unlabelled-scenes", type=int, default=0,
                   help="SimCLR on world crops also trains on the crops of this many extra "
                        "scenes (unlabelled; the probe and the supervised encoder do not)")
    p.add_argument("--margin", type=float, default=0.2, help="triplet margin")
    p.add_argument("--contrastive-margin", type=float, default=1.0)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--no-metric", action="store_true",
                   help="representations only (raw pixels, SimCLR, supervised): no metric runs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="10 steps everywhere (smoke run)")
    p.add_argument("--out", default="embedding")
    args = p.parse_args()
    if args.quick:
        args.simclr_steps = args.crops_simclr_steps = args.sup_steps = args.metric_steps = 10
        args.world_scenes = min(args.world_scenes, 100)
        args.metric_warmup = min(args.metric_warmup, 5)
    torch.set_num_threads(args.threads)
    start, cpu_start = time.perf_counter(), time.process_time()
    flags = [f"--{k.replace('_', '-')} " + (" ".join(v) if isinstance(v, list) else str(v))
             for k, v in vars(args).items() if k not in ("quick", "out", "log_every", "no_metric")]
    results: dict = {"command": " ".join(["python benchmarks/embedding.py", *flags]
                                         + ["--no-metric"] * args.no_metric), "datasets": {}}
    panels = []
    for name in args.datasets:
        s = setups()[name]
        train, test = load(name, args)
        print(f"{name}: {len(train)} train / {len(test)} test, {len(train.class_names)} classes")
        rep, simclr_test = representation_runs(s, train, test, args)
        met, emb = ({}, {}) if args.no_metric else metric_runs(s, train, test, args)
        results["datasets"][name] = {"train": len(train), "test": len(test),
                                     "representations": rep, "metric": met}
        results.update(seconds=time.perf_counter() - start,
                       cpu_seconds=time.process_time() - cpu_start)
        write_json(RESULTS / f"{args.out}.json", results, indent=2)  # partial results
        write_text(RESULTS / f"{args.out}.md", markdown(results))
        panels.append((f"{name}: SimCLR features (no labels)", simclr_test, test.labels,
                       test.class_names))
        if met:
            best = max(met, key=lambda k: met[k]["map_at_r"])
            panels.append((f"{name}: {best} embedding", emb[best], test.labels,
                           test.class_names))
    results["seconds"] = time.perf_counter() - start
    results["cpu_seconds"] = time.process_time() - cpu_start
    write_json(RESULTS / f"{args.out}.json", results, indent=2)
    write_text(RESULTS / f"{args.out}.md", markdown(results))
    write_bytes(RESULTS / f"{args.out}_tsne.png", tsne_figure(panels))
    print(json.dumps({k: v for k, v in results.items() if k != "datasets"}))
    print(markdown(results))


if __name__ == "__main__":
    main()
