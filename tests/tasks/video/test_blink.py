"""Blink: the local change measure on hand-made frames, skip patterns, skip-trained forward."""

from __future__ import annotations

import pytest
import torch

from seesall.tasks.video.blink import (
    BlinkStream,
    blink_clip_logits,
    blink_keep,
    frame_change,
    grey_cells,
    random_keep,
    threshold_keep,
    uniform_keep,
)
from seesall.tasks.video.models import MODELS, denormalize_video, normalize_video

torch.set_num_threads(1)
S, T = 32, 8


def _square_stream(moves: list[bool], noise: int = 0, seed: int = 0) -> torch.Tensor:
    """uint8 Tensor[T, 3, S, S]: grey 50 background, a 4x4 square of 200 that moves 4 px right
    at the frames where ``moves`` is True, plus uniform noise in [-noise, noise]."""
    gen = torch.Generator().manual_seed(seed)
    frames, x = [], 4
    for t, move in enumerate(moves):
        x += 4 if (move and t > 0) else 0
        f = torch.full((3, S, S), 50, dtype=torch.int16)
        f[:, 8:12, x : x + 4] = 200
        f += torch.randint(-noise, noise + 1, (1, S, S), generator=gen, dtype=torch.int16)
        frames.append(f.clamp(0, 255).to(torch.uint8))
    return torch.stack(frames)


def test_frame_change_is_local_and_hand_computed():
    a, b = _square_stream([False, True])
    # Cell-aligned 4x4 square moved by 4 px: two cells change by 150 grey levels.
    assert frame_change(a, b) == pytest.approx(150 / 255, abs=1e-6)
    assert frame_change(a, b, reduce="mean") == pytest.approx(2 * 150 / 255 / 64, abs=1e-6)
    assert frame_change(a, a) == 0.0
    with pytest.raises(ValueError, match="reduce"):
        frame_change(a, b, reduce="median")
    with pytest.raises(ValueError, match="shape"):
        frame_change(a, b[:, :16])


def test_small_moving_square_triggers_processing_and_noise_does_not():
    moves = [False, True, False, False, True, False, True, False]
    video = _square_stream(moves, noise=6)
    torch.manual_seed(0)
    net = MODELS["causal3d_motion"](num_classes=4).net.eval()
    x = normalize_video(video[None])[0]
    # Noise of +-6 levels averages to well under 0.1 per 4x4 cell; a moving square gives ~0.59.
    res = BlinkStream(net=net, threshold=0.1).run(video, x)
    assert res.processed.tolist() == [True, True, False, False, True, False, True, False]
    assert res.skipped_fraction == pytest.approx(0.5)
    # The global mean over the frame would miss the square at the same threshold.
    glob = BlinkStream(net=net, threshold=0.1, reduce="mean").run(video, x)
    assert glob.processed.tolist() == [True] + [False] * (T - 1)


@pytest.mark.parametrize("model", ["causal3d_motion", "causal3d_velocity_blink"])
def test_blink_stream_equals_offline_skip_pattern(model):
    moves = [False, True, False, True, True, False, False, True]
    video = _square_stream(moves)
    torch.manual_seed(0)
    net = MODELS[model](num_classes=4).net.eval()
    x = normalize_video(video[None])[0]
    res = BlinkStream(net=net, threshold=0.1).run(video, x)
    keep = torch.nonzero(res.processed)[:, 0][None]
    assert keep.tolist() == [[0, 1, 3, 4, 7]]
    with torch.no_grad():
        offline = blink_clip_logits(net, x[None], keep)[0]
        no_gaps = net(x[None, :, keep[0]]).mean(dim=1)[0]  # as if the kept frames were consecutive
    assert (offline - res.clip_logits).abs().max() < 1e-5
    assert ((no_gaps - offline).abs().max() > 1e-6) == net.velocity  # a velocity net is told the gaps


def test_repeated_frames_do_not_change_the_clip_prediction():
    """A stream whose frames are shown 1-3 times (exact repeats) is classified as the clip."""
    video = _square_stream([False] + [True] * 6)  # 7 distinct frames
    holds = torch.tensor([3, 1, 2, 1, 3, 2, 2])
    paused = video.repeat_interleave(holds, dim=0)
    torch.manual_seed(0)
    net = MODELS["causal3d_motion"](num_classes=4).net.eval()
    norm = lambda v: normalize_video(v[None])[0]  # noqa: E731
    res = BlinkStream(net=net, threshold=0.01).run(paused, norm(paused))
    assert res.processed.sum() == 7 and res.skipped_fraction == pytest.approx(1 - 7 / len(paused))
    with torch.no_grad():
        clip = net(norm(video)[None])[0].mean(dim=0)  # every frame of the clip, offline
    assert (res.clip_logits - clip).abs().max() < 1e-5
    every = BlinkStream(net=net, threshold=0.0).run(paused, norm(paused))  # repeats processed too
    assert (every.clip_logits - clip).abs().max() > 1e-4  # the pauses reweight the frames


def test_keep_patterns():
    with pytest.raises(ValueError, match="frame 0"):
        blink_clip_logits(MODELS["causal3d_motion"](num_classes=4).net, torch.zeros(1, 3, 4, S, S),
                          torch.tensor([[1, 2]]))
    assert uniform_keep(8, 2).tolist() == [0, 2, 4, 6]
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        k = random_keep(5, T, generator=gen, min_keep=2)
        assert k.shape[0] == 5 and 2 <= k.shape[1] <= T
        assert (k[:, 0] == 0).all() and (k[:, 1:] > k[:, :-1]).all() and (k < T).all()


def test_skip_trained_causal_model_keeps_labels_and_eval_uses_all_frames():
    torch.manual_seed(0)
    model = MODELS["causal3d_motion"](num_classes=4)
    model.frame_skip = 1.0
    video = torch.stack([_square_stream([True] * T, seed=i) for i in range(3)])
    x = normalize_video(video)
    out = model.train()(x)
    assert out.shape == (3, 4)
    model.eval()
    with torch.no_grad():
        every = blink_clip_logits(model.net, x, torch.arange(T).expand(3, T))
        torch.testing.assert_close(model(x), every, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(x), model.net(x).mean(dim=1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("threshold", "reduce"), [(0.0, "max"), (0.1, "max"), (0.7, "max"),
                                                   (0.005, "mean"), (0.02, "mean")])
def test_blink_keep_is_the_streams_decision(threshold, reduce):
    video = _square_stream([False, True, False, True, True, False, False, True], noise=6)
    torch.manual_seed(0)
    net = MODELS["causal3d_motion"](num_classes=4).net.eval()
    res = BlinkStream(net=net, threshold=threshold, reduce=reduce).run(video, normalize_video(video[None])[0])
    assert torch.nonzero(res.processed)[:, 0].tolist() == blink_keep(video, threshold, reduce=reduce).tolist()


def test_max_skip_bounds_a_run_of_skipped_frames():
    video = _square_stream([False] * T)  # nothing moves: only max_skip brings frames in
    torch.manual_seed(0)
    net = MODELS["causal3d_motion"](num_classes=4).net.eval()
    x = normalize_video(video[None])[0]
    for max_skip, expected in ((None, [0]), (0, list(range(T))), (2, [0, 3, 6]), (3, [0, 4])):
        res = BlinkStream(net=net, threshold=0.1, max_skip=max_skip).run(video, x)
        assert torch.nonzero(res.processed)[:, 0].tolist() == expected
        assert blink_keep(video, 0.1, max_skip=max_skip).tolist() == expected
    with pytest.raises(ValueError, match="max_skip"):
        BlinkStream(net=net, threshold=0.1, max_skip=-1)


def test_threshold_keep_is_the_streams_decision_on_a_batch():
    moves = [[False, True, False, True, True, False, False, True], [True] * T, [False] * T,
             [False, False, False, True, False, False, False, False]]
    video = torch.stack([_square_stream(m, noise=6, seed=i) for i, m in enumerate(moves)])
    torch.manual_seed(0)
    net = MODELS["causal3d_motion"](num_classes=4).net.eval()

    def streamed(i: int, threshold: float, max_skip: int | None) -> list[int]:
        res = BlinkStream(net=net, threshold=threshold, max_skip=max_skip).run(
            video[i], normalize_video(video[i : i + 1])[0])
        return torch.nonzero(res.processed)[:, 0].tolist()

    cells = grey_cells(denormalize_video(normalize_video(video)))
    torch.testing.assert_close(cells, grey_cells(video.float() / 255))
    thresholds = torch.tensor([0.1, 0.0, 0.1, 0.3])
    for max_skip in (None, 0, 2):
        keep, lengths = threshold_keep(cells, thresholds, max_skip=max_skip)
        assert keep.shape == (4, int(lengths.max()))
        for i in range(4):
            ref = streamed(i, float(thresholds[i]), max_skip)  # frame by frame, frame_change
            assert keep[i, : lengths[i]].tolist() == ref
            rest = [t for t in range(T) if t not in ref][: keep.shape[1] - len(ref)]
            assert keep[i, lengths[i] :].tolist() == rest  # padded with the other frames, in order
    keep, lengths = threshold_keep(cells, thresholds)
    assert lengths.tolist() == [5, 8, 1, 2]  # the still clip keeps frame 0, the last its one move
    assert keep[3, :2].tolist() == [0, 3]


@pytest.mark.parametrize("model", ["causal3d_motion", "causal3d_velocity_blink"])
def test_padded_skip_patterns_give_each_clips_own_logits(model):
    video = torch.stack([_square_stream([True] * T, seed=i) for i in range(3)])
    x = normalize_video(video)
    torch.manual_seed(0)
    net = MODELS[model](num_classes=4).net.eval()
    rows = [[0, 2, 3, 6], [0, 5], [0, 1, 2, 3, 4, 5, 6, 7]]
    keep = torch.tensor([r + [r[-1]] * (T - len(r)) for r in rows])
    keep[1, 2:] = torch.tensor([1, 2, 3, 4, 6, 7])  # padding need not follow the kept frames
    with torch.no_grad():
        padded = blink_clip_logits(net, x, keep, torch.tensor([len(r) for r in rows]))
        for i, r in enumerate(rows):
            alone = blink_clip_logits(net, x[i : i + 1], torch.tensor([r]))[0]
            torch.testing.assert_close(padded[i], alone, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="lengths"):
        blink_clip_logits(net, x, keep, torch.tensor([0, 2, 8]))


def test_blink_trained_causal_model_trains_on_the_streams_own_patterns():
    torch.manual_seed(0)
    model = MODELS["causal3d_motion_blink"](num_classes=4)
    assert model.frame_skip == 0.5 and model.skip_thresholds == (0.0, 0.1) and model.max_skip == 3
    moves = [[False, True, False, True, True, False, False, True], [True] * T, [False] * T,
             [t % 3 == 0 for t in range(T)]]
    video = torch.stack([_square_stream(m, seed=i) for i, m in enumerate(moves)])
    x = normalize_video(video)
    model.frame_skip, model.skip_thresholds, model.max_skip = 1.0, (0.1, 0.1), 2
    model.train()
    model.net.eval()  # BatchNorm on running statistics: each clip's logits its own
    with torch.no_grad():
        out = model(x)
        for i in range(len(moves)):  # the stream's rule on each clip alone, no padding
            keep = blink_keep(video[i], 0.1, max_skip=2)
            alone = blink_clip_logits(model.net, x[i : i + 1], keep[None])[0]
            torch.testing.assert_close(out[i], alone, atol=1e-5, rtol=1e-5)
    assert len({len(blink_keep(v, 0.1, max_skip=2)) for v in video}) > 1  # rows of unequal lengths
    with pytest.raises(ValueError, match="skip_thresholds"):
        type(model)(net=model.net, skip_thresholds=(0.2, 0.1))
    with pytest.raises(ValueError, match="frame_skip > 0"):
        type(model)(net=model.net, skip_thresholds=(0.0, 0.1))
