import cv2
import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from seesall.data.transforms import SceneTransform, masks_to_tight_boxes
from seesall.structures import IGNORE_INDEX, Scene


def warp_error(scene: Scene) -> float:
    """Mean |frame1 - frame2 sampled at p + flow| over valid pixels (cv2.remap, bilinear)."""
    f1 = scene.image.permute(1, 2, 0).numpy().astype(np.float32)
    f2 = scene.image2.permute(1, 2, 0).numpy().astype(np.float32)
    h, w = scene.size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = scene.flow.numpy()
    back = cv2.remap(f2, xs + flow[0], ys + flow[1], cv2.INTER_LINEAR)
    valid = scene.flow_valid.numpy()
    assert valid.sum() > 0.3 * h * w
    return float(np.abs(back - f1)[valid].mean())


def test_hand_made_scene_warps_exactly(scene):
    assert warp_error(scene) < 1e-6


def test_horizontal_flip_moves_every_label(scene):
    out = SceneTransform(v2.RandomHorizontalFlip(p=1.0), keypoint_flip_pairs=[(0, 1)])(scene)
    w = scene.size[1]
    assert torch.equal(out.objects.boxes[0], torch.tensor([w - 30.0, 5, w - 10, 20]))
    assert torch.equal(out.objects.masks, scene.objects.masks.flip(-1))
    assert torch.equal(out.semantic, scene.semantic.flip(-1))
    assert torch.equal(out.flow[0], -scene.flow[0].flip(-1))
    # mirrored: left and right key points swap, and torchvision's x' = W - 1 - x holds
    assert torch.equal(out.objects.keypoints[0, 0], torch.tensor([w - 1 - 27.0, 7]))
    assert warp_error(out) < 1e-6


@pytest.mark.parametrize(
    "t, tol",
    [
        (v2.RandomVerticalFlip(p=1.0), 1e-6),
        (v2.RandomRotation((90, 90)), 1e-6),
        (v2.RandomCrop((32, 40)), 1e-6),
        (v2.Pad([5, 3, 2, 4]), 1e-6),
        (v2.Resize((96, 128)), 3.0),
        (v2.Resize((24, 32)), 3.0),
        (v2.RandomAffine(degrees=(20, 20), translate=(0.05, 0.05), scale=(0.9, 1.1)), 3.0),
        (v2.ColorJitter(0.4, 0.4, 0.4, 0.1), 0.5),  # same jitter on both frames; uint8 rounding only
    ],
)
def test_flow_still_warps_frame2_onto_frame1(scene, t, tol):
    torch.manual_seed(0)
    out = SceneTransform(t)(scene)
    assert out.flow.shape[-2:] == out.image.shape[-2:]
    assert warp_error(out) < tol


def test_resize_scales_vectors(scene):
    out = SceneTransform(v2.Resize((96, 128)))(scene)
    valid = out.flow_valid.as_subclass(torch.Tensor)
    assert torch.allclose(out.flow[:, valid], torch.tensor([[6.0], [4.0]]))


def test_labels_follow_pixels_after_affine(scene):
    torch.manual_seed(1)
    out = SceneTransform(v2.RandomAffine(degrees=30, scale=(0.8, 1.2)))(scene)
    objs = out.objects
    # boxes are the tight boxes of the masks (checked against OpenCV's boundingRect)
    for box, mask in zip(objs.boxes, objs.masks):
        x, y, bw, bh = cv2.boundingRect(mask.numpy().astype(np.uint8))
        assert box.tolist() == [x, y, x + bw, y + bh]
    # semantic map and masks still agree; padding corners are ignored
    for label, mask in zip(objs.labels, objs.masks):
        assert (out.semantic[mask] == 3 + label).float().mean() > 0.9
    assert (out.semantic == IGNORE_INDEX).any()
    assert not out.flow_valid[out.semantic == IGNORE_INDEX].any()


def test_visible_keypoints_stay_in_their_mask(scene):
    for t in [v2.RandomHorizontalFlip(p=1.0), v2.Resize((96, 128)), v2.RandomVerticalFlip(p=1.0)]:
        out = SceneTransform(t)(scene)
        kp, vis, masks = out.objects.keypoints, out.objects.visibility, out.objects.masks
        for i in range(len(out.objects)):
            for (x, y), v in zip(kp[i].tolist(), vis[i].tolist()):
                if v == 2:
                    assert masks[i, round(y), round(x)]


def test_crop_drops_objects_and_hides_keypoints(scene):
    out = SceneTransform(v2.CenterCrop((20, 20)))(scene)
    assert len(out.objects) < len(scene.objects) or out.objects.masks.sum() < scene.objects.masks.sum()
    assert (out.objects.visibility[out.objects.labels == 1] == 0).any()


def test_perspective_on_flow_is_refused(scene):
    with pytest.raises(TypeError, match="perspective"):
        SceneTransform(v2.RandomPerspective(p=1.0))(scene)


def test_tight_boxes_match_opencv():
    rng = np.random.default_rng(0)
    masks = torch.from_numpy(rng.random((5, 20, 30)) > 0.97)
    masks[4] = False
    boxes = masks_to_tight_boxes(masks)
    for b, m in zip(boxes[:4], masks[:4]):
        x, y, w, h = cv2.boundingRect(m.numpy().astype(np.uint8))
        assert b.tolist() == [x, y, x + w, y + h]
    assert boxes[4].tolist() == [0, 0, 0, 0]
