"""Reading and writing the standard formats on the Scene / Objects data model.

- ``image``: safe image decoding (:func:`read_image`) and atomic image writing.
- ``coco``: COCO JSON datasets (RLE / polygon masks, keypoints) and COCO results files;
  ``CocoDataset`` reads a COCO dataset as Scenes.
- ``voc``: Pascal VOC XML.
- ``labels``: Cityscapes-style 8-bit label PNGs and 16-bit instance-id PNGs.
- ``flow``: Middlebury ``.flo`` and KITTI 16-bit flow PNGs.
- ``video``: video files (OpenCV) and frame folders.
- ``atomic``: temp-file + fsync + rename writes, used by every writer here.
"""

from seesall.io.atomic import atomic_open, write_bytes, write_json, write_text
from seesall.io.coco import (
    CocoDataset,
    predictions_to_coco_results,
    read_coco_results,
    scenes_to_coco,
    write_coco,
    write_coco_results,
)
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
from seesall.io.labels import (
    decode_instance_ids,
    encode_instance_ids,
    read_instance_png,
    read_label_png,
    write_instance_png,
    write_label_png,
)
from seesall.io.video import read_video, read_video_tensor, write_video
from seesall.io.voc import VOC_CLASSES, VocAnnotation, read_voc, write_voc

__all__ = [
    "VOC_CLASSES",
    "CocoDataset",
    "VocAnnotation",
    "atomic_open",
    "decode_instance_ids",
    "encode_image",
    "encode_instance_ids",
    "flow_to_numpy",
    "flow_to_tensor",
    "predictions_to_coco_results",
    "read_coco_results",
    "read_flo",
    "read_flow",
    "read_image",
    "read_image_tensor",
    "read_instance_png",
    "read_kitti_flow",
    "read_label_png",
    "read_video",
    "read_video_tensor",
    "read_voc",
    "scenes_to_coco",
    "write_bytes",
    "write_coco",
    "write_coco_results",
    "write_flo",
    "write_flow",
    "write_image",
    "write_instance_png",
    "write_json",
    "write_kitti_flow",
    "write_label_png",
    "write_text",
    "write_video",
    "write_voc",
]
