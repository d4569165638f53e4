"""Video blocks: causality, streaming == offline, I3D inflation, shapes, overfitting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seesall.nn.video import (
    CausalConv3d,
    DifferenceConv3d,
    c3d_tiny,
    causal_tiny,
    inflate_2d,
    r3d_tiny,
    slowfast_tiny,
    velocities,
)

torch.set_num_threads(1)


def test_causal_conv_matches_manual_padding():
    """Offline causal conv == plain Conv3d on an explicitly zero-prepended clip, last T outputs."""
    torch.manual_seed(0)
    conv = CausalConv3d(2, 3, kernel_size=(3, 3, 3), dilation_t=2)
    x = torch.randn(1, 2, 6, 5, 5)
    padded = torch.cat([torch.zeros(1, 2, 4, 5, 5), x], dim=2)
    ref = torch.nn.functional.conv3d(padded, conv.conv.weight, conv.conv.bias, padding=(0, 1, 1),
                                     dilation=(2, 1, 1))
    torch.testing.assert_close(conv(x), ref, atol=1e-6, rtol=0)


def test_static_start_conv_pads_time_with_the_first_frame():
    """A static start == plain Conv3d on the clip after copies of its first frame."""
    torch.manual_seed(0)
    conv = CausalConv3d(2, 3, kernel_size=(3, 3, 3), dilation_t=2, static_start=True)
    x = torch.randn(1, 2, 6, 5, 5)
    padded = torch.cat([x[:, :, :1].expand(1, 2, 4, 5, 5), x], dim=2)
    ref = torch.nn.functional.conv3d(padded, conv.conv.weight, conv.conv.bias, padding=(0, 1, 1),
                                     dilation=(2, 1, 1))
    torch.testing.assert_close(conv(x), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("static_start", [False, True])
def test_causal_output_ignores_future_frames(static_start, randomize_bn):
    torch.manual_seed(0)
    net = causal_tiny(num_classes=5, width=4, static_start=static_start).eval()
    randomize_bn(net)
    x = torch.randn(2, 3, 10, 16, 16)
    y = net(x)
    for t in (0, 4, 8):
        x2 = x.clone()
        x2[:, :, t + 1 :] = torch.randn_like(x2[:, :, t + 1 :]) * 5
        y2 = net(x2)
        assert (y2[:, : t + 1] - y[:, : t + 1]).abs().max() < 1e-6
        assert (y2[:, t + 1 :] - y[:, t + 1 :]).abs().max() > 1e-3  # the future does matter later


@pytest.mark.parametrize("static_start", [False, True])
def test_streaming_equals_offline(static_start, randomize_bn):
    torch.manual_seed(0)
    net = causal_tiny(num_classes=5, width=4, static_start=static_start).eval()
    randomize_bn(net)
    x = torch.randn(2, 3, 12, 16, 16)
    with torch.no_grad():
        offline = net(x)
        state = net.init_state(x[:, :, 0])
        outs = []
        for t in range(x.shape[2]):
            y, state = net.step(x[:, :, t], state)
            outs.append(y)
    stream = torch.stack(outs, dim=1)
    assert stream.shape == offline.shape == (2, 12, 5)
    assert (stream - offline).abs().max() < 1e-5
    # the cache of each layer holds (k_t - 1) * dilation_t frames
    assert [s.shape[2] for s in state] == [2, 2, 4, 8]


class _Tiny2d(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 7),
        )


@pytest.mark.parametrize("time_kernel", [1, 3, 5])
def test_inflated_static_clip_gives_2d_logits(time_kernel, randomize_bn):
    torch.manual_seed(0)
    m2 = _Tiny2d().eval()
    randomize_bn(m2)
    m3 = inflate_2d(m2, time_kernel=time_kernel).eval()
    frame = torch.randn(2, 3, 20, 20)
    clip = frame[:, :, None].repeat(1, 1, 6, 1, 1)
    with torch.no_grad():
        assert (m3(clip) - m2(frame)).abs().max() < 1e-4
    # the 2D model is untouched and the 3D kernels are the tiled 2D ones / T
    assert isinstance(m2[0], nn.Conv2d)
    w3 = m3[0].conv.weight
    assert w3.shape == (8, 3, time_kernel, 3, 3)
    torch.testing.assert_close(w3.sum(2), m2[0].weight)


@pytest.mark.parametrize("factory", [c3d_tiny, r3d_tiny, slowfast_tiny])
def test_forward_shapes(factory):
    net = factory(num_classes=6)
    assert net(torch.randn(2, 3, 8, 32, 32)).shape == (2, 6)


def test_slowfast_rejects_bad_length():
    with pytest.raises(ValueError, match="alpha"):
        slowfast_tiny(num_classes=3, alpha=4)(torch.randn(1, 3, 6, 16, 16))


def test_bad_input_shape_names_it():
    with pytest.raises(ValueError, match=r"\[B, 3, T, H, W\]"):
        r3d_tiny(num_classes=3)(torch.randn(1, 8, 16, 16))


@pytest.mark.parametrize("factory", [c3d_tiny, r3d_tiny, slowfast_tiny, causal_tiny])
def test_overfits_tiny_batch(factory):
    """Four clips whose class is the direction of a moving blob; a few Adam steps fit them."""
    torch.manual_seed(0)
    net = factory(num_classes=4, width=8)
    x = torch.zeros(4, 3, 8, 16, 16)
    for c, (dy, dx) in enumerate([(0, 1), (0, -1), (1, 0), (-1, 0)]):
        for t in range(8):
            y0, x0 = 6 + dy * (t - 4), 6 + dx * (t - 4)
            x[c, :, t, y0 : y0 + 4, x0 : x0 + 4] = 1.0
    labels = torch.arange(4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(40):
        out = net(x)
        if out.ndim == 3:
            out = out.mean(1)
        loss = nn.functional.cross_entropy(out, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def test_difference_conv_is_a_centred_conv_on_replicated_borders_and_zero_on_static_clips():
    torch.manual_seed(0)
    conv = DifferenceConv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 2, 2), padding_hw=(1, 1))
    x = torch.randn(1, 2, 5, 8, 8)
    w = conv.weight.detach()
    ref_w = w - (w[:, :, 0] + w[:, :, 1] + w[:, :, 2])[:, :, None] / 3  # centred by hand
    padded = torch.cat([x[:, :, :1], x, x[:, :, -1:]], dim=2)  # border frames repeated
    ref = nn.functional.conv3d(padded, ref_w, stride=(1, 2, 2), padding=(0, 1, 1))
    torch.testing.assert_close(conv(x), ref, atol=1e-5, rtol=0)
    static = x[:, :, :1].repeat(1, 1, 5, 1, 1)
    assert conv(static).abs().max() < 1e-5


@pytest.mark.parametrize("factory", [r3d_tiny, c3d_tiny, slowfast_tiny])
def test_motion_stem_networks_ignore_appearance_of_static_clips(factory, randomize_bn):
    """With a difference stem every static clip looks the same (zero motion) to the network."""
    torch.manual_seed(0)
    net = factory(num_classes=4, width=8, motion=True).eval()
    randomize_bn(net)
    a = torch.randn(1, 3, 1, 16, 16).repeat(1, 1, 8, 1, 1)
    b = torch.randn(1, 3, 1, 16, 16).repeat(1, 1, 8, 1, 1) * 3
    if factory is slowfast_tiny:  # the slow pathway still sees appearance
        assert (net(a) - net(b)).abs().max() > 1e-3
    else:
        torch.testing.assert_close(net(a), net(b), atol=1e-5, rtol=0)


def test_slowfast_with_difference_stems_on_both_pathways_ignores_static_appearance(randomize_bn):
    torch.manual_seed(0)
    net = slowfast_tiny(num_classes=4, width=8, motion=True, slow_motion=True).eval()
    randomize_bn(net)
    a = torch.randn(1, 3, 1, 16, 16).repeat(1, 1, 8, 1, 1)
    b = torch.randn(1, 3, 1, 16, 16).repeat(1, 1, 8, 1, 1) * 3
    torch.testing.assert_close(net(a), net(b), atol=1e-5, rtol=0)
    moving = a.clone()
    moving[:, :, 4:] = moving[:, :, 4:].roll(2, dims=4)  # the slow pathway sees frames 0 and 4
    assert (net(moving) - net(a)).abs().max() > 1e-3


def test_causal_difference_streaming_equals_offline_and_ignores_future(randomize_bn):
    torch.manual_seed(0)
    net = causal_tiny(num_classes=5, width=4, motion=True).eval()
    randomize_bn(net)
    x = torch.randn(2, 3, 9, 16, 16)
    with torch.no_grad():
        offline = net(x)
        state, outs = net.init_state(x[:, :, 0]), []
        for t in range(x.shape[2]):
            y, state = net.step(x[:, :, t], state)
            outs.append(y)
        assert (torch.stack(outs, dim=1) - offline).abs().max() < 1e-5
        x2 = x.clone()
        x2[:, :, 5:] = torch.randn_like(x2[:, :, 5:])
        assert (net(x2)[:, :5] - offline[:, :5]).abs().max() < 1e-6


def test_velocities_by_hand():
    x = torch.tensor([0.0, 1.0, 3.0, 3.0, 7.0]).view(1, 1, 5, 1, 1)
    gaps = torch.tensor([[9.0, 1.0, 2.0, 1.0, 4.0]])  # the first gap is unused
    assert velocities(x, gaps).flatten().tolist() == [0.0, 1.0, 1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="gaps"):
        velocities(x, torch.tensor([[1.0, 1.0, 0.0, 1.0, 1.0]]))


def test_velocity_net_streams_with_gaps_as_offline(randomize_bn):
    torch.manual_seed(0)
    net = causal_tiny(num_classes=5, width=4, velocity=True).eval()
    randomize_bn(net)
    x = torch.randn(2, 3, 9, 16, 16)
    gaps = torch.tensor([1.0, 1.0, 3.0, 1.0, 2.0, 1.0, 1.0, 4.0, 1.0]).expand(2, 9)
    with torch.no_grad():
        offline = net(x, gaps)
        state, outs = net.init_state(x[:, :, 0]), []
        for t in range(x.shape[2]):
            y, state = net.step(x[:, :, t], state, gap=float(gaps[0, t]))
            outs.append(y)
    assert (torch.stack(outs, dim=1) - offline).abs().max() < 1e-5
    with pytest.raises(ValueError, match="motion or velocity"):
        causal_tiny(num_classes=5, motion=True, velocity=True)


@pytest.mark.parametrize("velocity", [True, False])
def test_velocity_net_sees_a_steady_change_alike_at_any_frame_rate(velocity, randomize_bn):
    """A clip whose pixels change linearly in time: every 2nd frame with gaps of 2 gives the velocity
    net the outputs of every frame (a difference net sees twice the change)."""
    torch.manual_seed(0)
    net = causal_tiny(num_classes=5, width=4, velocity=velocity, motion=not velocity).eval()
    randomize_bn(net)
    start, slope = torch.randn(1, 3, 1, 16, 16), torch.randn(1, 3, 1, 16, 16) * 0.1
    clip = start + slope * torch.arange(8.0).view(1, 1, 8, 1, 1)  # (1, 3, 8, 16, 16)
    with torch.no_grad():
        every = net(clip)[:, :4]
        half = net(clip[:, :, ::2], torch.full((1, 4), 2.0)) if velocity else net(clip[:, :, ::2])
    assert ((half - every).abs().max() < 1e-5) == velocity
