"""WorldConfig: every knob of the synthetic world in one frozen dataclass."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from seesall.world.classes import ACTIONS, THING_CLASSES

TEXTURES: tuple[str, ...] = ("stripes", "checker", "noise", "gradient")
"""Procedural textures of objects and stuff regions."""


@dataclass(frozen=True)
class WorldConfig:
    """How scenes, pairs and clips are drawn.

    Attributes:
        size: (H, W) of every image in pixels.
        num_objects: (min, max) number of objects drawn per scene, inclusive.
        classes: thing classes that may appear (names from ``THING_CLASSES``).
            Labels always index the full ``THING_CLASSES`` tuple.
        min_size: smallest object size in pixels (diameter of the shape, height of a person).
        max_size: largest object size in pixels; None means half of min(H, W).
        min_visible_area: objects whose visible (modal) mask has fewer pixels are
            dropped from the labels; their pixels get ``IGNORE_INDEX`` in the semantic map.
        photo_backgrounds: probability that the background is a real photo (the
            sample images bundled with scikit-image) instead of procedural stuff.
        textures: procedural textures that objects and stuff may use.
        kinematogram: every object wears the random-dot texture of the background
            (random-dot kinematogram): invisible in a single frame, visible by its motion.
        integer_motion: pair motions are integer translations only (no rotation, scale
            or sub-pixel shift), so frame 2 is an exact re-sampling of frame 1.
        max_rotation: largest per-object rotation between the frames of a pair, degrees.
        max_scale_change: largest relative scale change between the frames of a pair.
        max_shift: largest per-object translation between the frames of a pair, as a
            fraction of min(H, W).
        background_motion: whether the background also moves (its own, smaller affine
            motion) between the frames of a pair.
        clip_length: number of frames T of a clip.
        actions: action classes a clip may show (names from ``ACTIONS``).
        actor_classes: classes the actor of a clip is drawn from; "wave" needs a person,
            so it is allowed only when this is exactly ("person",).
        distractor_speed: largest distractor speed in a clip, fraction of min(H, W) per frame.
        distractor_turn: largest distractor rotation in a clip, degrees per frame.
    """

    size: tuple[int, int] = (128, 128)
    num_objects: tuple[int, int] = (2, 6)
    classes: tuple[str, ...] = THING_CLASSES
    min_size: float = 8.0
    max_size: float | None = None
    min_visible_area: int = 16
    photo_backgrounds: float = 0.0
    textures: tuple[str, ...] = TEXTURES
    kinematogram: bool = False
    integer_motion: bool = False
    max_rotation: float = 8.0
    max_scale_change: float = 0.08
    max_shift: float = 0.04
    background_motion: bool = True
    clip_length: int = 12
    actions: tuple[str, ...] = ACTIONS
    actor_classes: tuple[str, ...] = ("person",)
    distractor_speed: float = 0.01
    distractor_turn: float = 5.0

    def __post_init__(self) -> None:
        h, w = self.size
        if not (isinstance(h, int) and isinstance(w, int)) or h < 16 or w < 16:
            raise ValueError(f"WorldConfig.size must be two ints >= 16, got {self.size}")
        lo, hi = self.num_objects
        if not 0 <= lo <= hi <= 250:
            raise ValueError(f"WorldConfig.num_objects must be (min, max) with "
                             f"0 <= min <= max <= 250, got {self.num_objects}")
        _check_names(self.classes, THING_CLASSES, "classes")
        _check_names(self.actor_classes, THING_CLASSES, "actor_classes")
        _check_names(self.actions, ACTIONS, "actions")
        _check_names(self.textures, TEXTURES, "textures")
        if "wave" in self.actions and tuple(self.actor_classes) != ("person",):
            raise ValueError("WorldConfig.actions contains 'wave', which needs "
                             "actor_classes == ('person',)")
        if not 1.0 <= self.min_size <= self.max_object_size:
            raise ValueError(f"WorldConfig.min_size must lie in [1, max_size], got {self.min_size} "
                             f"(max_size {self.max_object_size})")
        if not 0.0 <= self.photo_backgrounds <= 1.0:
            raise ValueError(f"WorldConfig.photo_backgrounds is a probability, got "
                             f"{self.photo_backgrounds}")
        if self.clip_length < 2:
            raise ValueError(f"WorldConfig.clip_length must be >= 2, got {self.clip_length}")
        for name in ("max_rotation", "max_scale_change", "max_shift", "distractor_speed",
                     "distractor_turn"):
            if not 0.0 <= getattr(self, name) < (1.0 if name == "max_scale_change" else 1e9):
                raise ValueError(f"WorldConfig.{name} must be >= 0 (max_scale_change < 1), "
                                 f"got {getattr(self, name)}")
        if self.min_visible_area < 1:
            raise ValueError(f"WorldConfig.min_visible_area must be >= 1, got "
                             f"{self.min_visible_area}")

    @property
    def max_object_size(self) -> float:
        """Largest object size in pixels (``max_size`` or half the shorter image side)."""
        return float(self.max_size) if self.max_size is not None else min(self.size) / 2

    @functools.cached_property
    def class_labels(self) -> tuple[int, ...]:
        """Indices into ``THING_CLASSES`` of the allowed ``classes``."""
        return tuple(THING_CLASSES.index(c) for c in self.classes)


def _check_names(names: tuple[str, ...], table: tuple[str, ...], field: str) -> None:
    if isinstance(names, str) or not names:
        raise ValueError(f"WorldConfig.{field} must be a non-empty tuple of names, got {names!r}")
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"WorldConfig.{field} has unknown names {unknown}; known: {list(table)}")
