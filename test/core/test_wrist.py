"""The wrist frame: axes on hands of known pose, a proper rotation for both sides, z out of the
palm, unmoved by finger motion, the same from every joint set that has it, clear errors, and
the quaternion helper against scipy."""
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
import torch

from hand_pose_ros.core.handedness import mirror_xyz
from hand_pose_ros.core.skeleton import FROM_HAND22, HAND22, ICVL16, MEDIAPIPE21, NYU14
from hand_pose_ros.core.wrist import (has_wrist_frame, quaternion_xyzw, wrist_frame,
                                      wrist_joint_indices)
from hand_pose_ros.synthetic.hand_model import default_skeleton, forward_kinematics, HandAngles
from hand_pose_ros.synthetic.poses import animated_angles, sample_angles, sample_rotation

TIPS = [HAND22.index(f'{f}_tip') for f in ('index', 'middle', 'ring', 'little')]
MCPS = [HAND22.index(f'{f}_mcp') for f in ('index', 'middle', 'ring', 'little')]
MIRROR = np.diag([-1.0, 1.0, 1.0])
# Model frame -> camera: palm to the camera, fingers up (synthetic/poses.py _FACING_CAMERA).
FACING = np.array([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])


def right_hand_facing_camera() -> np.ndarray:
    """MediaPipe-21 joints (mm) of a flat right hand, palm to the camera, fingers up (-y),
    thumb on the image's right (+x), 0.5 m away; only the palm joints are exact numbers."""
    xyz = np.zeros((21, 3))
    xyz[:, 2] = 500.0
    xyz[MEDIAPIPE21.index('wrist')] = [0.0, 0.0, 500.0]
    xyz[MEDIAPIPE21.index('index_mcp')] = [25.0, -75.0, 500.0]
    xyz[MEDIAPIPE21.index('middle_mcp')] = [0.0, -80.0, 500.0]
    xyz[MEDIAPIPE21.index('ring_mcp')] = [-12.0, -75.0, 500.0]
    xyz[MEDIAPIPE21.index('little_mcp')] = [-25.0, -65.0, 500.0]
    return xyz


def synthetic_hands(angles: HandAngles, rot: np.ndarray, left: bool = False) -> np.ndarray:
    """HAND22 joints (n, 22, 3) mm of the kinematic hand under one global pose ``rot``."""
    local = forward_kinematics(angles, default_skeleton(), left=left).double().numpy()
    return local @ rot.T + np.array([30.0, -20.0, 450.0])


def angle_deg(r0: np.ndarray, r1: np.ndarray) -> float:
    """Angle (degrees) of the rotation taking r0 to r1."""
    cos = (np.trace(r0.T @ r1) - 1.0) / 2.0
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


def finger_sweep(n: int = 21) -> HandAngles:
    """n hands from open (t = 0) to a fist (t = 2 s) of the animated open/close cycle."""
    frames = [animated_angles(t) for t in np.linspace(0.0, 2.0, n)]
    return HandAngles(**{k: torch.cat([getattr(a, k) for a in frames])
                         for k in HandAngles.__dataclass_fields__})


def test_axes_of_a_right_hand_facing_the_camera():
    """Catches swapped or negated axes, a left-handed frame and a wrong position: palm to the
    camera, fingers up -> x up (-y), z towards the camera (-z), y to the little finger (-x)."""
    position_mm, rotation = wrist_frame(right_hand_facing_camera(), MEDIAPIPE21, 'right')
    np.testing.assert_allclose(position_mm, [0.0, 0.0, 500.0])
    np.testing.assert_allclose(rotation, [[0, -1, 0], [-1, 0, 0], [0, 0, -1]], atol=1e-12)
    # 180 degrees about (1, -1, 0) / sqrt(2)
    np.testing.assert_allclose(quaternion_xyzw(rotation), [0.5 ** 0.5, -0.5 ** 0.5, 0, 0],
                               atol=1e-12)


def test_the_mirrored_hand_is_a_left_hand_with_the_mirrored_frame():
    """Catches a left hand whose z points out of its back or whose frame is left-handed: the
    mirror image of the right hand above has x and z mirrored and y the opposite of the
    mirrored y (R_left = M R_right diag(1, -1, 1))."""
    right = right_hand_facing_camera()
    _, r_right = wrist_frame(right, MEDIAPIPE21, 'right')
    position_mm, r_left = wrist_frame(mirror_xyz(right), MEDIAPIPE21, 'left')
    np.testing.assert_allclose(position_mm, [0.0, 0.0, 500.0])
    np.testing.assert_allclose(r_left, MIRROR @ r_right @ np.diag([1.0, -1.0, 1.0]), atol=1e-12)
    np.testing.assert_allclose(r_left[:, 2], [0, 0, -1], atol=1e-12)   # still to the camera
    np.testing.assert_allclose(r_left[:, 1], [-1, 0, 0], atol=1e-12)   # the thumb side


@pytest.mark.parametrize('left', [False, True])
def test_proper_rotation_and_z_out_of_the_palm_on_random_hands(left):
    """Catches det -1 for one side (the palm normal not flipped with the side, or y = x cross
    z) and z out of the back of the hand: on 256 random hands under random global rotations
    the frame is orthonormal with det +1, x points from the wrist to the middle MCP, and the
    fingertips of the curled hands lie on the +z side."""
    gen = torch.Generator().manual_seed(7)
    angles = sample_angles(256, gen)
    rots = sample_rotation(256, gen).double().numpy()
    local = forward_kinematics(angles, default_skeleton(), left=left).double().numpy()
    hands = np.einsum('nij,nkj->nki', rots, local) + np.array([0.0, 0.0, 450.0])
    side = 'left' if left else 'right'
    curl = angles.finger_mcp.mean(-1) + angles.finger_pip.mean(-1)   # rad
    tips_z = []
    for xyz in hands:
        position_mm, r = wrist_frame(xyz, HAND22, side)
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(position_mm, xyz[HAND22.index('wrist')])
        to_middle = xyz[HAND22.index('middle_mcp')] - position_mm
        np.testing.assert_allclose(r[:, 0], to_middle / np.linalg.norm(to_middle), atol=1e-12)
        tips_z.append(float(((xyz[TIPS] - position_mm) @ r[:, 2]).mean()))
    tips_z = np.array(tips_z)
    curled = curl.numpy() > math.radians(90.0)   # MCP + PIP flexion over 90 deg per finger
    assert curled.sum() > 50
    assert (tips_z[curled] > 10.0).all(), tips_z[curled].min()


@pytest.mark.parametrize('left', [False, True])
def test_fist_fingertips_are_on_the_palm_side(left):
    """Catches z out of the back of the hand: in a fist the fingertips and PIP joints lie on
    the +z side of the wrist (tens of mm), in the open hand within a few mm of the palm."""
    hands = synthetic_hands(finger_sweep(), FACING, left)
    side = 'left' if left else 'right'
    pips = [m + 1 for m in MCPS]
    _, r_open = wrist_frame(hands[0], HAND22, side)
    position_mm, r_fist = wrist_frame(hands[-1], HAND22, side)
    tips_mm = (hands[-1][TIPS] - position_mm) @ r_fist[:, 2]
    pips_mm = (hands[-1][pips] - position_mm) @ r_fist[:, 2]
    print(f'{side} fist: tips {np.round(tips_mm, 1)} mm, PIPs {np.round(pips_mm, 1)} mm '
          f'along z')
    assert (tips_mm > 10.0).all() and (pips_mm > 20.0).all()
    assert np.abs((hands[0][TIPS] - hands[0][0]) @ r_open[:, 2]).max() < 5.0
    np.testing.assert_allclose(r_fist[:, 2], [0, 0, -1], atol=0.05)   # palm to the camera


@pytest.mark.parametrize('left', [False, True])
def test_stable_under_finger_motion(left):
    """Catches a frame built from finger joints beyond the MCPs: one global pose, the fingers
    from open to fist (and 64 random finger poses): the orientation stays within 0.5 deg,
    where the same construction on the fingertips turns by tens of degrees."""
    rot = sample_rotation(1, torch.Generator().manual_seed(3))[0].double().numpy()
    side = 'left' if left else 'right'
    random = sample_angles(64, torch.Generator().manual_seed(4))
    random.scale = torch.ones(64)                 # only the finger joint angles vary
    hands = np.concatenate([synthetic_hands(finger_sweep(), rot, left),
                            synthetic_hands(random, rot, left)])
    r0 = wrist_frame(hands[0], HAND22, side)[1]
    turn_deg = max(angle_deg(r0, wrist_frame(h, HAND22, side)[1]) for h in hands)
    on_tips = hands.copy()
    on_tips[:, MCPS] = hands[:, TIPS]             # the same maths on the fingertips
    t0 = wrist_frame(on_tips[0], HAND22, side)[1]
    tips_turn_deg = max(angle_deg(t0, wrist_frame(h, HAND22, side)[1]) for h in on_tips)
    print(f'{side}: orientation change under finger motion {turn_deg:.2e} deg '
          f'(from the fingertips: {tips_turn_deg:.1f} deg)')
    assert turn_deg < 0.5
    assert tips_turn_deg > 20.0


@pytest.mark.parametrize('name', ['mediapipe21', 'hand22', 'msra21'])
def test_every_joint_set_with_a_wrist_gives_the_same_frame(name):
    """Catches joints looked up by a fixed index instead of by name."""
    hand22 = synthetic_hands(finger_sweep(3), FACING)[1]
    expected = wrist_frame(hand22, HAND22, 'right')
    got = wrist_frame(hand22[list(FROM_HAND22[name])], name, 'right')
    np.testing.assert_allclose(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], atol=1e-12)
    assert has_wrist_frame(name) and len(wrist_joint_indices(name)) == 4


@pytest.mark.parametrize('joint_set', [ICVL16, NYU14])
def test_joint_sets_without_a_wrist_have_no_frame(joint_set):
    """Catches NYU14's approximate wrist points or ICVL16's palm taken for the wrist."""
    assert not has_wrist_frame(joint_set) and wrist_joint_indices(joint_set) is None
    with pytest.raises(ValueError, match=f'{joint_set.name} joints have no wrist frame'):
        wrist_frame(np.zeros((joint_set.num_joints, 3)), joint_set, 'right')


def broken(kind: str) -> np.ndarray:
    """The hand facing the camera with one defect."""
    xyz = right_hand_facing_camera()
    if kind == 'nan':
        xyz[MEDIAPIPE21.index('little_mcp'), 1] = np.nan
    elif kind == 'coincident':
        xyz[MEDIAPIPE21.index('middle_mcp')] = xyz[MEDIAPIPE21.index('wrist')]
    elif kind == 'collinear':   # little and index MCP on the wrist -> middle MCP line
        xyz[MEDIAPIPE21.index('index_mcp')] = [0.0, -90.0, 500.0]
        xyz[MEDIAPIPE21.index('little_mcp')] = [0.0, -60.0, 500.0]
    return xyz


@pytest.mark.parametrize('xyz,side,message', [
    (np.zeros((16, 3)), 'right', r'expected \(21, 3\) mediapipe21 joints \(mm\), found shape'),
    (np.zeros(63), 'right', r'found shape \(63,\)'),
    (broken('nan'), 'right', 'non-finite wrist or MCP joints'),
    (broken('coincident'), 'right', r'wrist -> middle MCP is 0 mm long'),
    (broken('collinear'), 'left', 'collinear'),
    (right_hand_facing_camera(), 'both', "handedness must be 'right' or 'left'"),
])
def test_invalid_input_is_one_clear_error(xyz, side, message):
    """Catches NaN or garbage axes returned for input that has no frame."""
    with pytest.raises(ValueError, match=message):
        wrist_frame(xyz, MEDIAPIPE21, side)


def test_quaternion_matches_scipy_on_every_branch():
    """Catches a sign or index slip in one branch of the conversion: identity, half turns about
    each axis (the three diagonal branches) and 200 random rotations, against scipy; w >= 0."""
    fixed = [np.eye(3), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]),
             np.diag([-1.0, -1.0, 1.0])]
    randoms = list(Rotation.random(200, random_state=1).as_matrix())
    for r in fixed + randoms:
        q = quaternion_xyzw(r)
        expected = Rotation.from_matrix(r).as_quat()            # x, y, z, w
        expected = -expected if expected[3] < 0 else expected
        if abs(expected[3]) < 1e-12:                             # half turn: sign is free
            q, expected = np.abs(q), np.abs(expected)
        np.testing.assert_allclose(q, expected, atol=1e-12)
        assert np.linalg.norm(q) == pytest.approx(1.0) and q[3] >= 0
        np.testing.assert_allclose(Rotation.from_quat(q).as_matrix(), r, atol=1e-12)


@pytest.mark.parametrize('matrix,message', [
    (np.eye(2), r'finite \(3, 3\) rotation matrix'),
    (np.diag([1.0, 1.0, -1.0]), 'not a rotation'),            # a reflection, det -1
    (2.0 * np.eye(3), 'not a rotation'),
    (np.full((3, 3), np.nan), 'finite'),
])
def test_quaternion_refuses_what_is_not_a_rotation(matrix, message):
    """Catches a reflection (a left-handed frame) silently turned into a quaternion."""
    with pytest.raises(ValueError, match=message):
        quaternion_xyzw(matrix)
