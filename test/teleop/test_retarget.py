"""Teleoperation without ROS: the MANO wrist frame, and depth -> estimator -> HandRetargeter ->
a small robot hand (URDF written here) that closes for a fist and opens for an open hand.

The retargeting tests skip, saying so, where dex-retargeting is not installed
(``pip install 'hand_pose_ros[teleop]'``; ``make test`` installs it).
"""
import sys
import time

import numpy as np
import pytest

from hand_pose_ros.teleop.frames import (INDEX_MCP, MIDDLE_MCP, OPERATOR_TO_MANO,
                                         wrist_frame_points)
from test.teleop.robot_hand import (FINGERS, flexion_joints, synthetic_hand_m,
                                    write_robot_hand)

DEX_MISSING = "dex-retargeting is not installed: pip install 'hand_pose_ros[teleop]'"
OPEN_S, FIST_S = 0.0, 2.0      # times of the synthetic animation: open hand, fist
# Frames a pose is held (0.5 s at 30 fps): the optimiser takes one step per frame,
# warm-started from the last one, so a sudden change of pose settles over a few frames.
HOLD_FRAMES = 15
MARGIN_RAD = 0.5
NO_WHOLE_HAND = 'the shipped model predicts no wrist (icvl16); needs the whole-hand model'


def _dex():
    """dex-retargeting, or skip the test saying how to install it."""
    return pytest.importorskip('dex_retargeting.retargeting_config', reason=DEX_MISSING)


def _rotation(seed: int) -> np.ndarray:
    """A random proper rotation (3, 3)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _mirror_x(xyz: np.ndarray) -> np.ndarray:
    return xyz * np.array([-1.0, 1.0, 1.0])


# --- the wrist frame (numpy only) ----------------------------------------------------------

@pytest.mark.parametrize('side', ['right', 'left'])
def test_wrist_frame_puts_the_palm_on_the_expected_axes(side):
    """Catches a wrong axis or sign of the MANO wrist frame (wrist at the origin, middle MCP on
    +z, index MCP on +y for a right hand and -y for a left one, fingers flexing to +x), a
    frame that depends on where the camera is, or a non-rigid transform."""
    for t_s in (OPEN_S, FIST_S):
        xyz = synthetic_hand_m(t_s, side)
        rot, shift = _rotation(int(10 * t_s) + len(side)), np.array([0.1, -0.2, 0.7])
        for joints in (xyz, xyz @ rot.T + shift):       # any camera pose: the same result
            p = wrist_frame_points(joints, side)
            assert np.allclose(p[0], 0.0, atol=1e-12)
            assert np.allclose(p[MIDDLE_MCP, :2], 0.0, atol=1e-9) and p[MIDDLE_MCP, 2] > 0.07
            assert abs(p[INDEX_MCP, 0]) < 1e-9 and p[INDEX_MCP, 2] > 0.07
            assert (p[INDEX_MCP, 1] > 0.01) == (side == 'right'), p[INDEX_MCP]
            assert (p[INDEX_MCP, 1] < -0.01) == (side == 'left'), p[INDEX_MCP]
            d_in = np.linalg.norm(joints[:, None] - joints[None], axis=-1)
            d_out = np.linalg.norm(p[:, None] - p[None], axis=-1)
            assert np.allclose(d_in, d_out, atol=1e-12)
    tips = [8, 12, 16, 20]
    fist, open_ = (wrist_frame_points(synthetic_hand_m(t, side), side) for t in (FIST_S, OPEN_S))
    assert (fist[tips, 0] > 0.015).all(), fist[tips]             # curled towards the palm (+x)
    assert (np.abs(open_[tips, 0]) < 0.01).all(), open_[tips]    # straight: in the palm plane


def test_left_hand_is_the_mirror_image_of_the_right_one():
    """Catches a left-hand convention that is not the right one mirrored in y (a robot's left
    hand would then bend the other way), and the frame ignoring ``side``."""
    right = synthetic_hand_m(1.0, 'right')
    left = _mirror_x(right)                      # the same pose of the left hand
    p_right = wrist_frame_points(right, 'right')
    p_left = wrist_frame_points(left, 'left')
    assert np.allclose(p_left, p_right * np.array([1.0, -1.0, 1.0]), atol=1e-12)
    assert np.allclose(wrist_frame_points(synthetic_hand_m(1.0, 'left'), 'left'), p_left,
                       atol=1e-6)                # the kinematic model's left hand (float32)
    # the wrong side turns the hand 180 degrees about z: fingers flex to -x
    wrong = wrist_frame_points(left, 'right')
    assert np.allclose(wrong, p_left * np.array([-1.0, -1.0, 1.0]), atol=1e-12)


def test_operator_to_mano_matches_dex_retargeting():
    """Catches our operator -> MANO permutations drifting from dex-retargeting's constants."""
    constants = pytest.importorskip('dex_retargeting.constants', reason=DEX_MISSING)
    assert np.array_equal(OPERATOR_TO_MANO['right'], constants.OPERATOR2MANO_RIGHT)
    assert np.array_equal(OPERATOR_TO_MANO['left'], constants.OPERATOR2MANO_LEFT)


@pytest.mark.parametrize('joints,side,match', [
    (np.zeros((16, 3)), 'right', r'\(21, 3\)'),
    (np.full((21, 3), np.nan), 'right', 'finite'),
    (None, 'right', 'metres'),                   # millimetres
    (np.zeros((21, 3)), 'right', 'degenerate'),
    (None, 'both', "'right' or 'left'"),
])
def test_wrist_frame_refuses_bad_joints(joints, side, match):
    """Catches millimetres (a 1000x too large hand), NaN, a wrong joint count or a collapsed
    palm going through silently."""
    if joints is None:
        joints = synthetic_hand_m(0.0) * (1000.0 if side == 'right' else 1.0)
    with pytest.raises(ValueError, match=match):
        wrist_frame_points(joints, side)


def test_missing_dex_retargeting_says_how_to_install_it(tmp_path, monkeypatch):
    """Catches an ImportError without the install command (or an import at module load)."""
    from hand_pose_ros.teleop import HandRetargeter
    monkeypatch.setitem(sys.modules, 'dex_retargeting.retargeting_config', None)
    urdf, _ = write_robot_hand(tmp_path)
    with pytest.raises(ImportError, match=r"pip install 'hand_pose_ros\[teleop\]'"):
        HandRetargeter(urdf, link_pairs=[('palm', 'index_tip')], human_pairs=[(0, 8)])


# --- retargeting (dex-retargeting) ----------------------------------------------------------

def _mean_flexion(names, positions, joints=None) -> float:
    """Mean position (rad) of the four long fingers' joints (or of ``joints``)."""
    q = dict(zip(names, positions))
    return float(np.mean([q[j] for j in (joints or flexion_joints())]))


def _hold(retargeter, xyz_m: np.ndarray, frames: int = HOLD_FRAMES):
    """Retarget one pose held for ``frames`` frames; the last (names, positions)."""
    for _ in range(frames):
        names, positions = retargeter(xyz_m)
    return names, positions


def _open_then_fist(retargeter, open_m, fist_m, label: str):
    """Mean flexion of the robot's long fingers for the open hand and the fist (printed)."""
    retargeter.reset()
    names, q_open = _hold(retargeter, open_m)
    _, q_fist = _hold(retargeter, fist_m)
    _, q_again = _hold(retargeter, open_m)
    flex = [_mean_flexion(names, q) for q in (q_open, q_fist, q_again)]
    thumb = [_mean_flexion(names, q, flexion_joints(['thumb'])) for q in (q_open, q_fist)]
    print(f'\n{label}: mean flexion of the index..little joints (rad): open {flex[0]:.3f}, '
          f'fist {flex[1]:.3f}, open again {flex[2]:.3f}; thumb open {thumb[0]:.3f}, fist '
          f'{thumb[1]:.3f}')
    per_finger = {f: round(_mean_flexion(names, q_fist, flexion_joints([f])) -
                           _mean_flexion(names, q_open, flexion_joints([f])), 3)
                  for f in FINGERS}
    print(f'{label}: fist - open per finger (rad): {per_finger}')
    return flex, per_finger


@pytest.fixture(scope='module')
def robot(tmp_path_factory):
    """The right robot hand's URDF and vector-retargeting config (files in a tmp folder)."""
    return write_robot_hand(tmp_path_factory.mktemp('robot_hand'), 'right')


@pytest.mark.parametrize('side', ['right', 'left'])
def test_true_joints_close_the_robot_hand_for_a_fist(tmp_path, side):
    """Catches a retargeting that does not follow the hand (wrong frame, wrong vectors, wrong
    joint order) on exact joints of the synthetic hand: the robot's fingers must flex clearly
    more for the fist than for the open hand, every finger, for both sides (each side's
    robot hand), and open again."""
    _dex()
    from hand_pose_ros.teleop import HandRetargeter
    urdf, config = write_robot_hand(tmp_path, side)
    retargeter = HandRetargeter(urdf, config, side=side)
    assert set(retargeter.joint_names) == set(flexion_joints(FINGERS))
    flex, per_finger = _open_then_fist(retargeter, synthetic_hand_m(OPEN_S, side),
                                       synthetic_hand_m(FIST_S, side), f'true joints, {side}')
    assert flex[1] > flex[0] + MARGIN_RAD and flex[1] > flex[2] + MARGIN_RAD, flex
    assert min(per_finger[f] for f in FINGERS[1:]) > 0.3, per_finger


def test_fingertips_without_a_config_follow_the_mimic_joints(robot):
    """Catches the argument form (wrist -> fingertip vectors, no YAML) failing on a URDF with
    mimic joints (dex-retargeting refuses them among the optimised joints) or not closing."""
    _dex()
    from hand_pose_ros.teleop import fingertip_pairs, HandRetargeter, root_link
    urdf, _ = robot
    assert root_link(urdf) == 'palm'
    links, joints = fingertip_pairs('palm', [f'{f}_tip' for f in FINGERS])
    assert joints == [(0, 4), (0, 8), (0, 12), (0, 16), (0, 20)]
    retargeter = HandRetargeter(urdf, link_pairs=links, human_pairs=joints, side='right')
    assert set(retargeter.target_joint_names) == set(flexion_joints(FINGERS, ('mcp', 'pip')))
    names, q = _hold(retargeter, synthetic_hand_m(FIST_S))
    values = dict(zip(names, q))
    assert np.isclose(values['index_dip'], 0.7 * values['index_pip'], atol=1e-4)   # mimic
    flex, _ = _open_then_fist(retargeter, synthetic_hand_m(OPEN_S), synthetic_hand_m(FIST_S),
                              'fingertips only, true joints')
    assert flex[1] > flex[0] + MARGIN_RAD, flex
    # the upper limits hold (0 .. 1.6 rad, dex-retargeting clips to them)
    assert (retargeter.joint_limits[:, 0] == 0.0).all()
    assert np.all(q >= -1e-3) and np.all(q <= 1.6 + 1e-3)


@pytest.fixture(scope='module')
def shipped_estimator():
    """The shipped default model, MediaPipe-21 joints, right hands; skips while the shipped
    model predicts ICVL16 only (no wrist, no DIP joints)."""
    from hand_pose_ros.core.estimator import HandPoseEstimator
    try:
        est = HandPoseEstimator.from_files('default', joint_order='mediapipe21',
                                           handedness='right', device='cpu', precision='fp32')
    except ValueError:            # an ICVL16 network cannot give MediaPipe-21 joints
        est = None
    if est is None or est.config.joint_set != 'hand22':
        pytest.skip(NO_WHOLE_HAND)
    return est


def estimate_open_and_fist(estimator, intrinsics=None):
    """Render the synthetic open hand and fist (depth with background and sensor noise), run
    ``estimator`` (MediaPipe-21 joints) on them: (open, fist) joints in metres, each the
    estimate of one frame, and their mean errors to the truth (mm)."""
    from hand_pose_ros.core.specs import camera_spec
    from hand_pose_ros.synthetic.generator import SyntheticGenerator
    intr = intrinsics or camera_spec('realsense_d435_640x480').intrinsics
    gen = SyntheticGenerator(intr, joint_set='mediapipe21', handedness='right', seed=3)
    out, errors = [], []
    for t_s in (OPEN_S, FIST_S):
        depth, truth_mm = gen.animate(t_s)
        pose = estimator.estimate(depth, intr)
        assert pose is not None, f'no hand found at t={t_s}'
        assert pose.xyz.shape == (21, 3) and pose.handedness == 'right'
        errors.append(float(np.linalg.norm(pose.xyz - truth_mm, axis=-1).mean()))
        out.append(pose.xyz.astype(np.float64) / 1000.0)
    return out[0], out[1], errors


def test_estimated_joints_close_the_robot_hand_for_a_fist(robot, shipped_estimator):
    """The whole chain on rendered depth: the shipped estimator's MediaPipe-21 joints of an
    open hand and of a fist, retargeted to the robot hand. Catches an estimator output (order,
    units, frame) that retargeting cannot use: the robot's fingers must flex clearly more for
    the fist."""
    _dex()
    from hand_pose_ros.teleop import HandRetargeter
    open_m, fist_m, errors = estimate_open_and_fist(shipped_estimator)
    print(f'\nestimator mean joint error (mm): open {errors[0]:.1f}, fist {errors[1]:.1f}')
    retargeter = HandRetargeter(*robot, side='right')
    flex, _ = _open_then_fist(retargeter, open_m, fist_m, 'estimated joints, right')
    assert flex[1] > flex[0] + MARGIN_RAD, flex


def test_retargeting_latency_is_reported(robot):
    """Prints the time HandRetargeter adds per frame (median of 100 frames of a moving hand);
    no assertion on speed (a loaded CI machine), only that every frame gives finite joints."""
    _dex()
    from hand_pose_ros.teleop import HandRetargeter
    retargeter = HandRetargeter(*robot, side='right')
    frames = [synthetic_hand_m(t, 'right') for t in np.linspace(0.0, 4.0, 100)]
    retargeter(frames[0])
    times = []
    for xyz in frames:
        start = time.perf_counter()
        _, q = retargeter(xyz)
        times.append((time.perf_counter() - start) * 1e3)
        assert np.isfinite(q).all()
    print(f'\nHandRetargeter: median {np.median(times):.2f} ms, p90 '
          f'{np.percentile(times, 90):.2f} ms per frame over {len(times)} frames '
          f'({len(retargeter.target_joint_names)} optimised joints, 10 vectors)')
