"""Affine alignment: recovers a known affine motion of analytic frames, ignores an independently
moving patch, stays at the truth, keeps its start on flat frames; GlobalAffine uses it."""

from __future__ import annotations

import math

import pytest
import torch

from seesall.tasks.flow.align import affine_field, align_affine, grid_coords
from seesall.tasks.flow.models import GlobalAffine, fit_affine

torch.set_num_threads(1)
DIV = 20.0


def _scene(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Smooth colour frames Tensor[3, ...] as functions of input pixel coordinates."""
    return 0.2 * torch.stack([torch.sin(x / 7.0) * torch.cos(y / 9.0), torch.sin((x + 2 * y) / 11.0),
                              torch.cos((x - y) / 6.0) * torch.sin(y / 13.0)])


def _pair(theta: torch.Tensor, size: int = 96, patch: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame 2 is ``_scene``; frame 1 is it sampled along the affine motion theta (raw units on the
    stride-4 grid), so the flow of frame 1 is exactly that motion. With ``patch``, a 24x24 square
    of frame 1 shows other content (an independently moving object, 6 % of the pixels)."""
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                            indexing="ij")
    g = size // 4
    n = (torch.stack([xs, ys]) - 1.5) / 4 * (2.0 / (g - 1)) - 1.0  # grid-normalised coordinates
    uv = DIV * torch.einsum("khw,kc->chw", torch.cat([n, torch.ones(1, size, size, dtype=n.dtype)]), theta[0])
    frame1 = _scene(xs + uv[0], ys + uv[1])
    frame2 = _scene(xs, ys)
    if patch:
        frame1[:, 30:54, 40:64] = _scene(xs[30:54, 40:64] * 1.7 + 5, ys[30:54, 40:64] * 0.6)
    return frame1[None].float(), frame2[None].float()


def _px_error(theta: torch.Tensor, truth: torch.Tensor, g: int) -> float:
    """Largest displacement difference over the grid, in input pixels."""
    return float(DIV * (affine_field(theta, g, g) - affine_field(truth, g, g)).norm(dim=1).max())


def test_align_affine_recovers_a_known_motion_under_an_outlier_patch():
    angle, scale = math.radians(2.0), 1.03
    # a similarity about the image centre plus a shift, in raw units per normalised coordinate
    half = 47.5 / DIV  # input pixels from the centre to the edge cells, in raw units
    lin = torch.tensor([[scale * math.cos(angle) - 1, -scale * math.sin(angle)],
                        [scale * math.sin(angle), scale * math.cos(angle) - 1]]) * half
    truth = torch.zeros(1, 3, 2, dtype=torch.float64)
    truth[0, :2] = lin.T.double()
    truth[0, 2] = torch.tensor([2.3, -1.4], dtype=torch.float64) / DIV
    a, b = _pair(truth, patch=True)
    start = truth.float().clone()
    start[0, 2] += torch.tensor([1.5, -1.0]) / DIV  # 1.8 px off
    start[0, 0, 0] += 0.5 / DIV
    assert _px_error(start, truth.float(), 24) > 1.5
    out = align_affine(a, b, start, grid=(24, 24), div_flow=DIV, iterations=10)
    assert _px_error(out, truth.float(), 24) < 0.05


def test_align_affine_keeps_its_start_when_frames_say_nothing():
    flat = torch.zeros(2, 3, 64, 64)
    start = torch.randn(2, 3, 2) * 0.05
    out = align_affine(flat, flat, start, grid=(16, 16), div_flow=DIV)
    torch.testing.assert_close(out, start)


def test_align_affine_started_at_the_truth_stays_there():
    """Within the sampling error of the smoothed half-resolution frames (< 0.1 px)."""
    truth = torch.zeros(1, 3, 2, dtype=torch.float64)
    truth[0, 2] = torch.tensor([1.25, 0.5], dtype=torch.float64) / DIV
    a, b = _pair(truth, patch=True)
    out = align_affine(a, b, truth.float(), grid=(24, 24), div_flow=DIV, iterations=3)
    assert _px_error(out, truth.float(), 24) < 0.1


def test_fit_affine_and_field_round_trip():
    theta = torch.randn(2, 3, 2)
    field = affine_field(theta, 5, 7)
    assert field.shape == (2, 2, 5, 7)
    torch.testing.assert_close(field[:, :, 0, 0], theta[:, 2] - theta[:, 0] - theta[:, 1])  # x = y = -1
    torch.testing.assert_close(fit_affine(field, torch.ones(2, 1, 5, 7), ridge=0.0), theta, atol=1e-5, rtol=0)
    assert grid_coords(5, 7, theta).shape == (3, 35)


def test_global_affine_with_alignment_returns_the_frames_motion():
    """The flow it is given is 1.8 px off the background's motion; with the mix forced to 1 the
    output is the motion the frames show (to 0.1 px)."""
    truth = torch.zeros(1, 3, 2, dtype=torch.float64)
    truth[0, 2] = torch.tensor([2.0, -1.0], dtype=torch.float64) / DIV
    a, b = _pair(truth, patch=True)
    off = truth.float().clone()
    off[0, 2] += torch.tensor([1.5, 1.0]) / DIV
    head = GlobalAffine(feat_channels=4, iterations=3, mix_bias=50.0, align_iterations=8)
    out = head(torch.zeros(1, 4, 24, 24), affine_field(off, 24, 24), (a, b), div_flow=DIV)
    assert float(DIV * (out.detach() - affine_field(truth.float(), 24, 24)).norm(dim=1).max()) < 0.1


def test_align_affine_names_bad_arguments():
    frames = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match="theta must be"):
        align_affine(frames, frames, torch.zeros(1, 2, 3), grid=(8, 8), div_flow=DIV)
    with pytest.raises(ValueError, match="stride must be even"):
        align_affine(frames, frames, torch.zeros(1, 3, 2), grid=(8, 8), div_flow=DIV, stride=3)
    with pytest.raises(ValueError, match="frames must be equal"):
        align_affine(frames, frames[..., :16], torch.zeros(1, 3, 2), grid=(8, 8), div_flow=DIV)
