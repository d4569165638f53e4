"""SlowFast: a slow, wide pathway and a fast, thin one joined by time-strided laterals."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seesall.nn.video.blocks import Conv3dBNAct, check_video, motion_stem


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
    """Three stages; slow convs are 1 x 3 x 3 early (as SlowFast's res2-3), 3 x 3 x 3 late;
    ``motion=True`` makes the fast pathway's first conv a temporal-difference conv,
    ``slow_motion=True`` the slow pathway's too (over its alpha-strided frames)."""
    ws = [width, 2 * width, 4 * width]
    wf = [max(1, int(round(w * beta))) for w in ws]
    slow, fast, lat = [], [], []
    c_slow, c_fast = in_channels, in_channels
    for i, (cs, cf) in enumerate(zip(ws, wf, strict=True)):
        stride = (1, 2, 2)
        if slow_motion and i == 0:
            slow.append(motion_stem(c_slow, cs, kernel_size=(3, 3, 3), stride=stride))
        else:
            slow.append(Conv3dBNAct(c_slow, cs, kernel_size=(1 if i < 2 else 3, 3, 3),
                                    stride=stride))
        if motion and i == 0:
            fast.append(motion_stem(c_fast, cf, kernel_size=(3, 3, 3), stride=stride))
        else:
            fast.append(Conv3dBNAct(c_fast, cf, kernel_size=(3, 3, 3), stride=stride))
        c_slow, c_fast = cs, cf
        if i < len(ws) - 1:
            lat.append(nn.Conv3d(cf, 2 * cf, (5, 1, 1), stride=(alpha, 1, 1), padding=(2, 0, 0)))
            c_slow += 2 * cf
    head = nn.Linear(ws[-1] + wf[-1], num_classes)
    return SlowFast(slow_stages=slow, fast_stages=fast, laterals=lat, alpha=alpha, head=head,
                    in_channels=in_channels)


# --------------------------------------------------------------------------- I3D inflation


