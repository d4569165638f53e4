"""Reading and writing the standard formats on the Scene / Objects data model.

- ``image``: safe image decoding (:func:`read_image`) and atomic writing.
- ``flow``: Middlebury ``.flo`` and KITTI 16-bit flow PNGs.
- ``atomic``: temp-file + fsync + rename writes used by every writer here.
"""

from seesall.io.atomic import atomic_open, write_bytes, write_json, write_text
from seesall.io.flow import (
    flow_to_numpy,
    flow_to_tensor,
    read_flo,
    read_flow,
    read_kitti_flow,
    write_flo,
    write_flow,
    write_kitti_flow,
)
from seesall.io.image import encode_image, read_image, read_image_tensor, write_image

__all__ = [
    "atomic_open",
    "encode_image",
    "flow_to_numpy",
    "flow_to_tensor",
    "read_flo",
    "read_flow",
    "read_image",
    "read_image_tensor",
    "read_kitti_flow",
    "write_bytes",
    "write_flo",
    "write_flow",
    "write_image",
    "write_json",
    "write_kitti_flow",
    "write_text",
]
