"""Image classification on crops of world objects (or an image-folder dataset).

The recap the seeds start from and the source model for transfer learning: a
backbone + global average pool + linear head, trained through the engine,
evaluated by top-1 / top-5 accuracy.
"""

from seesall.tasks.classification.data import ImageFolderDataset, WorldCrops, collate_crops
from seesall.tasks.classification.metrics import TopKAccuracy
from seesall.tasks.classification.model import (
    MODELS,
    Classifier,
    classification_loss,
    postprocess,
)

__all__ = [
    "MODELS",
    "Classifier",
    "ImageFolderDataset",
    "TopKAccuracy",
    "WorldCrops",
    "classification_loss",
    "collate_crops",
    "postprocess",
]
