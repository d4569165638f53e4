"""The world's class tables: things, stuff, person keypoints and actions.

Semantic maps use ``SEMANTIC_CLASSES``: the stuff classes first, then the
things, so that ``semantic id = len(STUFF_CLASSES) + thing label``.
"""

from __future__ import annotations

THING_CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "ring",
    "cross",
    "hexagon",
    "person",
)
"""Object classes; ``Objects.labels`` index this tuple."""

STUFF_CLASSES: tuple[str, ...] = ("sky", "wall", "ground")
"""Amorphous background regions, labelled in the semantic map only."""

SEMANTIC_CLASSES: tuple[str, ...] = STUFF_CLASSES + THING_CLASSES
"""Semantic-map classes: stuff first, then things."""

PERSON = THING_CLASSES.index("person")

PERSON_KEYPOINTS: tuple[str, ...] = (
    "head",
    "neck",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_hand",
    "right_hand",
    "pelvis",
    "left_knee",
    "right_knee",
    "left_foot",
    "right_foot",
)
"""Keypoints of the stick-figure person; left/right are the person's own sides."""

PERSON_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1),  # head - neck
    (1, 2),  # neck - left shoulder
    (1, 3),  # neck - right shoulder
    (2, 4),  # left upper arm
    (3, 5),  # right upper arm
    (4, 6),  # left forearm
    (5, 7),  # right forearm
    (1, 8),  # spine
    (8, 9),  # left thigh
    (8, 10),  # right thigh
    (9, 11),  # left shin
    (10, 12),  # right shin
)
"""Limbs as pairs of 0-based indices into ``PERSON_KEYPOINTS``."""

PERSON_FLIP_INDEX: tuple[int, ...] = (0, 1, 3, 2, 5, 4, 7, 6, 8, 10, 9, 12, 11)
"""Keypoint permutation for a horizontal flip (left and right swap)."""

ACTIONS: tuple[str, ...] = (
    "left",
    "right",
    "up",
    "down",
    "spin",
    "grow",
    "shrink",
    "bounce",
    "wave",
)
"""Clip action classes, defined by the actor's motion only (image axes: up = -y)."""


def semantic_id_of_thing(label: int) -> int:
    """Semantic-map id of thing class ``label`` (an index into ``THING_CLASSES``)."""
    return len(STUFF_CLASSES) + int(label)
