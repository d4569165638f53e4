"""Panoptic FPN: semantic branch shapes, joint loss and its gradients, merged predictions,
PQ of perfect and hand-degraded predictions, and the recipe through the engine and CLI."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from seesall.cli.main import main
from seesall.nn.backbones import FeatureSpec
from seesall.structures import IGNORE_INDEX, collate
from seesall.tasks.panoptic import cli
from seesall.tasks.panoptic.merge import MergeConfig, merge_panoptic
from seesall.tasks.panoptic.model import PANOPTIC_MODELS, PanopticPrediction, semantic_targets
from seesall.tasks.panoptic.recipe import PanopticEvaluator
from seesall.tasks.panoptic.semantic_head import SemanticFPNHead
from seesall.tasks.semantic.recipe import batch_targets
from seesall.viz.layout import save_png
from seesall.world import STUFF_CLASSES, THING_CLASSES, WorldConfig, render_scene

torch.set_num_threads(1)
NUM_STUFF, NUM_THINGS = len(STUFF_CLASSES), len(THING_CLASSES)


def _scenes(n: int = 2, size: int = 64, seed: int = 0) -> list:
    cfg = WorldConfig(size=(size, size), num_objects=(2, 3))
    return [render_scene(cfg, seed + i) for i in range(n)]


def _model():
    torch.manual_seed(0)
    return PANOPTIC_MODELS["panoptic_fpn_small"](num_things=NUM_THINGS, num_stuff=NUM_STUFF)


@pytest.mark.parametrize("strides", [(4, 8, 16, 32), (8, 16, 32)])
def test_semantic_head_stages_and_shapes(strides: tuple[int, ...]) -> None:
    specs = [FeatureSpec(f"p{s.bit_length() - 1}", 8, s) for s in strides]
    head = SemanticFPNHead(in_specs=specs, num_classes=4, channels=16)
    # one conv stage per factor 2 to the finest level; the finest level gets one conv
    assert [len(b.convs) for b in head.branches] == [1, 1, 2, 3][: len(strides)]
    assert [b.num_up for b in head.branches] == [0, 1, 2, 3][: len(strides)]
    feats = {sp.name: torch.randn(2, 8, 64 // sp.stride, 96 // sp.stride) for sp in specs}
    assert head(feats).shape == (2, 4, 64, 96)  # finest map × its stride = the input size


def test_semantic_head_rejects_bad_levels() -> None:
    with pytest.raises(ValueError, match="doubling"):
        SemanticFPNHead(in_specs=[FeatureSpec("p2", 8, 4), FeatureSpec("p4", 8, 16)],
                        num_classes=4)
    head = SemanticFPNHead(in_specs=[FeatureSpec("p3", 8, 8)], num_classes=4)
    with pytest.raises(ValueError, match="lacks levels"):
        head({"p4": torch.zeros(1, 8, 2, 2)})


def test_semantic_targets_by_hand() -> None:
    sem = torch.tensor([[0, 2, 3], [7, IGNORE_INDEX, 1]])
    expected = torch.tensor([[0, 2, 3], [3, IGNORE_INDEX, 1]])  # 3 stuff: things -> "other" 3
    assert torch.equal(semantic_targets(sem, 3), expected)


def test_joint_loss_is_finite_and_reaches_both_branches() -> None:
    seg, scenes = _model(), _scenes()
    batch = collate(scenes, size_divisible=32)
    out = seg.model(batch.images, [s.objects for s in scenes], batch.image_sizes)
    assert out.semantic.shape == (2, NUM_STUFF + 1, 64, 64)
    sem = batch_targets(batch, torch.device("cpu"))
    losses = seg.criterion(out, [s.objects for s in scenes], sem)
    assert {"loss_objectness", "loss_rpn_box", "loss_cls", "loss_box", "loss_mask",
            "loss_semantic"} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    # the semantic term is λ_s × the mean of -log p(target) over valid pixels (by hand)
    target = semantic_targets(sem, NUM_STUFF)
    valid = target != IGNORE_INDEX
    logp = F.log_softmax(out.semantic.detach().double(), dim=1)
    nll = -logp.gather(1, target.clamp(max=NUM_STUFF)[:, None])[:, 0][valid].mean()
    assert float(losses["loss_semantic"].detach()) == pytest.approx(0.5 * float(nll), rel=1e-5)
    m = seg.model
    losses["loss_semantic"].backward(retain_graph=True)  # the semantic loss alone ...
    stem = next(m.mask_rcnn.detector.backbone.parameters())
    assert stem.grad is not None and stem.grad.abs().sum() > 0  # ... trains the backbone
    assert m.mask_rcnn.mask_head.predictor.weight.grad is None
    sum(v for k, v in losses.items() if k != "loss_semantic").backward()
    for p in (m.semantic_head.predictor.weight, m.mask_rcnn.mask_head.predictor.weight,
              m.mask_rcnn.detector.roi_head.parameters().__next__(), stem):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_inference_gives_panoptic_maps_of_the_image_size() -> None:
    seg = _model()
    model, post = seg.model.eval(), seg.postprocess
    scenes = [_scenes(1, 64)[0], render_scene(WorldConfig(size=(40, 56)), 3)]
    batch = collate(scenes, size_divisible=32)
    with torch.no_grad():
        preds = post(model(batch.images, None, batch.image_sizes), batch.image_sizes)
    for p, (h, w) in zip(preds, batch.image_sizes, strict=True):
        assert isinstance(p, PanopticPrediction)
        assert p.panoptic.shape == (h, w) and p.semantic.shape == (h, w)
        ids = set(torch.unique(p.panoptic).tolist()) - {0}
        assert ids == {s.id for s in p.segments}  # every segment is on the map, no overlaps


def _perfect(scene, drop: int | None = None) -> PanopticPrediction:
    objs = scene.objects
    keep = torch.ones(len(objs), dtype=torch.bool)
    if drop is not None:
        keep[drop] = False
    objs = objs[keep]
    pan, segs = merge_panoptic(semantic=scene.semantic.as_subclass(torch.Tensor),
                               masks=objs.masks.as_subclass(torch.Tensor), labels=objs.labels,
                               scores=torch.ones(len(objs)), num_stuff=NUM_STUFF,
                               cfg=MergeConfig(min_stuff_area=1))
    return PanopticPrediction(pan, segs, objs, scene.semantic.as_subclass(torch.Tensor))


def test_pq_of_the_ground_truth_is_one() -> None:
    scenes = _scenes(3, 64, seed=10)
    ev = PanopticEvaluator(NUM_STUFF, NUM_THINGS)
    ev.update([_perfect(s) for s in scenes], collate(scenes))
    out = ev.compute()
    assert out["PQ"] == out["SQ"] == out["RQ"] == out["PQ_th"] == out["PQ_st"] == 1.0


def test_pq_without_one_object_by_hand() -> None:
    # one image whose object 0 is the only one of its class: that class gets a false
    # negative and PQ_c = 0 (its pixels are "thing" in the semantic map, so they stay void);
    # every other category keeps PQ 1, so PQ = (n - 1) / n over the n categories present
    scenes = [s for s in _scenes(20, 64, seed=30)
              if (s.objects.labels == s.objects.labels[0]).sum() == 1][:1]
    assert scenes, "no scene with a unique first class"
    scene = scenes[0]
    n = len(set(torch.unique(scene.semantic.as_subclass(torch.Tensor)).tolist())
            - {IGNORE_INDEX})
    ev = PanopticEvaluator(NUM_STUFF, NUM_THINGS)
    ev.update([_perfect(scene, drop=0)], collate([scene]))
    out = ev.compute()
    assert out["n"] == n and out["PQ"] == pytest.approx((n - 1) / n)
    assert out["PQ_st"] == 1.0 and out["RQ"] == pytest.approx((n - 1) / n)
    st = [ev.state()]
    ev.merge(st + st)  # two processes that saw the same image: same averages
    assert ev.compute()["PQ"] == pytest.approx((n - 1) / n)


def test_train_predict_eval_cli(tmp_path) -> None:
    run = tmp_path / "run"
    rc = main(["train", "panoptic", "--data", "world", "--image-size", "64", "--train-size", "2",
               "--val-size", "2", "--batch-size", "2", "--max-steps", "2", "--eval-every", "2",
               "--threads", "1", "--no-progress", "--thing-score", "0.0", "--out", str(run)])
    assert rc == 0
    scalars = [json.loads(line) for line in (run / "scalars.jsonl").read_text().splitlines()]
    assert any("PQ" in json.dumps(s) for s in scalars)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        scene = render_scene(WorldConfig(size=(64, 64)), 7 + i)
        save_png(scene.image.as_subclass(torch.Tensor), images / f"im{i}.png")
    out = tmp_path / "pred"
    assert main(["predict", str(run), str(images), "--out", str(out)]) == 0
    assert (out / "im0_pred.png").is_file() and (out / "panoptic" / "im1.png").is_file()
    pred = json.loads((out / "predictions.json").read_text())
    assert [a["file_name"] for a in pred["annotations"]] == ["im0.png", "im1.png"]
    assert len(pred["categories"]) == NUM_STUFF + NUM_THINGS
    # the written files read back through `seesall eval panoptic` (prediction vs itself)
    metrics = cli.evaluate_files(out / "predictions.json", out / "panoptic",
                                 out / "predictions.json", out / "panoptic")
    assert metrics["n"] > 0 and metrics["PQ"] == 1.0


@pytest.mark.slow
def test_panoptic_fpn_overfits_two_scenes() -> None:
    seg, scenes = _model(), _scenes()
    batch = collate(scenes, size_divisible=32)
    targets, sem = [s.objects for s in scenes], batch_targets(batch, torch.device("cpu"))
    opt = torch.optim.Adam(seg.model.parameters(), lr=1e-3)
    first: dict[str, float] = {}
    for step in range(60):
        losses = seg.criterion(seg.model(batch.images, targets), targets, sem)
        if step == 0:
            first = {k: float(v.detach()) for k, v in losses.items()}
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    last = {k: float(v.detach()) for k, v in losses.items()}
    assert last["loss_semantic"] < 0.2 * first["loss_semantic"], (first, last)
    assert last["loss_mask"] < 0.3 * first["loss_mask"], (first, last)
    seg.model.eval()
    with torch.no_grad():
        preds = seg.postprocess(seg.model(batch.images, None, batch.image_sizes),
                                batch.image_sizes)
    ev = PanopticEvaluator(NUM_STUFF, NUM_THINGS)
    ev.update(preds, batch)
    out = ev.compute()
    assert out["PQ_th"] > 0.8 and out["PQ_st"] > 0.8, out  # 0.93 / 0.98 when written
