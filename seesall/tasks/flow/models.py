"""FlowNetS and FlowNetC: encoder-decoder flow networks with multi-scale predictions.

Both share ``FlowDecoder`` (Dosovitskiy et al. 2015, "refinement"): starting
from the coarsest encoder feature, each level predicts a flow with a 3x3 conv,
up-samples its features (4x4 transposed conv, stride 2) and its flow (4x4
transposed conv), and concatenates them with the encoder skip of the next finer
level. The finest prediction is at 1/4 resolution.

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
        return self.decoder(feats1[1:])


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


MODELS = {
    "flownet_s": flownet_s,
    "flownet_c": flownet_c,
    "flownet_s_tiny": flownet_s_tiny,
    "flownet_c_tiny": flownet_c_tiny,
    "flownet_c_small": flownet_c_small,
}
"""Model table: name -> factory."""
