"""The synthetic world: perfectly labelled scenes, pairs and clips from a seed.

``render_scene(cfg, seed)`` draws a background (sky / wall / ground stuff, a
photo, or random dots) and textured things (shapes and stick-figure persons)
painted far to near, and labels everything: classes, tight boxes, visible
masks, keypoints with COCO visibility, instance ids, layer depths, a semantic
map and a depth map. ``render_pair`` adds a second frame, exact flow and its
valid mask; ``render_clip`` a clip whose action class is defined by motion.
The same config and seed always give the same bytes (numpy PCG64 generators
seeded from (seed, stream); no global random state).

Conventions (details in the module named):

* boxes: XYXY, pixel j covers [j, j + 1), tight box x2 = max col + 1, as
  pycocotools' ``toBbox`` (``labels``);
* masks: visible (modal); objects with < ``min_visible_area`` visible pixels are
  dropped and their pixels are ``IGNORE_INDEX`` in the semantic map (``labels``);
* keypoints: COCO visibility 2 visible / 1 inside the image but covered / 0 outside
  the image or not a person (``labels``);
* semantic ids: ``SEMANTIC_CLASSES`` = stuff then things; photos and random dots
  are ``IGNORE_INDEX`` (``background``);
* depth: world units, larger is farther; things in [1, 8), stuff beyond
  (``background``);
* flow: frame 1 -> frame 2, ``image2`` sampled at (x + u, y + v) gives ``image``;
  ``flow_valid`` False where hidden, outside or at an occlusion edge (``pair``);
* clips: action by motion only, first frame independent of the action, the actor
  has track id 1 (``clip``).
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
