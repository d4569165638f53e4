"""SlowFast: a slow, wide pathway and a fast, thin one joined by time-strided laterals."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seesall.nn.video.blocks import Conv3dBNAct, ResBlock3d, check_video, motion_stem


class SlowFast(nn.Module):
    """SlowFast: two pathways fused by time-strided lateral convs, one head on both.

    Args:
        slow_stages / fast_stages: stages of equal count with equal spatial strides.
        laterals: one Conv3d per stage but the last, mapping fast features to slow
            time (kernel (5, 1, 1), stride (alpha, 1, 1)); its output is concatenated
            to the slow features.
        alpha: the slow pathway sees every alpha-th frame.
        head: Linear on [pooled slow, pooled fast].
    """

    def __init__(
        self, *, slow_stages: Sequence[nn.Module], fast_stages: Sequence[nn.Module],
        laterals: Sequence[nn.Module], alpha: int, head: nn.Linear, in_channels: int = 3,
    ) -> None:
        super().__init__()
        if len(slow_stages) != len(fast_stages) or len(laterals) != len(slow_stages) - 1:
            raise ValueError(f"need equal slow/fast stage counts and one lateral fewer, got "
                             f"{len(slow_stages)}, {len(fast_stages)}, {len(laterals)}")
        self.slow_stages = nn.ModuleList(slow_stages)
        self.fast_stages = nn.ModuleList(fast_stages)
        self.laterals = nn.ModuleList(laterals)
        self.alpha = alpha
        self.head = head
        self.in_channels = in_channels

    def forward(self, video: Tensor) -> Tensor:
        """Tensor[B, C, T, H, W] (T divisible by alpha) -> logits Tensor[B, K]."""
        check_video(video, self.in_channels)
        if video.shape[2] % self.alpha:
            raise ValueError(
                f"SlowFast needs T divisible by alpha={self.alpha}, got T={video.shape[2]}"
            )
        slow, fast = video[:, :, :: self.alpha], video
        stages = zip(self.slow_stages, self.fast_stages, strict=True)
        for i, (s_stage, f_stage) in enumerate(stages):
            slow, fast = s_stage(slow), f_stage(fast)
            if i < len(self.laterals):
                # (B, C_slow + C_lateral, T / alpha, H, W)
                slow = torch.cat([slow, self.laterals[i](fast)], dim=1)
        pooled = torch.cat([slow.mean(dim=(2, 3, 4)), fast.mean(dim=(2, 3, 4))], dim=1)
        return self.head(pooled)


def slowfast_tiny(
    *, num_classes: int, in_channels: int = 3, width: int = 32, alpha: int = 4, beta: float = 0.25,
    motion: bool = False, slow_motion: bool = False,
) -> SlowFast:
    """Both pathways are small 3D ResNets, as SlowFast's: a 5 x 5 stem (time kernel 1 on the slow
    pathway, 3 on the fast one), then two residual stages, the slow one's time kernel 1 in the
    first and 3 in the last (SlowFast's res2-3 vs res4-5), the fast one's 3 in both; every stage
    halves space. ``motion=True`` makes the fast stem a temporal-difference conv (time kernel 3),
    ``slow_motion=True`` the slow one too (time kernel 3 over its alpha-strided frames)."""
    ws = [width, 2 * width, 4 * width]
    wf = [max(1, int(round(w * beta))) for w in ws]
    slow_stem = (motion_stem(in_channels, ws[0], kernel_size=(3, 5, 5)) if slow_motion else
                 Conv3dBNAct(in_channels, ws[0], kernel_size=(1, 5, 5), stride=(1, 2, 2)))
    fast_stem = (motion_stem(in_channels, wf[0], kernel_size=(3, 5, 5)) if motion else
                 Conv3dBNAct(in_channels, wf[0], kernel_size=(3, 5, 5), stride=(1, 2, 2)))
    slow, fast, lat = [slow_stem], [fast_stem], []
    c_slow, c_fast = ws[0], wf[0]
    for i in (1, 2):
        lat.append(nn.Conv3d(c_fast, 2 * c_fast, (5, 1, 1), stride=(alpha, 1, 1), padding=(2, 0, 0)))
        slow.append(ResBlock3d(c_slow + 2 * c_fast, ws[i], stride=(1, 2, 2), kernel_t=1 if i == 1 else 3))
        fast.append(ResBlock3d(c_fast, wf[i], stride=(1, 2, 2)))
        c_slow, c_fast = ws[i], wf[i]
    head = nn.Linear(ws[-1] + wf[-1], num_classes)
    return SlowFast(slow_stages=slow, fast_stages=fast, laterals=lat, alpha=alpha, head=head,
                    in_channels=in_channels)


# --------------------------------------------------------------------------- I3D inflation


