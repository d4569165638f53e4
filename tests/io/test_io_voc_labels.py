"""Pascal VOC XML and Cityscapes-style label PNGs: round trips and hand-written files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from seesall.io.labels import (
    decode_instance_ids,
    encode_instance_ids,
    read_instance_png,
    read_label_png,
    write_instance_png,
    write_label_png,
)
from seesall.io.voc import VOC_CLASSES, read_voc, write_voc
from seesall.structures import Objects, Scene

VOC_XML = """<annotation>
  <folder>VOC2007</folder><filename>000005.jpg</filename>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <object><name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
    <bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
  <object><name>chair</name><pose>Unspecified</pose><truncated>1</truncated>
    <difficult>1</difficult>
    <bndbox><xmin>5</xmin><ymin>244</ymin><xmax>67</xmax><ymax>374</ymax></bndbox></object>
</annotation>"""


def test_voc_reads_a_hand_written_file(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text(VOC_XML)
    ann = read_voc(tmp_path / "a.xml")
    assert ann.file_name == "000005.jpg" and ann.size == (375, 500, 3)
    assert ann.objects.labels.tolist() == [VOC_CLASSES.index("chair")] * 2
    # 1-based inclusive pixels -> continuous XYXY: (xmin - 1, ymin - 1, xmax, ymax).
    assert ann.objects.boxes.tolist() == [[262, 210, 324, 339], [4, 243, 67, 374]]
    assert ann.difficult.tolist() == [False, True] and ann.truncated.tolist() == [False, True]
    # 0-based files (one pixel off) are clipped into the image, not refused.
    (tmp_path / "b.xml").write_text(VOC_XML.replace("<xmin>5</xmin>", "<xmin>0</xmin>")
                                    .replace("<ymax>374</ymax>", "<ymax>376</ymax>"))
    assert read_voc(tmp_path / "b.xml").objects.boxes[1].tolist() == [0, 243, 67, 375]


def test_voc_round_trip_within_its_integer_convention(tmp_path: Path, scene: Scene) -> None:
    names = ["disc", "box", "person"]
    objs = scene.objects
    shifted = objs.boxes.as_subclass(torch.Tensor) + torch.tensor([0.3, -0.2, -0.4, 0.1])
    objs = objs.replace(boxes=tv_tensors.wrap(shifted.clamp(0, 40), like=objs.boxes))
    write_voc(tmp_path / "s.xml", objs, file_name="s.png", class_names=names,
              difficult=torch.tensor([True, False, False]))
    ann = read_voc(tmp_path / "s.xml", class_names=names)
    assert torch.equal(ann.objects.labels, objs.labels)
    assert (ann.objects.boxes - objs.boxes).abs().max() <= 0.5
    assert ann.difficult.tolist() == [True, False, False] and not ann.truncated.any()
    write_voc(tmp_path / "p.xml", scene.objects, file_name="p.png", class_names=names)
    exact = read_voc(tmp_path / "p.xml", class_names=names).objects.boxes  # pixel-aligned
    assert torch.equal(exact, scene.objects.boxes)
    empty = Objects.empty((7, 9))
    write_voc(tmp_path / "e.xml", empty, file_name="e.png")
    assert len(read_voc(tmp_path / "e.xml").objects) == 0


@pytest.mark.parametrize(("old", "new", "message"), [
    ("<name>chair</name><pose>Rear", "<name>robot</name><pose>Rear",
     r"a.xml: object\[0\]/name 'robot' is not one of the class names"),
    ("<xmin>263</xmin>", "<xmin>abc</xmin>", r"object\[0\]/bndbox/xmin must be a number"),
    ("<ymax>374</ymax>", "", r"object\[1\]/bndbox/ymax is missing"),
    ("<xmax>324</xmax>", "<xmax>900</xmax>", r"object\[0\]/bndbox .* is not a box inside"),
    ("<difficult>1</difficult>", "<difficult>yes</difficult>",
     r"object\[1\]/difficult must be 0 or 1"),
    ("<width>500</width>", "", r"size/width is missing"),
    ("</annotation>", "", r"a.xml: not well-formed XML"),
])
def test_voc_bad_files(tmp_path: Path, old: str, new: str, message: str) -> None:
    (tmp_path / "a.xml").write_text(VOC_XML.replace(old, new, 1))
    with pytest.raises(ValueError, match=message):
        read_voc(tmp_path / "a.xml")


def test_label_png_round_trip_and_palette(tmp_path: Path) -> None:
    sem = np.random.default_rng(0).integers(0, 12, (9, 13))
    sem[0, :4] = 255  # ignore
    write_label_png(tmp_path / "l.png", torch.from_numpy(sem))
    out = read_label_png(tmp_path / "l.png")
    np.testing.assert_array_equal(out, sem)
    assert out.dtype == np.int64
    assert Image.open(tmp_path / "l.png").mode == "L"  # 8-bit single channel on disk
    pal = Image.fromarray(sem.astype(np.uint8), mode="P")
    pal.putpalette(list(np.random.default_rng(1).integers(0, 256, 768)))
    pal.save(tmp_path / "voc.png")  # VOC SegmentationClass style: ids are palette indices
    np.testing.assert_array_equal(read_label_png(tmp_path / "voc.png"), sem)


def test_label_png_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="l.png: label ids must lie in 0..255"):
        write_label_png(tmp_path / "l.png", np.full((2, 2), 300))
    with pytest.raises(ValueError, match=r"l.png: a label map must have shape \[H, W\]"):
        write_label_png(tmp_path / "l.png", np.zeros((2, 2, 3), np.uint8))
    Image.new("RGB", (4, 4)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="rgb.png: a label PNG must be 8-bit single-channel"):
        read_label_png(tmp_path / "rgb.png")
    (tmp_path / "junk.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="junk.png: not a PNG"):
        read_label_png(tmp_path / "junk.png")


def test_instance_ids_cityscapes_encoding(tmp_path: Path) -> None:
    semantic = np.array([[0, 0, 26, 26], [7, 7, 26, 26], [7, 24, 24, 255]])
    masks = np.zeros((3, 3, 4), bool)
    masks[0, 0:2, 2:4] = True  # a car (26)
    masks[1, 2, 1:3] = True  # a person (24)
    masks[2, 1, 3] = True  # a second car, over the first
    ids = encode_instance_ids(semantic, masks, np.array([26, 24, 26]))
    expected = np.array([[0, 0, 26000, 26000], [7, 7, 26000, 26001], [7, 24000, 24000, 255]])
    np.testing.assert_array_equal(ids, expected)  # hand-computed
    write_instance_png(tmp_path / "i.png", ids)
    assert Image.open(tmp_path / "i.png").mode.startswith("I")  # 16-bit on disk
    back = read_instance_png(tmp_path / "i.png")
    np.testing.assert_array_equal(back, ids)
    classes, inst = decode_instance_ids(back)
    np.testing.assert_array_equal(classes, semantic)
    np.testing.assert_array_equal(inst, [[0, 0, 1, 1], [0, 0, 1, 2], [0, 1, 1, 0]])
    with pytest.raises(ValueError, match="i.png: instance ids must lie in 0..65535"):
        write_instance_png(tmp_path / "i.png", ids * 10)
