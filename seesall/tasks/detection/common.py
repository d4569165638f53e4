"""Post-processing pieces shared by the detectors."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision import tv_tensors

from seesall.ops.boxes import batched_nms, clip_boxes_to_image, remove_small_boxes
from seesall.structures import Objects


def select_top_per_level(scores: Tensor, counts: Sequence[int], k: int,
                         thresh: float) -> Tensor:
    """Indices into ``scores`` of the best ``k`` above ``thresh`` within each level.

    Args:
        scores: Tensor[N] scores of all levels, concatenated.
        counts: entries of each level (sum N).
    """
    keep = []
    start = 0
    for n in counts:
        s = scores[start:start + n]
        idx = torch.nonzero(s > thresh).flatten()
        if idx.numel() > k:
            idx = idx[s[idx].topk(k).indices]
        keep.append(idx + start)
        start += n
    return torch.cat(keep) if keep else scores.new_zeros(0, dtype=torch.int64)


def detections_to_objects(boxes: Tensor, scores: Tensor, labels: Tensor,
                          image_size: tuple[int, int], nms_thresh: float,
                          max_detections: int, min_size: float = 1e-2) -> Objects:
    """Clip, drop degenerate boxes, class-wise NMS, keep the best ``max_detections``.

    Args:
        boxes: Tensor[D, 4] xyxy; scores: Tensor[D]; labels: Tensor[D] int64 (0-based classes).
        image_size: (H, W) of the unpadded image.
    """
    boxes = clip_boxes_to_image(boxes, image_size)
    keep = remove_small_boxes(boxes, min_size)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = batched_nms(boxes, scores, labels, nms_thresh)[:max_detections]
    return Objects(
        labels=labels[keep].long().cpu(),
        boxes=tv_tensors.BoundingBoxes(boxes[keep].float().cpu(), format="XYXY",
                                       canvas_size=image_size),
        scores=scores[keep].float().cpu(),
    )


def empty_like_scores(image_size: tuple[int, int]) -> Objects:
    """No detections on an image of ``image_size``."""
    return Objects.empty(image_size).replace(scores=torch.zeros(0), ids=None)
