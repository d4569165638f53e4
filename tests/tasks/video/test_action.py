"""Action recognition: model table forward/overfit, top-k against scikit-learn, blink."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import top_k_accuracy_score
from torchvision import tv_tensors

from seesall.structures import Objects, Scene
from seesall.tasks.video.blink import BlinkStream, frame_change
from seesall.tasks.video.data import collate_clips
from seesall.tasks.video.metrics import TopKAccuracy, confusion_matrix
from seesall.tasks.video.models import MODELS, normalize_video
from seesall.tasks.video.train import evaluate_clips, fit

torch.set_num_threads(1)
T, S = 8, 32


def _moving_square_clips(n_per_class: int = 1, seed: int = 0) -> list[Scene]:
    """Class = direction of a textured square over a textured background (right, left, down, up)."""
    rng = np.random.default_rng(seed)
    scenes = []
    for label, (dy, dx) in enumerate([(0, 2), (0, -2), (2, 0), (-2, 0)]):
        for _ in range(n_per_class):
            bg = rng.integers(0, 80, (3, S, S), dtype=np.uint8)
            video = np.repeat(bg[None], T, axis=0)
            y0, x0 = 12 - dy * T // 2, 12 - dx * T // 2
            for t in range(T):
                y, x = y0 + dy * t, x0 + dx * t
                video[t, :, y : y + 8, x : x + 8] = 220
            v = torch.from_numpy(video)
            scenes.append(Scene(image=tv_tensors.Image(v[0]), objects=Objects.empty((S, S)),
                                video=tv_tensors.Video(v), action=label))
    return scenes


def test_topk_matches_sklearn():
    torch.manual_seed(0)
    logits = torch.randn(50, 7)
    labels = torch.randint(0, 7, (50,))
    m = TopKAccuracy(ks=(1, 3, 5))
    m.update(logits[:20], labels[:20])
    m.update(logits[20:], labels[20:])
    r = m.compute()
    for k in (1, 3, 5):
        ref = top_k_accuracy_score(labels.numpy(), logits.numpy(), k=k, labels=list(range(7)))
        assert r[f"top{k}"] == pytest.approx(100 * ref)
    cm = confusion_matrix(logits, labels, 7)
    assert int(cm.trace()) == round(r["top1"] * 50 / 100) and int(cm.sum()) == 50


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_forward(name):
    batch = collate_clips(_moving_square_clips(), with_flow=name.startswith("two_stream"))
    model = MODELS[name](num_classes=4, clip_length=T).eval()  # two-stream: fused in eval
    flow = batch.get("flow")
    with torch.no_grad():
        out = model(normalize_video(batch["video"]), flow)
    assert out.shape == (4, 4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_overfits_tiny_batch(name):
    torch.manual_seed(0)
    batch = collate_clips(_moving_square_clips(), with_flow=name.startswith("two_stream"))
    model = MODELS[name](num_classes=4, clip_length=T)
    info = fit(model, [batch], steps=40, lr=3e-3)
    assert info["final_loss"] < 0.3, info
    if name != "per_frame_2d":  # a per-frame model cannot tell opposite directions apart
        assert evaluate_clips(model, [batch])["top1"] >= 75.0


def test_per_frame_model_is_blind_to_frame_order():
    model = MODELS["per_frame_2d"](num_classes=4).eval()
    x = normalize_video(collate_clips(_moving_square_clips())["video"])
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x.flip(2)), atol=1e-5, rtol=1e-5)


def test_blink_threshold_zero_is_exact_streaming_and_skips_static_frames():
    torch.manual_seed(0)
    model = MODELS["causal3d"](num_classes=4).eval()
    clip = _moving_square_clips()[0].video.as_subclass(torch.Tensor)
    x = normalize_video(clip[None])[0]
    with torch.no_grad():
        offline = model.net(x[None])[0]
    full = BlinkStream(net=model.net, threshold=0.0).run(clip, x)
    assert full.skipped_fraction == 0.0
    assert (full.logits - offline).abs().max() < 1e-5
    static = clip[:1].repeat(T, 1, 1, 1)
    res = BlinkStream(net=model.net, threshold=1e-3).run(static, normalize_video(static[None])[0])
    assert res.processed.tolist() == [True] + [False] * (T - 1)
    assert frame_change(clip[0], clip[0]) == 0.0


def test_train_recipe_runs(tmp_path):
    from seesall.cli.main import main

    assert main(["train", "action", "--model", "r3d", "--max-steps", "1", "--train-size", "2", "--val-size", "2",
                 "--image-size", "32", "--batch-size", "2", "--out", str(tmp_path / "run"), "--no-progress",
                 "--threads", "1"]) == 0
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").is_file()


def test_stream_losses_supervise_each_stream_and_eval_fuses():
    from torch.nn import functional as F

    from seesall.tasks.video.train import action_loss

    torch.manual_seed(0)
    logits, labels = torch.randn(5, 2, 4), torch.randint(0, 4, (5,))
    out = action_loss(logits, labels)
    ref = [F.cross_entropy(logits[:, i], labels) for i in range(2)]
    torch.testing.assert_close(out["loss_stream0"], ref[0])
    torch.testing.assert_close(out["loss_stream1"], ref[1])
    torch.testing.assert_close(out["loss_action"], (ref[0] + ref[1]) / 2)
    batch = collate_clips(_moving_square_clips(), with_flow=True)
    model = MODELS["two_stream_2d"](num_classes=4, clip_length=T)
    x = normalize_video(batch["video"])
    assert model.train()(x, batch["flow"]).shape == (4, 4)
    model.stream_losses = True
    assert model.train()(x, batch["flow"]).shape == (4, 2, 4)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x, batch["flow"]), model.stream_logits(x, batch["flow"]).mean(1))
    model = MODELS["two_stream"](num_classes=4, clip_length=T)
    assert model.train()(x, batch["flow"]).shape == (4, 2, 4)
    model.eval().set_fusion_weight(0.2)
    with torch.no_grad():
        probs = model.stream_logits(x, batch["flow"]).softmax(dim=2)  # (B, 2, K)
        torch.testing.assert_close(model(x, batch["flow"]).exp(), 0.2 * probs[:, 0] + 0.8 * probs[:, 1])


def test_fuse_streams_against_hand_computed_scores():
    from seesall.tasks.video.models import fuse_streams

    streams = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]])  # (1, 2, 3)
    sp = np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum()
    tp = np.exp([0.0, 1.0, 0.0]) / np.exp([0.0, 1.0, 0.0]).sum()
    for w in (0.0, 0.3, 0.5, 1.0):
        soft = fuse_streams(streams, w, "softmax")[0].double().numpy()
        np.testing.assert_allclose(soft, np.log(w * sp + (1 - w) * tp), atol=1e-5)
        logits = fuse_streams(streams, w, "logits")[0].double().numpy()
        np.testing.assert_allclose(logits, w * np.array([2.0, 0, -1]) + (1 - w) * np.array([0, 1.0, 0]),
                                   atol=1e-6)
    with pytest.raises(ValueError, match="fusion"):
        fuse_streams(streams, 0.5, "max")


def test_choose_fusion_weight_mutes_a_stream_at_chance():
    from seesall.tasks.video.models import choose_fusion_weight

    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (200,), generator=gen)
    spatial = 6 * torch.randn(200, 5, generator=gen)  # confident and unrelated to the labels
    temporal = torch.nn.functional.one_hot(labels, 5).float() * 2 + torch.randn(200, 5, generator=gen)
    w = choose_fusion_weight(torch.stack([spatial, temporal], 1), labels)
    assert w <= 0.2
    assert choose_fusion_weight(torch.stack([temporal, spatial], 1), labels) >= 0.8


def test_two_stream_sequence_layout_feeds_the_flow_sequence_to_a_3d_stream():
    from seesall.tasks.video.models import TwoStream

    class Probe(torch.nn.Module):
        shape: tuple[int, ...] = ()

        def forward(self, x):
            self.shape = tuple(x.shape)
            return x.new_zeros(x.shape[0], 4)

    batch = collate_clips(_moving_square_clips(), with_flow=True)
    x = normalize_video(batch["video"])
    for layout, shape in (("sequence", (4, 2, T - 1, S, S)), ("stacked", (4, 2 * (T - 1), S, S))):
        model = TwoStream(spatial=Probe(), temporal=Probe(), flow_layout=layout, flow_scale=2.0)
        model(x, batch["flow"])
        assert model.temporal.shape == shape and model.spatial.shape == (4, 3, T, S, S)
    with pytest.raises(ValueError, match="flow_layout"):
        TwoStream(spatial=Probe(), temporal=Probe(), flow_layout="3d")


def test_train_recipe_chooses_two_streams_fusion_weight_on_held_out_training_clips(tmp_path, capsys):
    """The checkpoint's fusion weight is the one chosen on the last --fusion-holdout training clips
    (recomputed here from the saved model); holding out every clip is refused."""
    from seesall.cli.main import main
    from seesall.engine.checkpoint import load_checkpoint
    from seesall.tasks.video.models import choose_fusion_weight
    from seesall.world import ACTIONS, WorldConfig
    from seesall.world.dataset import WorldDataset

    run = tmp_path / "run"
    assert main(["train", "action", "--model", "two_stream", "--max-steps", "2", "--train-size", "6",
                 "--val-size", "2", "--image-size", "32", "--batch-size", "2", "--fusion-holdout", "3",
                 "--out", str(run), "--no-progress", "--threads", "1"]) == 0
    model = MODELS["two_stream"](num_classes=len(ACTIONS), clip_length=8)
    model.load_state_dict(load_checkpoint(run).model)
    model.eval()
    world = WorldConfig(size=(32, 32), clip_length=8, num_objects=(0, 3))
    clips = WorldDataset("clip", 6, world, seed=0)
    batch = collate_clips([clips[i] for i in (3, 4, 5)], with_flow=True)
    with torch.no_grad():
        streams = model.stream_logits(normalize_video(batch["video"]), batch["flow"])
    chosen = choose_fusion_weight(streams, batch["labels"], fusion=model.fusion)
    assert float(model.spatial_weight) == pytest.approx(chosen)
    assert main(["train", "action", "--model", "two_stream", "--max-steps", "1", "--train-size", "6",
                 "--val-size", "0", "--image-size", "32", "--fusion-holdout", "6", "--out", str(tmp_path / "b"),
                 "--no-progress", "--threads", "1"]) != 0
    assert "task.fusion_holdout=6 leaves no training clip" in capsys.readouterr().err
