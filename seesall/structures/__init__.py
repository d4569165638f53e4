"""The one data model: Scene, Objects, Flow and batching."""

from seesall.structures.batch import SceneBatch, collate, pad_images
from seesall.structures.flow import Flow
from seesall.structures.objects import KP_OCCLUDED, KP_UNLABELLED, KP_VISIBLE, Objects
from seesall.structures.scene import IGNORE_INDEX, Scene

__all__ = [
    "IGNORE_INDEX",
    "KP_OCCLUDED",
    "KP_UNLABELLED",
    "KP_VISIBLE",
    "Flow",
    "Objects",
    "Scene",
    "SceneBatch",
    "collate",
    "pad_images",
]
