"""DeltaStream: exact at threshold 0, multiply-adds counted by hand, sub-threshold changes held."""

from __future__ import annotations

import pytest
import torch

from seesall.nn.video import CausalBlock, CausalConv3d, CausalVideoNet, causal_tiny
from seesall.tasks.video.delta import DeltaStream

torch.set_num_threads(1)


def _one_block(static_start: bool) -> CausalVideoNet:
    """One causal conv (3 x 5 x 5, stride 2 in space, 3 -> 4 channels) and a head."""
    conv = CausalConv3d(3, 4, kernel_size=(3, 5, 5), stride_hw=2, static_start=static_start)
    return CausalVideoNet(blocks=[CausalBlock(conv, 4)], out_channels=4, num_classes=2).eval()


@pytest.mark.parametrize("kwargs", [{}, {"motion": True}, {"static_start": True},
                                    {"motion": True, "static_start": True}])
def test_threshold_zero_gives_the_offline_network(kwargs, randomize_bn):
    torch.manual_seed(0)
    net = causal_tiny(num_classes=5, width=4, **kwargs).double().eval()
    randomize_bn(net)
    x = torch.randn(2, 3, 10, 16, 16, dtype=torch.float64)
    x[:, :, 4:6] = x[:, :, 3:4]  # a pause: frames 3-5 equal
    res = DeltaStream(net=net, threshold=0.0).run(x)
    with torch.no_grad():
        assert (res.logits - net(x)).abs().max() < 1e-9
    assert bool((res.macs < res.dense_macs).all())


def test_multiply_adds_by_hand():
    """One pixel changes at frame 1 and back at frame 3 (16 x 16 frames): the 5 x 5 kernel at
    stride 2 (padding 2) has 3 x 3 of its 8 x 8 outputs reading it; an output costs
    4 x 3 x 3 x 5 x 5 = 900 multiply-adds (all 3 time taps)."""
    torch.manual_seed(0)
    video = torch.rand(1, 3, 1, 16, 16).repeat(1, 1, 5, 1, 1)
    video[:, :, 1:3, 10, 10] += 1.0
    per_output, outputs = 900, 64
    for static_start, first in ((False, outputs * per_output), (True, outputs * per_output / 3)):
        stream, state, macs = DeltaStream(net=_one_block(static_start)), None, []
        for t in range(5):
            _, state, m = stream.step(video[:, :, t], state)
            macs.append(float(m))
        assert macs == [first, 9 * per_output, 0.0, 9 * per_output, 0.0]
    res = DeltaStream(net=_one_block(True)).run(video)
    assert res.frame_macs.tolist() == [[outputs * per_output / 3, 9 * per_output, 0.0, 9 * per_output, 0.0]]
    assert res.dense_macs == 5 * outputs * per_output
    assert float(res.macs_fraction) == pytest.approx((outputs / 3 + 18) / (5 * outputs))


def _windows_reading(changed: torch.Tensor, kernel: tuple[int, int], stride: int) -> int:
    """Output positions of a 'same'-padded strided conv whose window holds a changed input
    position, by brute force over the outputs (changed: bool Tensor[H, W])."""
    (kh, kw), (h, w) = kernel, changed.shape
    count = 0
    for oy in range(-(-h // stride)):
        for ox in range(-(-w // stride)):
            y0, x0 = oy * stride - kh // 2, ox * stride - kw // 2
            count += bool(changed[max(y0, 0) : y0 + kh, max(x0, 0) : x0 + kw].any())
    return count


@pytest.mark.parametrize("static_start", [False, True])
def test_multiply_adds_of_a_deep_net_by_brute_force(static_start, randomize_bn):
    """causal_tiny on 15 x 13 frames, two clips that change one channel of a border patch and a
    middle patch at different frames: per layer and frame, the outputs whose window reads a
    changed input (found on the offline network's activations) times the kernel's size."""
    torch.manual_seed(0)
    net = causal_tiny(num_classes=3, width=4, static_start=static_start).double().eval()
    randomize_bn(net)
    video = torch.rand(2, 3, 1, 15, 13, dtype=torch.float64).repeat(1, 1, 6, 1, 1)
    video[0, 1, 2:, 0:2, 0:3] += 1.0  # channel 1 of a corner patch, from frame 2 on
    video[1, 0, 1:4, 6:8, 5:7] -= 1.0  # channel 0 of a middle patch, frames 1-3
    res = DeltaStream(net=net).run(video)
    expected = torch.zeros(2, dtype=torch.float64)
    x = video
    with torch.no_grad():
        for block in net.blocks:
            conv = block.conv.conv
            kt, stride, size = conv.kernel_size[0], conv.stride[1], conv.weight.numel()
            y = block(x)
            outputs = y.shape[-2] * y.shape[-1]
            for b in range(2):
                expected[b] += outputs * size / kt if static_start else outputs * size  # frame 0
                for t in range(1, x.shape[2]):
                    changed = (x[b, :, t] != x[b, :, t - 1]).any(dim=0)
                    expected[b] += _windows_reading(changed, conv.kernel_size[1:], stride) * size
            x = y
    torch.testing.assert_close(res.macs, expected, rtol=0, atol=0)


def test_the_threshold_is_on_the_mean_change_over_channels():
    """One channel of a pixel changes by 0.75 (mean over 3 channels 0.25 = the threshold: held),
    then by 0.375 more (mean 0.375 > 0.25: propagated)."""
    net = _one_block(static_start=True)
    video = torch.full((1, 3, 3, 16, 16), 0.5)
    video[:, 0, 1, 6, 6] += 0.75
    video[:, 0, 2, 6, 6] += 1.125
    stream, state, macs = DeltaStream(net=net, threshold=0.25), None, []
    for t in range(3):
        _, state, m = stream.step(video[:, :, t], state)
        macs.append(float(m))
    assert macs[1:] == [0.0, 9 * 900]


def test_changes_under_the_threshold_are_held_until_they_add_up():
    """A pixel brightens by 0.3 per frame, threshold 0.5: frame 1's change is held (no work, the
    output is frame 0's), at frame 2 the sum 0.6 passes, so the net sees frames 0, 0, 2."""
    torch.manual_seed(0)
    net = _one_block(static_start=True)
    video = torch.rand(1, 3, 1, 16, 16).repeat(1, 1, 3, 1, 1)
    video[:, :, 1, 6, 6] += 0.3
    video[:, :, 2, 6, 6] += 0.6
    stream, state, outs, macs = DeltaStream(net=net, threshold=0.5), None, [], []
    for t in range(3):
        y, state, m = stream.step(video[:, :, t], state)
        outs.append(y)
        macs.append(float(m))
    seen = video[:, :, [0, 0, 2]]
    with torch.no_grad():
        torch.testing.assert_close(torch.stack(outs, 1), net(seen), atol=1e-5, rtol=0)
    assert macs[1] == 0.0 and macs[2] == 9 * 900


def test_bad_input_is_refused():
    net = causal_tiny(num_classes=3, width=4)
    with pytest.raises(ValueError, match="threshold"):
        DeltaStream(net=net, threshold=-0.1)
    with pytest.raises(ValueError, match="velocity"):
        DeltaStream(net=causal_tiny(num_classes=3, width=4, velocity=True))
    with pytest.raises(ValueError, match="frame must have shape"):
        DeltaStream(net=net).step(torch.zeros(1, 1, 8, 8), None)
    with pytest.raises(ValueError, match="video must be"):
        DeltaStream(net=net).run(torch.zeros(3, 8, 8, 8))
    with pytest.raises(ValueError, match="T >= 1"):
        DeltaStream(net=net).run(torch.zeros(1, 3, 0, 8, 8))
