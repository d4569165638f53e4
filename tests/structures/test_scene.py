import pytest
import torch
from torchvision import tv_tensors

from seesall.structures import Flow, Objects, Scene, collate, pad_images


def test_boolean_indexing_selects_every_field(scene):
    objs = scene.objects
    sub = objs[objs.labels == 4]
    assert len(sub) == 1
    assert sub.ids.tolist() == [9]
    assert sub.masks.shape == (1, 48, 64)
    assert sub.keypoints.shape == (1, 3, 2)
    assert isinstance(sub.boxes, tv_tensors.BoundingBoxes) and sub.boxes.canvas_size == (48, 64)
    assert len(objs[torch.tensor([False, False])]) == 0
    assert objs[-1].ids.tolist() == [9]


def test_cat_and_empty(scene):
    objs = scene.objects
    both = Objects.cat([objs[0], objs[1]])
    assert torch.equal(both.boxes, objs.boxes) and torch.equal(both.masks, objs.masks)
    empty = Objects.empty((48, 64), num_keypoints=3)
    assert len(empty) == 0 and empty.keypoints.shape == (0, 3, 2)


def _boxes(data, canvas=(48, 64)):
    return tv_tensors.BoundingBoxes(torch.tensor(data, dtype=torch.float32), format="XYXY", canvas_size=canvas)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(labels=torch.tensor([1, 2]), boxes=_boxes([[0, 0, 5, 5]])), "boxes must have shape"),
        (dict(labels=torch.tensor([1.0]), boxes=_boxes([[0, 0, 5, 5]])), "labels must be torch.int64"),
        (dict(labels=torch.tensor([1]), boxes=_boxes([[5, 0, 1, 5]])), "x1 <= x2"),
        (dict(labels=torch.tensor([1]), boxes=_boxes([[0, 0, 70, 5]])), "inside the image"),
        (dict(labels=torch.tensor([1]), boxes=_boxes([[0, 0, float("nan"), 5]])), "NaN"),
        (dict(labels=torch.tensor([1, 2]), boxes=_boxes([[0, 0, 5, 5]] * 2), ids=torch.tensor([3, 3])), "unique"),
        (
            dict(labels=torch.tensor([1]), boxes=_boxes([[0, 0, 5, 5]]),
                 masks=tv_tensors.Mask(torch.zeros(1, 40, 64, dtype=torch.bool))),
            "masks must have shape",
        ),
        (
            dict(labels=torch.tensor([1]), boxes=_boxes([[0, 0, 5, 5]]),
                 keypoints=tv_tensors.KeyPoints(torch.zeros(1, 2, 2), canvas_size=(48, 64))),
            "keypoints and visibility",
        ),
    ],
)
def test_objects_validation_names_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Objects(**kwargs)


def test_scene_validation_names_field_and_file(scene):
    with pytest.raises(ValueError, match=r"hand-made.*semantic must have shape"):
        scene.replace(semantic=tv_tensors.Mask(torch.zeros(3, 3, dtype=torch.int64)))
    with pytest.raises(ValueError, match="image must be uint8"):
        scene.replace(image=tv_tensors.Image(torch.zeros(3, 48, 64)))
    with pytest.raises(ValueError, match="flow needs flow_valid"):
        scene.replace(flow_valid=None)
    bad = scene.flow.as_subclass(torch.Tensor).clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        scene.replace(flow=Flow(bad))
    with pytest.raises(TypeError, match="flow must be a seesall Flow"):
        scene.replace(flow=bad)
    with pytest.raises(ValueError, match="Flow must have shape"):
        Flow(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match="video must be uint8"):
        scene.replace(video=tv_tensors.Video(torch.zeros(4, 3, 10, 10, dtype=torch.uint8)))


def test_select_keeps_scene_fields(scene):
    sub = scene.select(scene.objects.labels == 1)
    assert len(sub.objects) == 1 and sub.flow is scene.flow


def test_collate_pads_different_sizes(scene):
    small = Scene(image=tv_tensors.Image(torch.full((3, 20, 30), 7, dtype=torch.uint8)),
                  objects=Objects.empty((20, 30)))
    batch = collate([scene, small], size_divisible=32)
    assert batch.images.shape == (2, 3, 64, 64)
    assert batch.image_sizes == [(48, 64), (20, 30)]
    assert (batch.images[1, :, :20, :30] == 7).all() and (batch.images[1, :, 20:] == 0).all()
    assert torch.equal(batch.images[0, :, :48, :64], scene.image)
    with pytest.raises(ValueError, match="channels"):
        pad_images([torch.zeros(3, 2, 2), torch.zeros(1, 2, 2)])
