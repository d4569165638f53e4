"""Panoptic segmentation: merging things and stuff, and panoptic quality.

The trainable model, Panoptic FPN, lives in ``model`` (with its semantic branch in
``semantic_head``) and its engine recipe in ``recipe``; they are not imported here, so
that ``seesall eval panoptic`` does not load the detection and instance tasks.
"""

from seesall.tasks.panoptic.merge import MergeConfig, Segment, merge_panoptic, scene_to_panoptic
from seesall.tasks.panoptic.metrics import PanopticQuality, categories_from_world

__all__ = ["MergeConfig", "PanopticQuality", "Segment", "categories_from_world",
           "merge_panoptic", "scene_to_panoptic"]
