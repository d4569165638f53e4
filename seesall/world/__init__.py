"""The synthetic world: perfectly labelled scenes, pairs and clips from a seed.

``render_scene(cfg, seed)`` draws a background (sky / wall / ground stuff, a
photo, or random dots) and textured things (shapes and stick-figure persons)
painted far to near, and labels everything: classes, tight boxes, visible
masks, keypoints with COCO visibility, instance ids, layer depths, a semantic
map and a depth map. ``render_pair`` adds a second frame, exact flow and its
valid mask; ``render_clip`` a clip whose action class is defined by motion.
The same config and seed always give the same bytes.
"""

from seesall.world.classes import (
    ACTIONS,
    PERSON_FLIP_INDEX,
    PERSON_KEYPOINTS,
    PERSON_SKELETON,
    SEMANTIC_CLASSES,
    STUFF_CLASSES,
    THING_CLASSES,
    semantic_id_of_thing,
)
from seesall.world.clip import render_clip
from seesall.world.config import TEXTURES, WorldConfig
from seesall.world.dataset import WorldDataset
from seesall.world.pair import render_pair
from seesall.world.scene import render_scene

__all__ = [
    "ACTIONS",
    "PERSON_FLIP_INDEX",
    "PERSON_KEYPOINTS",
    "PERSON_SKELETON",
    "SEMANTIC_CLASSES",
    "STUFF_CLASSES",
    "TEXTURES",
    "THING_CLASSES",
    "WorldConfig",
    "WorldDataset",
    "render_clip",
    "render_pair",
    "render_scene",
    "semantic_id_of_thing",
]
