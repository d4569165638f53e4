"""Flow: correlation vs a naive loop, metrics on hand-made fields, models, baselines, CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from seesall.nn.correlation import correlation
from seesall.tasks.flow.classical import CLASSICAL
from seesall.tasks.flow.cli import evaluate_folders
from seesall.tasks.flow.loss import downsample_flow, multiscale_epe_loss
from seesall.tasks.flow.metrics import FlowMetrics
from seesall.tasks.flow.models import MODELS
from seesall.tasks.flow.predict import predict_flow, resize_flow

torch.set_num_threads(1)


@pytest.mark.parametrize(("d", "stride"), [(2, 1), (4, 2), (0, 1)])
def test_correlation_matches_naive_loop(d, stride):
    torch.manual_seed(0)
    f1, f2 = torch.randn(2, 5, 6, 7), torch.randn(2, 5, 6, 7)
    out = correlation(f1, f2, max_displacement=d, stride=stride)
    disps = [(dy, dx) for dy in range(-d, d + 1, stride) for dx in range(-d, d + 1, stride)]
    ref = torch.zeros(2, len(disps), 6, 7)
    for b in range(2):
        for k, (dy, dx) in enumerate(disps):
            for y in range(6):
                for x in range(7):
                    if 0 <= y + dy < 6 and 0 <= x + dx < 7:
                        ref[b, k, y, x] = sum(f1[b, c, y, x] * f2[b, c, y + dy, x + dx]
                                              for c in range(5)) / 5
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("d", "stride"), [(3, 1), (4, 2)])
def test_correlation_over_several_row_tiles_matches_shifted_products(d, stride):
    """Rows wider than one matmul tile (37 > 16, not a multiple): every displacement's channel mean
    of f1 times f2 shifted by slicing a zero-padded copy."""
    torch.manual_seed(1)
    f1, f2 = torch.randn(2, 6, 5, 37), torch.randn(2, 6, 5, 37)
    pad = torch.nn.functional.pad(f2, (d, d, d, d))
    ref = torch.stack([(f1 * pad[:, :, d + dy : d + dy + 5, d + dx : d + dx + 37]).mean(1)
                       for dy in range(-d, d + 1, stride) for dx in range(-d, d + 1, stride)], 1)
    torch.testing.assert_close(correlation(f1, f2, max_displacement=d, stride=stride), ref, atol=1e-5, rtol=1e-5)


def test_cosine_correlation_matches_cosine_similarity_of_shifted_maps():
    torch.manual_seed(0)
    f1, f2 = torch.randn(2, 4, 5, 6), torch.randn(2, 4, 5, 6)
    d = 2
    out = correlation(f1, f2, max_displacement=d, cosine=True)
    k = 0
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            ref = torch.zeros(2, 5, 6)
            for y in range(max(0, -dy), min(5, 5 - dy)):
                for x in range(max(0, -dx), min(6, 6 - dx)):
                    ref[:, y, x] = torch.nn.functional.cosine_similarity(
                        f1[:, :, y, x], f2[:, :, y + dy, x + dx], dim=1)
            torch.testing.assert_close(out[:, k], ref, atol=1e-5, rtol=1e-5)
            k += 1


def test_metrics_on_hand_made_fields():
    gt = torch.zeros(2, 2, 4)
    gt[0] = 10.0  # |gt| = 10 * sqrt(2) ~ 14.1 everywhere
    pred = gt.clone()
    pred[0, 0, 0] += 3.0  # error 3: not an outlier (needs > 3)
    pred[0, 0, 1] += 4.0  # error 4 > 3 and > 0.05 * 14.1: outlier
    pred[:, 1, 3] += torch.tensor([0.0, 0.5])  # error 0.5
    pred[0, 1, 0] += 100.0  # occluded pixel, must not count in EPE / Fl-all
    valid = torch.ones(2, 4, dtype=torch.bool)
    valid[1, 0] = False
    m = FlowMetrics()
    m.update(pred, gt, valid)
    r = m.compute()
    assert r["EPE"] == pytest.approx((3 + 4 + 0.5) / 7)
    assert r["EPE-occ"] == pytest.approx(100.0)
    assert r["EPE-all"] == pytest.approx((3 + 4 + 0.5 + 100) / 8)
    assert r["Fl-all"] == pytest.approx(100 / 7)
    assert r["1px"] == pytest.approx(100 * 5 / 7)


def test_metrics_pool_pixels_over_the_set():
    """Two pairs of different size: the mean is over pixels, not over pairs."""
    m = FlowMetrics()
    m.update(torch.ones(2, 1, 1), torch.zeros(2, 1, 1))  # EPE sqrt(2), 1 pixel
    m.update(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3))  # EPE 0, 9 pixels
    assert m.compute()["EPE"] == pytest.approx(np.sqrt(2) / 10)


def test_big_relative_error_is_outlier_only_above_5_percent():
    gt = torch.zeros(2, 1, 2)
    gt[0] = 100.0
    pred = gt.clone()
    pred[0, 0, 0] += 4.0  # 4 < 5 % of 100: not an outlier
    pred[0, 0, 1] += 6.0  # 6 > 5: outlier
    m = FlowMetrics()
    m.update(pred, gt)
    assert m.compute()["Fl-all"] == pytest.approx(50.0)


def test_downsample_flow_averages_valid_pixels():
    flow = torch.tensor([[1.0, 3.0], [5.0, 100.0]]).expand(1, 2, 2, 2)
    valid = torch.tensor([[[True, True], [True, False]]])
    f, v = downsample_flow(flow, valid, (1, 1))
    assert f[0, :, 0, 0].tolist() == pytest.approx([3.0, 3.0]) and bool(v.all())


def test_resize_flow_scales_vectors():
    flow = torch.ones(1, 2, 4, 8)
    out = resize_flow(flow, (8, 4))
    assert out[0, 0].unique().tolist() == [0.5] and out[0, 1].unique().tolist() == [2.0]


def test_loss_is_zero_for_perfect_prediction():
    target = torch.randn(1, 2, 64, 64)
    valid = torch.ones(1, 64, 64, dtype=torch.bool)
    flows = [downsample_flow(target / 20, valid, (64 // s, 64 // s))[0] for s in (64, 32, 16, 8, 4)]
    out = multiscale_epe_loss(flows, target, valid)
    assert out["loss_flow"].item() < 1e-5 and set(out) >= {"epe_s4", "epe_s64", "loss_flow"}


def _translated_pair(h=64, w=64, dx=3, dy=-2, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.integers(0, 255, (h + 20, w + 20, 3), dtype=np.uint8), (5, 5), 1.5)
    a = base[10 : 10 + h, 10 : 10 + w]
    b = base[10 - dy : 10 - dy + h, 10 - dx : 10 - dx + w]  # b(x) = a(x - d): content moves by d
    to_t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)  # noqa: E731
    return to_t(a), to_t(b)


@pytest.mark.parametrize("name", sorted(CLASSICAL))
def test_classical_baselines_recover_translation(name):
    a, b = _translated_pair()
    flow = CLASSICAL[name](a, b)
    assert flow.shape == (2, 64, 64)
    inner = flow[:, 16:-16, 16:-16]
    assert inner[0].median().item() == pytest.approx(3.0, abs=0.5)
    assert inner[1].median().item() == pytest.approx(-2.0, abs=0.5)


@pytest.mark.parametrize("name", ["flownet_s_tiny", "flownet_c_tiny", "flownet_c_small", "flownet_cr_small",
                                  "flownet_cra_small", "flownet_cral_small"])
def test_model_forward_and_predict_any_size(name):
    model = MODELS[name]().eval()
    a = torch.randint(0, 255, (1, 3, 50, 70), dtype=torch.uint8)
    flow = predict_flow(model, a, a)
    assert flow.shape == (1, 2, 50, 70)
    with pytest.raises(ValueError, match="multiples of 64"):
        model(torch.zeros(1, 3, 50, 64), torch.zeros(1, 3, 50, 64))


@pytest.mark.parametrize("name", ["flownet_s_tiny", "flownet_c_tiny", "flownet_c_small", "flownet_cr_small",
                                  "flownet_cra_small", "flownet_cral_small"])
def test_model_overfits_tiny_batch(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    a, b = _translated_pair(64, 64, dx=4, dy=2)
    x1, x2 = a[None].float() / 255 - 0.5, b[None].float() / 255 - 0.5
    target = torch.zeros(1, 2, 64, 64)
    target[:, 0], target[:, 1] = 4.0, 2.0
    valid = torch.ones(1, 64, 64, dtype=torch.bool)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(150):
        out = multiscale_epe_loss(model(x1, x2), target, valid)
        opt.zero_grad()
        out["loss_flow"].backward()
        opt.step()
    assert out["epe_s4"].item() < 0.5


def _write_flo_by_hand(path, flow):
    h, w = flow.shape[:2]
    with open(path, "wb") as f:
        f.write(np.float32(202021.25).tobytes() + np.int32(w).tobytes() + np.int32(h).tobytes())
        f.write(flow.astype("<f4").tobytes())


def _write_kitti_by_hand(path, flow, valid):
    png = np.zeros((*flow.shape[:2], 3), np.uint16)
    png[..., 2] = np.where(valid, flow[..., 0] * 64 + 2**15, 0)  # OpenCV is BGR: R = u
    png[..., 1] = np.where(valid, flow[..., 1] * 64 + 2**15, 0)
    png[..., 0] = valid
    cv2.imwrite(str(path), png)


def test_eval_cli_on_flo_and_kitti(tmp_path):
    from seesall.cli.main import main

    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    gt1 = np.zeros((4, 5, 2), np.float32)
    pred1 = gt1.copy()
    pred1[0, 0] = (3.0, 4.0)  # EPE 5, outlier
    _write_flo_by_hand(gt_dir / "a.flo", gt1)
    _write_flo_by_hand(pred_dir / "a.flo", pred1)
    gt2 = np.full((2, 3, 2), 2.0, np.float32)
    valid2 = np.array([[1, 1, 1], [0, 0, 0]], bool)
    pred2 = gt2 + 0.5
    pred2[1] = 50  # invalid ground truth there: ignored
    _write_kitti_by_hand(gt_dir / "b.png", gt2, valid2)
    _write_flo_by_hand(pred_dir / "b.flo", pred2)
    r = evaluate_folders(gt_dir, pred_dir)
    assert r["EPE"] == pytest.approx((5 + 3 * np.sqrt(0.5)) / 23, rel=1e-5)
    assert r["Fl-all"] == pytest.approx(100 / 23)
    out = tmp_path / "m.json"
    assert main(["eval", "flow", "--gt", str(gt_dir), "--pred", str(pred_dir), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["EPE"] == pytest.approx(r["EPE"])
    (pred_dir / "a.flo").unlink()
    assert main(["eval", "flow", "--gt", str(gt_dir), "--pred", str(pred_dir)]) == 2


def test_flips_keep_flow_consistent_with_pixels():
    """After a flip, frame 2 sampled at p + flow(p) must still give frame 1 (exact integer shift)."""
    from seesall.tasks.flow.data import FlowBatch, hflip, vflip
    from seesall.tasks.tracking.propagate import warp_backward

    a, b = _translated_pair(32, 40, dx=3, dy=-2)
    flow = torch.zeros(1, 2, 32, 40)
    flow[:, 0], flow[:, 1] = 3.0, -2.0
    batch = FlowBatch(a[None], b[None], flow, torch.ones(1, 32, 40, dtype=torch.bool))
    for f in (hflip, vflip, lambda x: hflip(vflip(x))):
        out = f(batch)
        back = warp_backward(out.image2.float(), out.flow[0])
        torch.testing.assert_close(back[..., 4:-4, 4:-4], out.image1.float()[..., 4:-4, 4:-4])
    assert hflip(batch).flow[0, 0].unique().tolist() == [-3.0]
    assert vflip(batch).flow[0, 1].unique().tolist() == [2.0]


@pytest.mark.parametrize("model", ["flownet_c_small", "flownet_cral_small"])
def test_train_recipe_then_predict_pair_files(tmp_path, model):
    """One engine step on world pairs, then the checkpoint predicts a .flo from two PNGs."""
    import argparse

    from seesall.cli.main import main
    from seesall.io.flow import read_flo
    from seesall.tasks.flow.cli import predict

    run = tmp_path / "run"
    assert main(["train", "flow", "--max-steps", "1", "--train-size", "2", "--val-size", "1", "--image-size", "64",
                 "--batch-size", "2", "--out", str(run), "--no-progress", "--threads", "1", "--model", model]) == 0
    a, b = _translated_pair(48, 56)
    for name, img in (("a.png", a), ("b.png", b)):
        cv2.imwrite(str(tmp_path / name), img.permute(1, 2, 0).numpy()[..., ::-1])
    out = tmp_path / "flow.flo"
    args = argparse.Namespace(checkpoint=str(run), pair=[[str(tmp_path / "a.png"), str(tmp_path / "b.png")]],
                              pairs_dir=None, out=str(out))
    assert predict(args) == 0
    flow, valid = read_flo(out)
    assert flow.shape == (48, 56, 2) and valid.all()


def test_metrics_merge_equals_one_pass():
    torch.manual_seed(0)
    pairs = [(torch.randn(2, 5, 6) * 4, torch.randn(2, 5, 6) * 4) for _ in range(4)]
    one, a, b = FlowMetrics(), FlowMetrics(), FlowMetrics()
    for i, (p, g) in enumerate(pairs):
        one.update(p, g)
        (a if i % 2 else b).update(p, g)
    merged = FlowMetrics()
    merged.merge([a.state(), b.state()])
    assert merged.compute() == pytest.approx(one.compute(), nan_ok=True)


@pytest.mark.parametrize("half", [False, True])
def test_flow_weights_round_trip(tmp_path, half):
    from seesall.tasks.flow.weights import load_flow_weights, save_flow_weights

    torch.manual_seed(0)
    model = MODELS["flownet_c_small"]().eval()
    path = save_flow_weights(model, "flownet_c_small", tmp_path / "w.safetensors", half=half)
    loaded = load_flow_weights(path)
    for k, v in model.state_dict().items():
        ref = v.half().float() if half and v.is_floating_point() else v
        assert torch.equal(loaded.state_dict()[k], ref), k
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_flow_weights(tmp_path / "missing.safetensors")


def test_warp_matches_scipy_bilinear_sampling():
    """warp(x, flow)(p) == x sampled bilinearly at p + flow(p) (scipy's map_coordinates, order 1)."""
    from scipy.ndimage import map_coordinates

    from seesall.tasks.flow.models import warp

    torch.manual_seed(0)
    x = torch.rand(2, 3, 9, 11)
    flow = torch.randn(2, 2, 9, 11) * 2
    out = warp(x, flow)
    ys, xs = torch.meshgrid(torch.arange(9.0), torch.arange(11.0), indexing="ij")
    for b in range(2):
        sy, sx = ys + flow[b, 1], xs + flow[b, 0]
        inside = (sx >= 0) & (sx <= 10) & (sy >= 0) & (sy <= 8)
        for c in range(3):
            ref = map_coordinates(x[b, c].numpy(), [sy.numpy(), sx.numpy()], order=1)
            torch.testing.assert_close(out[b, c][inside], torch.from_numpy(ref)[inside], atol=1e-5, rtol=0)
    shifted = torch.zeros_like(x)  # content moved right by 3: frame 2 at x + 3 gives frame 1 at x
    shifted[..., 3:] = x[..., :-3]
    right = torch.zeros(2, 2, 9, 11)
    right[:, 0] = 3.0
    torch.testing.assert_close(warp(shifted, right)[..., :8], x[..., :8])
    assert warp(shifted, right)[..., 8:].abs().max() == 0  # read outside the image: zeros


def test_untrained_refinement_returns_the_base_flow():
    model = MODELS["flownet_cr_small"]().eval()
    a, b = (t[None].float() / 255 - 0.5 for t in _translated_pair(64, 64))
    with torch.no_grad():
        flows = model(a, b)
        base = model.base(a, b)
    assert len(flows) == len(base) + 1 and flows[-1].shape == flows[-2].shape == (1, 2, 16, 16)
    torch.testing.assert_close(flows[-1], base[-1])


def test_loss_keys_two_levels_at_one_stride():
    target = torch.zeros(1, 2, 64, 64)
    valid = torch.ones(1, 64, 64, dtype=torch.bool)
    flows = [torch.zeros(1, 2, 16, 16), torch.ones(1, 2, 16, 16) / 20]  # coarse-to-fine order
    out = multiscale_epe_loss(flows, target, valid, weights=(1.0, 0.5))
    assert out["epe_s4"].item() == pytest.approx(2**0.5) and out["epe_s4_level1"].item() == 0
    assert out["loss_flow"].item() == pytest.approx(2**0.5 / 20)


def test_stack_loads_its_base_from_a_flow_weight_file(tmp_path):
    from seesall.tasks.flow.weights import flow_weights_metadata, load_flow_weights, save_flow_weights

    torch.manual_seed(0)
    base = MODELS["flownet_c_small"]()
    path = save_flow_weights(base, "flownet_c_small", tmp_path / "c.safetensors", half=False,
                             extra={"train_cpu_seconds": "12.5"})
    assert flow_weights_metadata(path)["train_cpu_seconds"] == "12.5"
    stack = MODELS["flownet_cr_small"]()
    stack.base.load_state_dict(load_flow_weights(path).state_dict())
    saved = save_flow_weights(stack, "flownet_cr_small", tmp_path / "cr.safetensors", half=False)
    loaded = load_flow_weights(saved)
    a = torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8)
    torch.testing.assert_close(predict_flow(loaded, a, a.roll(2, -1)), predict_flow(base.eval(), a, a.roll(2, -1)))


def test_weighted_affine_fit_matches_numpy_lstsq():
    from seesall.tasks.flow.models import weighted_affine_fit

    rng = np.random.default_rng(0)
    h, w = 6, 7
    flow = rng.normal(size=(2, h, w))
    weight = rng.uniform(0.1, 2.0, size=(h, w))
    ys, xs = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    design = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)], 1) * np.sqrt(weight.ravel())[:, None]
    theta = np.linalg.lstsq(design, (flow.reshape(2, -1) * np.sqrt(weight.ravel())).T, rcond=None)[0]
    ref = (np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)], 1) @ theta).T.reshape(2, h, w)
    out = weighted_affine_fit(torch.from_numpy(flow)[None], torch.from_numpy(weight)[None, None], ridge=0.0)
    np.testing.assert_allclose(out[0].numpy(), ref, atol=1e-8)


def test_global_affine_recovers_an_affine_background_under_an_outlier_patch():
    """An exactly affine field with a patch of other motion: the robust fit is the affine field,
    so with the mix forced to 1 the output is the background's motion everywhere."""
    from seesall.tasks.flow.models import GlobalAffine

    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 16), torch.linspace(-1, 1, 16), indexing="ij")
    bg = torch.stack([0.1 + 0.05 * xs - 0.02 * ys, -0.05 + 0.02 * xs + 0.03 * ys])[None]  # raw units
    flow = bg.clone()
    flow[..., 2:6, 3:7] = 0.4  # an independently moving object, 6 % of the pixels
    head = GlobalAffine(feat_channels=4, iterations=5, mix_bias=50.0)
    out = head(torch.zeros(1, 4, 16, 16), flow)
    torch.testing.assert_close(out, bg, atol=1e-3, rtol=0)


def test_stacks_weight_their_outputs_like_the_base_plus_its_finest_weight_per_stage():
    from seesall.tasks.flow.loss import FLOWNET_WEIGHTS

    cr, cra = MODELS["flownet_cr_small"](), MODELS["flownet_cra_small"]()
    assert cr.level_weights == (0.32, *FLOWNET_WEIGHTS) and cra.level_weights == (0.32, 0.32, *FLOWNET_WEIGHTS)
    a = torch.zeros(1, 3, 64, 64)
    assert len(cra(a, a)) == len(cra.level_weights) and len(cr(a, a)) == len(cr.level_weights)
