"""Flow: a dense displacement field as a torchvision ``TVTensor``.

Being its own tv_tensor type lets ``transforms.v2`` dispatch geometric
transforms to kernels that also change the vectors (a horizontal flip negates
u, a resize scales u and v); see ``seesall.data.transforms``.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.tv_tensors import TVTensor


class Flow(TVTensor):
    """Tensor[2, H, W] (or [..., 2, H, W]) float32: (u, v) in pixels, frame 1 -> frame 2."""

    def __new__(
        cls,
        data: Any,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | int | None = None,
        requires_grad: bool | None = None,
    ) -> Flow:
        tensor = cls._to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if tensor.ndim < 3 or tensor.shape[-3] != 2:
            raise ValueError(f"Flow must have shape [..., 2, H, W], got {list(tensor.shape)}")
        return tensor.as_subclass(cls)

    def __repr__(self, *, tensor_contents: Any = None) -> str:  # type: ignore[override]
        return self._make_repr()
