"""The synthetic hand is a true right hand; left hands are the mirrored kinematic model."""
import numpy as np
import pytest
import torch

from hand_pose_ros.core.handedness import handedness_score, mirror_xyz
from hand_pose_ros.core.skeleton import FROM_HAND22, HAND22
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.synthetic import PoseConfig, SyntheticGenerator
from hand_pose_ros.synthetic.hand_model import (default_skeleton, forward_kinematics,
                                                palm_frame_icvl16)
from hand_pose_ros.synthetic.poses import sample_angles
from test.synthetic.test_renderer import QUIET

INTR = dataset_spec('icvl').intrinsics
# Palm towards the camera, fingers straight up: no roll, no tilt.
UPRIGHT = PoseConfig(frontal_prob=1.0, frontal_roll_deg=0.0, frontal_tilt_deg=0.0)
THUMB_TIP, LITTLE_TIP = HAND22.index('thumb_tip'), HAND22.index('little_tip')


@pytest.mark.parametrize('side', ['right', 'left'])
def test_upright_hand_has_its_thumb_on_the_anatomical_side(side):
    gen = SyntheticGenerator(INTR, joint_set='hand22', seed=3, pose=UPRIGHT, handedness=side,
                             background=False, sensor=QUIET)
    batch = gen.sample(16)
    thumb_u, little_u = batch.uvd[:, THUMB_TIP, 0], batch.uvd[:, LITTLE_TIP, 0]
    # a right hand, palm to the camera, fingers up: thumb on the image's right
    assert bool(((thumb_u > little_u) == (side == 'right')).all())
    assert bool((batch.left == (side == 'left')).all())
    score = handedness_score(batch.hand22_xyz, HAND22)
    assert bool(((score > 0) == (side == 'right')).all())
    # the depth image shows the hand where its labels are: the thumb tip's pixel is on the hand
    for k in range(4):
        u, v = batch.uvd[k, THUMB_TIP, :2].round().long().tolist()
        assert abs(float(batch.depth_mm[k, v, u]) - float(batch.uvd[k, THUMB_TIP, 2])) < 20.0


def test_left_hands_are_the_mirrored_kinematic_model():
    angles = sample_angles(32, torch.Generator().manual_seed(5))
    right = forward_kinematics(angles, default_skeleton())
    left = forward_kinematics(angles, default_skeleton(), left=True)
    torch.testing.assert_close(left, mirror_xyz(right))
    mixed = forward_kinematics(angles, default_skeleton(), left=torch.arange(32) % 2 == 0)
    torch.testing.assert_close(mixed[::2], left[::2])
    torch.testing.assert_close(mixed[1::2], right[1::2])
    assert bool((handedness_score(right, HAND22) > 0).all())


@pytest.mark.parametrize('left', [False, True])
def test_the_renderer_places_thumb_base_and_wrist_on_the_right_side(left):
    # The renderer rebuilds thumb CMC and wrist from ICVL16 joints through the palm frame;
    # on a hand of either side they must land where the kinematic model has them.
    skel = default_skeleton()
    angles = sample_angles(16, torch.Generator().manual_seed(9))
    hand22 = forward_kinematics(angles, skel, left=left)
    xyz16 = hand22[:, list(FROM_HAND22['icvl16'])]
    side = torch.full((16,), left)
    for frame in (palm_frame_icvl16(xyz16, side), palm_frame_icvl16(xyz16)):  # given, told
        scale = angles.scale[:, None]
        cmc = xyz16[:, 0] + (frame @ (torch.tensor(skel.thumb_cmc_mm) * scale)[..., None])[..., 0]
        wrist = xyz16[:, 0] + (frame @ (torch.tensor(skel.wrist_mm) * scale)[..., None])[..., 0]
        np.testing.assert_allclose(cmc, hand22[:, HAND22.index('thumb_cmc')], atol=1e-3)
        np.testing.assert_allclose(wrist, hand22[:, HAND22.index('wrist')], atol=1e-3)


def test_both_sides_and_render_joints_agree_with_sample():
    gen = SyntheticGenerator(INTR, seed=2, handedness='both')
    batch = gen.sample(32)
    assert 0 < int(batch.left.sum()) < 32
    with pytest.raises(ValueError, match='handedness must be one of'):
        SyntheticGenerator(INTR, handedness='ambidextrous')
