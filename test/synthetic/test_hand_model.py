"""Kinematic hand: sampled bone lengths, joint limits, palm frame and DIP reconstruction."""
import math

import numpy as np
import pytest
import torch

from hand_pose_ros.core.skeleton import FROM_HAND22, HAND22
from hand_pose_ros.synthetic.hand_model import (default_skeleton, DIP_PER_PIP,
                                                forward_kinematics, MIDDLE_SHARE,
                                                palm_frame_icvl16)
from hand_pose_ros.synthetic.measure import bone_medians
from hand_pose_ros.synthetic.poses import JointLimits, PoseConfig, sample_angles, sample_rotation
from hand_pose_ros.synthetic.renderer import infer_dip


def _hands(n=3000, seed=7):
    angles = sample_angles(n, torch.Generator().manual_seed(seed))
    return angles, forward_kinematics(angles, default_skeleton())


def test_sampled_bone_lengths_match_defaults():
    _, hand22 = _hands()
    medians = bone_medians(hand22[:, list(FROM_HAND22['icvl16'])].double().numpy())
    np.testing.assert_allclose(medians, default_skeleton().icvl16_targets_mm, atol=0.6)


def test_joint_angles_within_limits():
    lim = JointLimits()
    angles, hand22 = _hands(2000)
    deg = {k: torch.rad2deg(getattr(angles, k)) for k in ('finger_mcp', 'finger_pip',
                                                          'thumb_cmc_flex', 'thumb_cmc_abd',
                                                          'thumb_mcp', 'thumb_ip')}
    for key, (lo, hi) in (('finger_mcp', lim.mcp_flex_deg), ('finger_pip', lim.pip_flex_deg),
                          ('thumb_cmc_flex', lim.thumb_cmc_flex_deg),
                          ('thumb_cmc_abd', lim.thumb_cmc_abd_deg),
                          ('thumb_mcp', lim.thumb_mcp_flex_deg),
                          ('thumb_ip', lim.thumb_ip_flex_deg)):
        assert lo - 1e-4 <= float(deg[key].min()) and float(deg[key].max()) <= hi + 1e-4, key
    abd = torch.rad2deg(angles.finger_abd).abs().amax(0)
    assert bool((abd <= torch.tensor(lim.abduction_deg) + 1e-4).all())
    assert lim.scale[0] <= float(angles.scale.min()) <= float(angles.scale.max()) <= lim.scale[1]
    # The same limits seen in the joint positions: bend at PIP and DIP of every finger.
    for f in ('index', 'middle', 'ring', 'little'):
        m, p, d, t = (hand22[:, HAND22.index(f'{f}_{j}')] for j in ('mcp', 'pip', 'dip', 'tip'))
        pip_bend = torch.rad2deg(torch.acos(torch.nn.functional.cosine_similarity(p - m, d - p)
                                            .clamp(-1, 1)))
        dip_bend = torch.rad2deg(torch.acos(torch.nn.functional.cosine_similarity(d - p, t - d)
                                            .clamp(-1, 1)))
        assert float(pip_bend.max()) <= lim.pip_flex_deg[1] + 0.1
        torch.testing.assert_close(dip_bend, DIP_PER_PIP * pip_bend, atol=0.1, rtol=0)


def test_palm_frame_recovers_the_global_rotation():
    gen = torch.Generator().manual_seed(3)
    angles, local = _hands(50)                       # right hands: the mirrored model frame
    rot = sample_rotation(50, gen, PoseConfig())
    xyz16 = (local @ rot.transpose(1, 2))[:, list(FROM_HAND22['icvl16'])]
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    right_side = torch.zeros(50, dtype=torch.bool)
    torch.testing.assert_close(palm_frame_icvl16(xyz16, right_side), rot @ mirror, atol=1e-4,
                               rtol=0)
    left = forward_kinematics(angles, default_skeleton(), left=True)
    xyz16 = (left @ rot.transpose(1, 2))[:, list(FROM_HAND22['icvl16'])]
    torch.testing.assert_close(palm_frame_icvl16(xyz16, ~right_side), rot, atol=1e-4, rtol=0)


def test_infer_dip_rebuilds_the_model_dip():
    _, hand22 = _hands(500)
    for f, share in zip(('index', 'middle', 'ring', 'little'), MIDDLE_SHARE):
        m, p, d, t = (hand22[:, HAND22.index(f'{f}_{j}')] for j in ('mcp', 'pip', 'dip', 'tip'))
        torch.testing.assert_close(infer_dip(m, p, t, torch.tensor(share)), d, atol=1e-3, rtol=0)


def test_rotations_face_the_camera_with_limited_tilt():
    cfg = PoseConfig()
    rot = sample_rotation(2000, torch.Generator().manual_seed(1), cfg)
    normal_z = rot[:, 2, 2].abs()                          # palm normal vs the optical axis
    assert float(normal_z.min()) >= math.cos(math.radians(cfg.any_tilt_deg)) - 1e-4
    fingers_away = torch.rad2deg(torch.asin(rot[:, 2, 1].clamp(-1, 1)))
    assert float(fingers_away.max()) <= cfg.away_max_deg + 1e-3
    palm_to_camera = rot[:, 2, 2] > 0                      # dorsal normal away from the camera
    assert 0.6 < float(palm_to_camera.float().mean()) < 0.9  # frontal mode + half of the rest


@pytest.mark.parametrize('bad', [{'skeleton': 1}, {}])
def test_skeleton_from_dict_names_missing_keys(bad):
    from hand_pose_ros.synthetic.hand_model import HandSkeleton
    with pytest.raises(ValueError, match='skeleton needs keys'):
        HandSkeleton.from_dict(bad)
