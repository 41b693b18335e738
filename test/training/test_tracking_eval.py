"""tracking_eval: the per-frame matching, and a short run of both settings on the shipped
estimator (following must find what the detector on every frame finds, with fewer detector
runs)."""
import numpy as np
import pytest

from hand_pose_ros.core.estimator import HandPose, HandPoseEstimator
from hand_pose_ros.core.hand_tracker import HandTracker
from hand_pose_ros.core.resources import resolve_detector_file
from hand_pose_ros.core.skeleton import get_joint_set
from hand_pose_ros.training.tracking_eval import _score, evaluate_tracking, TrackCounts

ICVL16 = get_joint_set('icvl16')


def _pose(center, side, offset_mm=0.0):
    xyz = np.zeros((16, 3), np.float32) + np.asarray(center, np.float32) + offset_mm
    return HandPose(xyz=xyz, uvd=xyz, confidence=np.ones(16, np.float32),
                    center=np.asarray(center, np.float32), joint_set=ICVL16, timings={},
                    patch=np.zeros((2, 2), np.float32), patch_uv=np.zeros((16, 2), np.float32),
                    handedness=side)


def test_a_frame_is_matched_by_nearest_centre_within_40_mm():
    truth = [(np.full((16, 3), [0.0, 0.0, 500.0], np.float32), 'right'),
             (np.full((16, 3), [200.0, 0.0, 500.0], np.float32), 'left')]
    c = TrackCounts()
    # the right hand 30 mm off (found, 30 mm joints), the left one called right, a third far
    _score(c, [_pose([0, 0, 530], 'right'), _pose([200, 0, 500], 'right'),
               _pose([600, 0, 500], 'left')], truth)
    row = c.as_dict()
    assert (c.hands, c.found, c.side_ok, c.false) == (2, 2, 1, 1)
    assert row['joint_error_mm'] == pytest.approx(15.0) and row['handedness'] == 0.5
    c2 = TrackCounts()
    _score(c2, [_pose([0, 0, 545], 'right')], truth[:1])         # 45 mm: not found, false
    assert (c2.found, c2.false) == (0, 1)


@pytest.mark.skipif(resolve_detector_file('default', 'default') is None,
                    reason='no hand detector shipped in models/')
def test_following_finds_what_the_detector_finds_with_fewer_detector_runs():
    est = HandPoseEstimator.from_files('default', device='cpu', precision='fp32',
                                       joint_order='icvl16')
    rows = evaluate_tracking(est, 'validation', 1, 4, 30.0,
                             {'every frame': None,
                              'follow': lambda: HandTracker(4, 0.1)}, 0.1)
    every, follow = rows['every frame'], rows['follow']
    assert every['hands'] == follow['hands'] == 16            # 4 frames x (2 + 1 + 1) hands
    assert every['found'] >= 0.9 and follow['found'] >= every['found'] - 0.1
    assert abs(follow['joint_error_mm'] - every['joint_error_mm']) < 3.0
    assert every['detector_share'] == 1.0
    # 3 videos: the first frame of each; 2 hand-free scenes: every frame (nothing followed)
    assert follow['detector_share'] == pytest.approx((3 * 1 + 2 * 4) / (3 * 4 + 2 * 4))
