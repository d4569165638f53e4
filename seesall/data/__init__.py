"""Data pipelines on Scenes: transforms.v2 that move every label, dataset export and folders."""

from seesall.data.transforms import SceneTransform, masks_to_tight_boxes

__all__ = ["SceneTransform", "masks_to_tight_boxes"]
