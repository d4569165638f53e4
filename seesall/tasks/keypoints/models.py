"""Keypoint R-CNN models (Faster R-CNN + keypoint head), in one plain table."""

from __future__ import annotations

from collections.abc import Callable

from seesall.tasks.detection.models import faster_rcnn_small
from seesall.tasks.instance.models import Segmenter, build_mask_rcnn
from seesall.tasks.keypoints.head import KeypointHead


def keypoint_rcnn_small(*, num_classes: int, num_keypoints: int,
                        keypoint_classes: tuple[int, ...], with_masks: bool = False) -> Segmenter:
    """FastNet Faster R-CNN + a 4-conv 64-wide keypoint head (56×56 heatmaps) for the
    ``keypoint_classes``; ``with_masks`` also adds the Mask R-CNN mask head."""
    det = faster_rcnn_small(num_classes=num_classes)
    frcnn = det.model
    head = KeypointHead(featmap_names=list(frcnn.roi_levels),
                        in_channels=frcnn.neck.feature_specs[0].channels,
                        num_keypoints=num_keypoints, channels=64, num_convs=4)
    return build_mask_rcnn(det, num_classes=num_classes, channels=64, keypoint_head=head,
                           keypoint_classes=keypoint_classes, num_keypoints=num_keypoints,
                           with_masks=with_masks)


def keypoint_mask_rcnn_small(*, num_classes: int, num_keypoints: int,
                             keypoint_classes: tuple[int, ...]) -> Segmenter:
    """Boxes, masks and keypoints in one model."""
    return keypoint_rcnn_small(num_classes=num_classes, num_keypoints=num_keypoints,
                               keypoint_classes=keypoint_classes, with_masks=True)


KEYPOINT_MODELS: dict[str, Callable[..., Segmenter]] = {
    "keypoint_rcnn_small": keypoint_rcnn_small,
    "keypoint_mask_rcnn_small": keypoint_mask_rcnn_small,
}
