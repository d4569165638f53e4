"""FlowNetS and FlowNetC: encoder-decoder flow networks with multi-scale predictions.

Both share ``FlowDecoder`` (Dosovitskiy et al. 2015, "refinement"): starting
from the coarsest encoder feature, each level predicts a flow with a 3x3 conv,
up-samples its features (4x4 transposed conv, stride 2) and its flow (4x4
transposed conv), and concatenates them with the encoder skip of the next finer
level. The finest prediction is at 1/4 resolution.

``FlowNetCR`` stacks on a FlowNetC (FlowNet 2.0's idea at feature level, as PWC-Net): a
refinement on frame 2's stride-4 features warped by the FlowNetC's flow, then optionally a blend
with the flow's robust global affine fit (the world's background moves by one affine map),
which ``flownet_cral_small`` sharpens by aligning the frames themselves under that affine map.

Raw outputs are flows in units of full-resolution pixels divided by
``div_flow`` (FlowNet's 20), coarse to fine; ``postprocess`` turns the finest
into a full-resolution flow in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.correlation import correlation
from seesall.tasks.flow.align import affine_field, align_affine, grid_coords, halve
from seesall.tasks.flow.loss import FLOWNET_WEIGHTS


def conv(in_ch: int, out_ch: int, *, kernel_size: int = 3, stride: int = 1,
         batch_norm: bool = False) -> nn.Sequential:
    """Conv2d (+ BatchNorm, FlowNet-BN) + LeakyReLU(0.1), 'same' padding, as in FlowNet."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride,
                                         padding=kernel_size // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.LeakyReLU(0.1, inplace=True))
    return nn.Sequential(*layers)


def init_weights(model: nn.Module) -> None:
    """He-normal (LeakyReLU slope 0.1) convolutions with zero biases, BatchNorm at (1, 0).

    PyTorch's default (uniform, gain 1/sqrt(3)) shrinks the signal at every layer of a deep
    LeakyReLU stack without normalisation, which keeps FlowNet on the mean-flow plateau.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _encoder(in_ch: int, widths: Sequence[int], kernels: Sequence[int], *,
             batch_norm: bool = False) -> nn.ModuleList:
    """Stride-2 stages (a second stride-1 conv from the third stage on), one per width."""
    stages, c = [], in_ch
    for i, (w, k) in enumerate(zip(widths, kernels, strict=True)):
        layers = [conv(c, w, kernel_size=k, stride=2, batch_norm=batch_norm)]
        if i >= 2:
            layers.append(conv(w, w, batch_norm=batch_norm))
        stages.append(nn.Sequential(*layers))
        c = w
    return nn.ModuleList(stages)


class FlowDecoder(nn.Module):
    """Multi-scale flow refinement from encoder features.

    Args:
        skip_channels: channels of the encoder features from stride 4 up to the
            coarsest, e.g. [c2, c3, c4, c5, c6] (the stride-4 feature is the finest skip).
        deconv_channels: channels of each up-sampled feature, coarse to fine
            (len(skip_channels) - 1 entries).
    """

    def __init__(self, *, skip_channels: Sequence[int], deconv_channels: Sequence[int]) -> None:
        super().__init__()
        if len(deconv_channels) != len(skip_channels) - 1:
            raise ValueError(f"deconv_channels needs {len(skip_channels) - 1} entries, "
                             f"got {len(deconv_channels)}")
        coarse_to_fine = list(reversed(skip_channels))
        self.predict = nn.ModuleList([nn.Conv2d(coarse_to_fine[0], 2, 3, padding=1)])
        self.deconv = nn.ModuleList()
        self.upflow = nn.ModuleList()
        c_in = coarse_to_fine[0]
        for skip, dc in zip(coarse_to_fine[1:], deconv_channels, strict=True):
            self.deconv.append(nn.Sequential(nn.ConvTranspose2d(c_in, dc, 4, 2, 1),
                                             nn.LeakyReLU(0.1, inplace=True)))
            self.upflow.append(nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False))
            c_in = skip + dc + 2
            self.predict.append(nn.Conv2d(c_in, 2, 3, padding=1))

    def forward(self, skips: Sequence[Tensor]) -> list[Tensor]:
        """Encoder features fine to coarse (stride 4 .. coarsest) -> flows coarse to fine.

        Returns:
            list of Tensor[B, 2, H_l, W_l], the last at 1/4 input resolution.
        """
        feats = list(reversed(skips))
        x = feats[0]
        flows = [self.predict[0](x)]
        for i, skip in enumerate(feats[1:]):
            up_x = self.deconv[i](x)
            up_f = self.upflow[i](flows[-1])
            x = torch.cat([skip, up_x, up_f], dim=1)  # (B, C_skip + C_up + 2, H_l, W_l)
            flows.append(self.predict[i + 1](x))
        return flows


def _check_pair(image1: Tensor, image2: Tensor, multiple: int) -> None:
    if image1.shape != image2.shape or image1.ndim != 4 or image1.shape[1] != 3:
        raise ValueError(f"image1 and image2 must be equal [B, 3, H, W], got {list(image1.shape)} "
                         f"and {list(image2.shape)}")
    h, w = image1.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(f"H and W must be multiples of {multiple}, got ({h}, {w})")


class FlowNetS(nn.Module):
    """FlowNetSimple: both frames stacked as 6 channels into one encoder, then the decoder."""

    def __init__(self, *, encoder: nn.ModuleList, decoder: FlowDecoder, div_flow: float = 20.0):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.div_flow = div_flow
        self.size_multiple = 2 ** len(encoder)

    def forward(self, image1: Tensor, image2: Tensor) -> list[Tensor]:
        """Normalized frames Tensor[B, 3, H, W] x 2 -> flows / div_flow, coarse to fine."""
        _check_pair(image1, image2, self.size_multiple)
        x = torch.cat([image1, image2], dim=1)  # (B, 6, H, W)
        feats = []
        for stage in self.encoder:
            x = stage(x)
            feats.append(x)
        return self.decoder(feats[1:])  # skips from stride 4


class FlowNetC(nn.Module):
    """FlowNetCorr: a siamese encoder up to ``corr_level``, a correlation layer, then one stream.

    Args:
        siamese: stages applied to each frame with shared weights (stride 2 each).
        redirect: 1x1 conv on frame 1's last siamese feature, concatenated to the correlation.
        trunk: the remaining stages on [redirect, correlation].
        decoder: the refinement decoder on [siamese skips of frame 1 from stride 4, trunk].
    """

    def __init__(
        self, *, siamese: nn.ModuleList, redirect: nn.Module, trunk: nn.ModuleList,
        decoder: FlowDecoder, max_displacement: int, corr_stride: int = 1, div_flow: float = 20.0,
        cosine: bool = False,
    ) -> None:
        super().__init__()
        self.cosine = cosine
        self.siamese, self.redirect, self.trunk, self.decoder = siamese, redirect, trunk, decoder
        self.max_displacement, self.corr_stride = max_displacement, corr_stride
        self.div_flow = div_flow
        self.size_multiple = 2 ** (len(siamese) + len(trunk) - 1)

    def _siamese(self, x: Tensor) -> list[Tensor]:
        feats = []
        for stage in self.siamese:
            x = stage(x)
            feats.append(x)
        return feats

    def forward(self, image1: Tensor, image2: Tensor) -> list[Tensor]:
        """Normalized frames Tensor[B, 3, H, W] x 2 -> flows / div_flow, coarse to fine."""
        return self.forward_features(image1, image2)[0]

    def forward_features(self, image1: Tensor, image2: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """As ``forward``, also returning the siamese features of both frames.

        Returns:
            (flows coarse to fine, per siamese level Tensor[2B, C_l, H_l, W_l]: frame 1's
            batch first, then frame 2's).
        """
        _check_pair(image1, image2, self.size_multiple)
        both = self._siamese(torch.cat([image1, image2], dim=0))  # (2B, C, H_l, W_l) per level
        feats1 = [f[: image1.shape[0]] for f in both]
        a, b = both[-1].chunk(2, dim=0)
        corr = correlation(a, b, max_displacement=self.max_displacement, stride=self.corr_stride,
                           cosine=self.cosine)
        x = torch.cat([self.redirect(a), F.leaky_relu(corr, 0.1)], dim=1)  # (B, C_r + D*D, H, W)
        for i, stage in enumerate(self.trunk):
            x = stage(x)
            if i == 0:
                feats1[-1] = x  # the fused feature is the skip at the correlation's stride
            else:
                feats1.append(x)
        return self.decoder(feats1[1:]), both


def warp(x: Tensor, flow: Tensor) -> Tensor:
    """Backward warp: sample Tensor[B, C, H, W] at p + flow(p), flow Tensor[B, 2, H, W] in pixels
    of ``x`` (bilinear, zeros outside the image).

    ``grid_sample(align_corners=True)`` puts -1 and 1 on the centres of the first and last pixel,
    so pixel coordinate p maps to 2 p / (W - 1) - 1.
    """
    if flow.ndim != 4 or flow.shape[1] != 2 or flow.shape[-2:] != x.shape[-2:] or flow.shape[0] != x.shape[0]:
        raise ValueError(f"flow must be [B, 2, H, W] matching x {list(x.shape)}, got {list(flow.shape)}")
    b, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, h, 1)
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, w)
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0  # (B, H, W)
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class WarpRefine(nn.Module):
    """A residual flow at one level from frame 2's features warped by the current flow.

    FlowNet 2.0's stacking (Ilg et al. 2017) on features instead of images, as PWC-Net: frame 2's
    feature map is warped towards frame 1 by the current estimate, a cosine cost volume of small
    displacements measures what motion is left, and a small dilated conv stack on [cost volume,
    frame 1's feature, current flow] predicts the correction. The prediction conv starts at zero,
    so an untrained refinement returns its input flow.

    Args:
        feat_channels: channels of the feature maps.
        max_displacement: cost volume radius d in feature pixels ((2 d + 1)^2 channels).
        widths: channels of the stack (a 1x1 conv, then 3x3 convs).
        dilations: dilation of each 3x3 conv (len(widths) - 1 entries).
    """

    def __init__(self, *, feat_channels: int, max_displacement: int, widths: Sequence[int],
                 dilations: Sequence[int]) -> None:
        super().__init__()
        if len(dilations) != len(widths) - 1:
            raise ValueError(f"dilations needs {len(widths) - 1} entries, got {len(dilations)}")
        self.max_displacement = max_displacement
        d = 2 * max_displacement + 1
        layers: list[nn.Module] = [conv(d * d + feat_channels + 2, widths[0], kernel_size=1)]
        for c_in, c_out, dil in zip(widths[:-1], widths[1:], dilations, strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=dil, dilation=dil), nn.LeakyReLU(0.1, inplace=True)]
        self.stack = nn.Sequential(*layers)
        self.predict = nn.Conv2d(widths[-1], 2, 3, padding=1)

    def forward(self, feat1: Tensor, feat2: Tensor, flow: Tensor, *, scale: float) -> Tensor:
        """Features Tensor[B, C, h, w] of both frames and a raw flow Tensor[B, 2, h, w] (pixels /
        div_flow) -> the refined raw flow; ``scale`` turns raw flow into feature pixels."""
        start = flow.detach()  # as RAFT: the correction is learned for the estimate it sees
        warped = warp(feat2, start * scale)
        corr = correlation(feat1, warped, max_displacement=self.max_displacement, cosine=True)
        x = torch.cat([F.leaky_relu(corr, 0.1), feat1, start], dim=1)  # (B, D * D + C + 2, h, w)
        return flow + self.predict(self.stack(x))


def fit_affine(flow: Tensor, weight: Tensor, *, ridge: float = 1e-4) -> Tensor:
    """Per image, the affine motion theta Tensor[B, 3, 2] whose field ``[x, y, 1] @ theta``
    (normalised grid coordinates, see :mod:`seesall.tasks.flow.align`) is closest to ``flow``
    Tensor[B, 2, h, w] in least squares weighted by ``weight`` Tensor[B, 1, h, w] >= 0
    (normalised to sum 1 inside; ``ridge`` is a Tikhonov term on the normal equations)."""
    b, _, h, w = flow.shape
    if weight.shape != (b, 1, h, w):
        raise ValueError(f"weight must be {[b, 1, h, w]}, got {list(weight.shape)}")
    coords = grid_coords(h, w, flow)  # (3, HW)
    wt = weight.reshape(b, 1, h * w)
    wt = wt / wt.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    xtw = coords[None] * wt  # (B, 3, HW)
    lhs = xtw @ coords.T + ridge * torch.eye(3, dtype=flow.dtype, device=flow.device)  # (B, 3, 3)
    rhs = xtw @ flow.reshape(b, 2, h * w).transpose(1, 2)  # (B, 3, 2)
    return torch.linalg.solve(lhs, rhs)


def weighted_affine_fit(flow: Tensor, weight: Tensor, *, ridge: float = 1e-4) -> Tensor:
    """The field Tensor[B, 2, h, w] of :func:`fit_affine`'s motion, on the flow's grid."""
    return affine_field(fit_affine(flow, weight, ridge=ridge), *flow.shape[-2:])


class GlobalAffine(nn.Module):
    """Blend a flow with the dominant affine motion fitted to it: a camera moving over a distant or
    planar background moves it by close to one affine map, which local matching cannot see inside
    untextured regions (the world's backgrounds move exactly so).

    A conv head gives each pixel a confidence; a few iteratively re-weighted least-squares fits
    (Cauchy weights at ``robust_scale`` raw units times the confidence) find the dominant affine
    motion A. With ``align_iterations`` > 0, A is then refined on the frames themselves
    (:func:`~seesall.tasks.flow.align.align_affine`, robust Gauss-Newton image alignment: sub-pixel
    where the background has any gradient) and the mix head also sees, per cell, the colour
    residual of frame 2 sampled along A and along the flow. A second head, seeing the flow, A
    and their difference, gives a mix m in (0, 1) and the output is flow + m (A - flow).
    """

    def __init__(self, *, feat_channels: int, width: int = 16, iterations: int = 3,
                 robust_scale: float = 0.05, mix_bias: float = -1.0, align_iterations: int = 0,
                 align_stride: int = 4) -> None:
        super().__init__()
        self.iterations, self.robust_scale = iterations, robust_scale
        self.align_iterations, self.align_stride = align_iterations, align_stride
        extra = 2 if align_iterations else 0
        self.confidence = nn.Sequential(conv(feat_channels + 2, width), nn.Conv2d(width, 1, 3, padding=1))
        self.mix = nn.Sequential(conv(feat_channels + 6 + extra, width), nn.Conv2d(width, 1, 3, padding=1))
        init_weights(self)
        for head, bias in ((self.confidence, 0.0), (self.mix, mix_bias)):
            nn.init.zeros_(head[-1].weight)
            nn.init.constant_(head[-1].bias, bias)

    @staticmethod
    def _frames(frames: tuple[Tensor, Tensor] | None, flow: Tensor) -> tuple[Tensor, Tensor]:
        if frames is None:
            raise ValueError("GlobalAffine with align_iterations needs the frames")
        if frames[0].shape[-2:] != (4 * flow.shape[-2], 4 * flow.shape[-1]):
            raise ValueError(f"frames {list(frames[0].shape[-2:])} are not 4x the flow {list(flow.shape[-2:])}")
        return frames

    def forward(self, feat1: Tensor, flow: Tensor, frames: tuple[Tensor, Tensor] | None = None, *,
                div_flow: float = 20.0) -> Tensor:
        """Frame 1's feature Tensor[B, C, h, w] and a raw flow Tensor[B, 2, h, w] -> blended flow.

        ``frames`` (the normalised input frames Tensor[B, 3, H, W], H = 4 h and W = 4 w) and
        ``div_flow`` (the raw flow's unit in input pixels) are needed with ``align_iterations``.
        """
        conf = torch.sigmoid(self.confidence(torch.cat([feat1, flow], dim=1)))  # (B, 1, h, w)
        weight = conf
        for _ in range(self.iterations):
            fit = weighted_affine_fit(flow, weight)
            r2 = ((flow - fit) ** 2).sum(1, keepdim=True)  # (B, 1, h, w)
            weight = conf / (1.0 + r2 / self.robust_scale**2)
        theta = fit_affine(flow, weight)
        residuals: list[Tensor] = []
        if self.align_iterations:
            image1, image2 = self._frames(frames, flow)
            theta = align_affine(image1, image2, theta, grid=tuple(flow.shape[-2:]), div_flow=div_flow,
                                 iterations=self.align_iterations, stride=self.align_stride)
        fit = affine_field(theta, *flow.shape[-2:])
        if self.align_iterations:
            a, b = halve(halve(image1)), halve(halve(image2))  # the frames at the flow's cells
            residuals = [(a - warp(b, f.detach() * (div_flow / 4))).abs().sum(1, keepdim=True) for f in (fit, flow)]
        m = torch.sigmoid(self.mix(torch.cat([feat1, flow, fit, flow - fit, *residuals], dim=1)))
        return flow + m * (fit - flow)


class FlowNetCR(nn.Module):
    """A FlowNetC whose finest flow (stride 4) is refined by a :class:`WarpRefine` on its own
    stride-4 siamese features, then optionally blended with its global affine fit
    (:class:`GlobalAffine`). Outputs: the FlowNetC's flows, the refined one, the blended one."""

    def __init__(self, *, base: FlowNetC, refine: WarpRefine, level: int = 1,
                 affine: GlobalAffine | None = None) -> None:
        super().__init__()
        self.base, self.refine, self.level, self.affine = base, refine, level, affine
        self.div_flow = base.div_flow
        self.size_multiple = base.size_multiple

    @property
    def level_weights(self) -> tuple[float, ...]:
        """Loss weight per output, finest first: each stage on top gets the weight of the base's
        finest level, the base keeps FlowNet's."""
        return (FLOWNET_WEIGHTS[0],) * (1 + (self.affine is not None)) + tuple(FLOWNET_WEIGHTS)

    def forward(self, image1: Tensor, image2: Tensor) -> list[Tensor]:
        """Normalized frames Tensor[B, 3, H, W] x 2 -> flows / div_flow, coarse to fine."""
        flows, both = self.base.forward_features(image1, image2)
        f1, f2 = both[self.level].chunk(2, dim=0)  # (B, C, H / s, W / s) each
        if flows[-1].shape[-2:] != f1.shape[-2:]:
            raise ValueError(f"siamese level {self.level} is {list(f1.shape[-2:])}, the finest flow "
                             f"{list(flows[-1].shape[-2:])}")
        scale = self.div_flow * f1.shape[-1] / image1.shape[-1]
        flows = [*flows, self.refine(f1, f2, flows[-1], scale=scale)]
        if self.affine is None:
            return flows
        return [*flows, self.affine(f1, flows[-1], (image1, image2), div_flow=self.div_flow)]


def _flownet_s(widths: Sequence[int], kernels: Sequence[int], deconv: Sequence[int], *,
               batch_norm: bool = False, he_init: bool = True) -> FlowNetS:
    enc = _encoder(6, widths, kernels, batch_norm=batch_norm)
    model = FlowNetS(encoder=enc, decoder=FlowDecoder(skip_channels=widths[1:],
                                                      deconv_channels=deconv))
    if he_init:
        init_weights(model)
    return model


def _flownet_c(
    widths: Sequence[int], kernels: Sequence[int], deconv: Sequence[int], *, corr_level: int,
    max_displacement: int, corr_stride: int, redirect: int, batch_norm: bool = False,
    he_init: bool = True, cosine: bool = False,
) -> FlowNetC:
    bn = batch_norm
    siamese = _encoder(3, widths[:corr_level], kernels[:corr_level], batch_norm=bn)
    d = 2 * max_displacement // corr_stride + 1
    fused = widths[corr_level - 1]
    trunk = nn.ModuleList([conv(redirect + d * d, fused, batch_norm=bn)])  # FlowNetC's conv3_1
    c = fused
    for w, k in zip(widths[corr_level:], kernels[corr_level:], strict=True):
        trunk.append(nn.Sequential(conv(c, w, kernel_size=k, stride=2, batch_norm=bn),
                                   conv(w, w, batch_norm=bn)))
        c = w
    model = FlowNetC(
        siamese=siamese, redirect=conv(fused, redirect, kernel_size=1, batch_norm=bn),
        trunk=trunk, decoder=FlowDecoder(skip_channels=widths[1:], deconv_channels=deconv),
        max_displacement=max_displacement, corr_stride=corr_stride, cosine=cosine,
    )
    if he_init:
        init_weights(model)
    return model


def flownet_s() -> FlowNetS:
    """FlowNetS with the paper's widths (64 .. 1024; ~38 M parameters)."""
    return _flownet_s([64, 128, 256, 512, 512, 1024], [7, 5, 5, 3, 3, 3], [512, 256, 128, 64])


def flownet_c() -> FlowNetC:
    """FlowNetC with the paper's widths, correlation at stride 8 with d = 20, stride 2."""
    return _flownet_c([64, 128, 256, 512, 512, 1024], [7, 5, 5, 3, 3, 3], [512, 256, 128, 64],
                      corr_level=3, max_displacement=20, corr_stride=2, redirect=32)


def flownet_s_tiny() -> FlowNetS:
    """A CPU-sized FlowNetS (widths 16 .. 128)."""
    return _flownet_s([16, 32, 64, 96, 128, 128], [7, 5, 5, 3, 3, 3], [64, 48, 32, 16])


def flownet_c_tiny() -> FlowNetC:
    """A CPU-sized FlowNetC: correlation at stride 8 with d = 4 (+-32 input pixels), stride 1."""
    return _flownet_c([16, 32, 64, 96, 128, 128], [7, 5, 5, 3, 3, 3], [64, 48, 32, 16],
                      corr_level=3, max_displacement=4, corr_stride=1, redirect=16)


def flownet_c_small() -> FlowNetC:
    """FlowNetC-tiny made faster and quicker to train for CPU budgets: 5/5/3 kernels, a 48-wide
    stride-8 feature, and a cosine correlation (d = 4, +-32 input pixels)."""
    return _flownet_c([16, 32, 48, 96, 128, 128], [5, 5, 3, 3, 3, 3], [64, 48, 32, 16],
                      corr_level=3, max_displacement=4, corr_stride=1, redirect=16, cosine=True)


def flownet_cr_small() -> FlowNetCR:
    """flownet_c_small plus a stride-4 warped-feature refinement (d = 2, +-8 input pixels around
    the estimate; 1x1 to 32, then two 3x3 convs of 32 at dilation 1 and 2)."""
    refine = WarpRefine(feat_channels=32, max_displacement=2, widths=[32, 32, 32], dilations=[1, 2])
    init_weights(refine)
    nn.init.zeros_(refine.predict.weight)
    nn.init.zeros_(refine.predict.bias)
    return FlowNetCR(base=flownet_c_small(), refine=refine)


def flownet_cra_small() -> FlowNetCR:
    """flownet_cr_small whose refined flow is blended with its global affine fit."""
    model = flownet_cr_small()
    model.affine = GlobalAffine(feat_channels=32)
    return model


def flownet_cral_small() -> FlowNetCR:
    """flownet_cra_small whose affine fit is refined by aligning the frames (5 Gauss-Newton steps)."""
    model = flownet_cr_small()
    model.affine = GlobalAffine(feat_channels=32, align_iterations=5)
    return model


MODELS = {
    "flownet_s": flownet_s,
    "flownet_c": flownet_c,
    "flownet_s_tiny": flownet_s_tiny,
    "flownet_c_tiny": flownet_c_tiny,
    "flownet_c_small": flownet_c_small,
    "flownet_cr_small": flownet_cr_small,
    "flownet_cra_small": flownet_cra_small,
    "flownet_cral_small": flownet_cral_small,
}
"""Model table: name -> factory."""
