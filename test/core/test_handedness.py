"""Handedness from joints (core/handedness.py): a hand-made right hand, its mirror, and the
published ground truth (ICVL: left hands, NYU: right hands, in the optical frame)."""
import numpy as np
import pytest
import torch

from hand_pose_ros.core.camera import uvd_to_xyz
from hand_pose_ros.core.handedness import (check_side, hand_side, handedness_score,
                                           mirror_xyz, palm_facing_cos)
from hand_pose_ros.core.skeleton import ICVL16
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.training.reference import gt_file, reference_dir


def right_hand_icvl16() -> np.ndarray:
    """A right hand written down by hand in the optical frame (mm): palm towards the camera
    (-z), fingers up (-y), thumb on the image's right (+x), fingers bent towards the camera."""
    palm = np.array([0.0, 0.0, 500.0])
    joints = [palm]
    # thumb root/mid/tip: right of the palm, in front of it (nearer the camera)
    joints += [palm + [35.0, 10.0, -15.0], palm + [55.0, -10.0, -30.0],
               palm + [65.0, -30.0, -40.0]]
    for x in (20.0, 5.0, -10.0, -25.0):          # index (thumb side) ... little
        root = palm + [x, -45.0, 0.0]
        joints += [root, root + [0.0, -30.0, -12.0], root + [0.0, -50.0, -30.0]]
    return np.array(joints, dtype=np.float32)


def test_a_right_hand_and_its_mirror_image():
    right = right_hand_icvl16()
    assert hand_side(right, ICVL16) == 'right'
    assert hand_side(mirror_xyz(right), ICVL16) == 'left'
    # unchanged by where the hand is and how it is turned (a proper rotation)
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                    [0, 0, 1]], dtype=np.float32)
    turned = (right - right[0]) @ rot.T + [100.0, -40.0, 650.0]
    assert hand_side(turned, ICVL16) == 'right'
    # numpy and torch give the same score; batches keep their shape
    batch = np.stack([right, mirror_xyz(right)])
    scores = handedness_score(torch.from_numpy(batch), ICVL16)
    np.testing.assert_allclose(scores.numpy(), handedness_score(batch, ICVL16), rtol=1e-5)
    assert scores[0] > 5.0 and scores[1] < -5.0


def test_palm_facing_the_camera_its_back_and_edge_on():
    right = right_hand_icvl16()                       # palm towards the camera
    assert palm_facing_cos(right, ICVL16, left=False) > 0.9
    # its mirror image is a left hand, still palm towards the camera
    assert palm_facing_cos(mirror_xyz(right), ICVL16, left=True) > 0.9
    # turned half a turn about the vertical axis (through the palm): back to the camera
    palm = right[0]
    half = (right - palm) * [-1.0, 1.0, -1.0] + palm
    assert hand_side(half, ICVL16) == 'right'
    assert palm_facing_cos(half, ICVL16, left=False) < -0.9
    # a quarter turn: edge-on; torch gives the same as numpy
    quarter = (right - palm) @ np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], np.float32).T + palm
    assert abs(float(palm_facing_cos(quarter, ICVL16, left=False))) < 0.3
    np.testing.assert_allclose(palm_facing_cos(torch.from_numpy(half), ICVL16, False).numpy(),
                               palm_facing_cos(half, ICVL16, False), rtol=1e-5)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r'expected \(16, 3\) icvl16 joints'):
        hand_side(np.zeros((14, 3)), ICVL16)
    with pytest.raises(ValueError, match="handedness must be 'right' or 'left'"):
        check_side('both')


@pytest.mark.reference
@pytest.mark.parametrize('dataset, side, share', [('icvl', 'left', 0.99), ('nyu', 'right', 0.99)])
def test_published_ground_truth(dataset, side, share):
    if reference_dir() is None:
        pytest.skip('../shared/reference/hand-pose-eval is absent (or set '
                    'HAND_POSE_REFERENCE_DIR)')
    spec = dataset_spec(dataset)
    uvd = np.loadtxt(gt_file(dataset)).reshape(-1, spec.joint_set.num_joints, 3)
    score = handedness_score(uvd_to_xyz(uvd, spec.intrinsics), spec.joint_set)
    found = float(np.mean(score > 0 if side == 'right' else score < 0))
    assert found >= share, f'{dataset}: {found:.4f} of the frames are {side} hands'
    assert spec.handedness == side          # config/datasets.yaml says the same
