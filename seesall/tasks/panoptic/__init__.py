"""Panoptic segmentation: merging things and stuff, and panoptic quality."""

from seesall.tasks.panoptic.merge import MergeConfig, Segment, merge_panoptic, scene_to_panoptic
from seesall.tasks.panoptic.metrics import PanopticQuality, categories_from_world

__all__ = ["MergeConfig", "PanopticQuality", "Segment", "categories_from_world",
           "merge_panoptic", "scene_to_panoptic"]
