import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from seesall.structures import IGNORE_INDEX, Objects
from seesall.viz import clip_strip, colorize_semantic, draw_objects, flow_to_color, grid, palette, save_png
from seesall.viz.draw import caption_font


def test_palette_is_the_voc_palette():
    assert palette(4) == [(128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)]
    assert len(set(palette(40))) == 40


def test_colorize_semantic_and_ignore():
    sem = torch.tensor([[0, 1], [2, IGNORE_INDEX]])
    rgb = colorize_semantic(sem, num_classes=3)
    assert rgb[:, 0, 0].tolist() == [128, 0, 0] and rgb[:, 1, 1].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="outside"):
        colorize_semantic(torch.tensor([[5]]), num_classes=3)


def test_flow_colour_wheel_directions():
    # Middlebury wheel: rightward motion is red, fully saturated at the largest magnitude.
    flow = torch.zeros(2, 4, 4)
    flow[0, 0, 0] = 4.0
    img = flow_to_color(flow)
    assert img[:, 0, 0].tolist() == [255, 0, 0]
    assert img[:, 1, 1].tolist() == [255, 255, 255]  # zero motion is white
    # with a fixed max_flow, a vector of half that magnitude is half saturated
    half = flow_to_color(flow, max_flow=8.0)[:, 0, 0]
    assert half[0] == 255 and 120 <= half[1] <= 135
    valid = torch.ones(4, 4, dtype=torch.bool)
    valid[0, 0] = False
    assert flow_to_color(flow, valid=valid)[:, 0, 0].tolist() == [0, 0, 0]


def test_draw_objects_colours_masks_only_inside(scene):
    out = draw_objects(scene.image, scene.objects, ["a", "b", "c", "d", "e"], skeleton=[(0, 1)])
    inside = scene.objects.masks[0].clone()
    inside[:, :] = False
    inside[8:17, 13:27] = True  # well inside object 0, away from box edges and key points
    changed = (out != scene.image).any(0)
    assert changed[inside].float().mean() > 0.9
    assert not changed[44:, :8].any()  # far from every object


def test_grid_strip_and_png(tmp_path):
    ims = [torch.full((3, 10, 12), i * 40, dtype=torch.uint8) for i in range(5)]
    g = grid(ims, ncols=2, pad=2)
    assert g.shape == (3, 3 * 12 + 2, 2 * 14 + 2)
    strip = clip_strip(torch.stack(ims), titles=[str(i) for i in range(5)])
    path = save_png(strip, tmp_path / "strip.png")
    back = np.asarray(Image.open(path))
    assert back.shape == (strip.shape[1], strip.shape[2], 3)
    assert np.array_equal(back, strip.permute(1, 2, 0).numpy())
    with pytest.raises(ValueError, match="uint8"):
        save_png(torch.zeros(3, 2, 2), tmp_path / "x.png")


def test_draw_objects_scale_enlarges_image_and_geometry() -> None:
    """Drawing at scale 3 == torchvision drawing on the nearest-enlarged image, boxes x 3."""
    from torchvision.utils import draw_bounding_boxes

    image = torch.randint(0, 256, (3, 20, 30), dtype=torch.uint8)
    boxes = tv_tensors.BoundingBoxes(torch.tensor([[2.0, 3.0, 12.0, 15.0]]), format="XYXY",
                                     canvas_size=(20, 30))
    objects = Objects(labels=torch.tensor([1]), boxes=boxes)
    out = draw_objects(image, objects, ["a", "b"], scale=3)
    big = image.repeat_interleave(3, 1).repeat_interleave(3, 2)
    expected = draw_bounding_boxes(big, boxes.as_subclass(torch.Tensor) * 3, labels=["b"],
                                   colors=[palette(2)[1]], width=2, font=caption_font(), font_size=15)
    assert out.shape == (3, 60, 90)
    assert torch.equal(out, expected)
    small = draw_bounding_boxes(big, boxes.as_subclass(torch.Tensor) * 3, labels=["b"],
                                colors=[palette(2)[1]], width=2)
    rows = (out != small).any(0).any(1).nonzero()
    assert rows.numel() > 0 and rows.max() - rows.min() >= 9  # the 15-point caption is taller
