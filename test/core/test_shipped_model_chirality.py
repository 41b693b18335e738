"""The shipped model with default settings on right hands: rendered ones, their mirror images
(left hands, ``handedness='left'``) and the one real Kinect frame of a right hand.

What it guards: the thumb must come out on the thumb. A model run on the wrong side of the
mirror puts the thumb where the little finger is (41.7 mm mean tip + palm error on the real
frame with the wrong side, 14.7 mm with the right one); these tests fail then.
"""
from pathlib import Path

import numpy as np
import pytest

from hand_pose_ros.core.camera import uvd_to_xyz
from hand_pose_ros.core.estimator import HandPoseEstimator
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.synthetic import PoseConfig, SyntheticGenerator
from hand_pose_ros.training.datasets.nyu import read_nyu_depth
from hand_pose_ros.training.reference import reference_candidates

UPRIGHT = PoseConfig(frontal_prob=1.0, frontal_roll_deg=30.0, frontal_tilt_deg=20.0,
                     distance_mm=(300.0, 500.0))


@pytest.fixture(scope='module')
def estimators():
    # ICVL16 joints: what the synthetic truth comes in
    right = HandPoseEstimator.from_files(device='cpu', precision='fp32', handedness='right',
                                         detector='nearest', joint_order='icvl16')
    left = HandPoseEstimator.from_files(device='cpu', precision='fp32', handedness='left',
                                        detector='nearest', joint_order='icvl16')
    default = HandPoseEstimator.from_files(device='cpu', precision='fp32',
                                           joint_order='icvl16')
    return right, left, default


@pytest.fixture(scope='module')
def right_hands():
    intr = dataset_spec('icvl').intrinsics
    batch = SyntheticGenerator(intr, seed=11, pose=UPRIGHT).sample(12)
    return batch.depth_mm.numpy(), batch.xyz.numpy(), intr


def _thumbs_right(estimator, depth, xyz, intr):
    """(hands whose predicted thumb and little tips are each nearer their own true tip than
    the other's, mean joint error mm)."""
    js = estimator.joint_set
    thumb, little = js.index('thumb_tip'), js.index('little_tip')
    right, errors = 0, []
    for found, true in zip(estimator.estimate_batch(list(depth), intr), xyz):
        assert found.pose is not None
        p = found.pose.xyz
        near = np.linalg.norm(p[[thumb, little]] - true[[thumb, little]], axis=-1)
        crossed = np.linalg.norm(p[[thumb, little]] - true[[little, thumb]], axis=-1)
        right += int((near < crossed).all())
        errors.append(np.linalg.norm(p - true, axis=-1).mean())
    return right, float(np.mean(errors))


@pytest.mark.slow
def test_rendered_right_hands_and_their_mirror_images(estimators, right_hands):
    # measured: 11 of 12 hands and 11.3 mm on the right side, 3 of 12 and 58.6 mm mirrored
    right_est, left_est, _ = estimators
    depth, xyz, intr = right_hands
    assert right_est.handedness == 'right'             # declared: every hand a right one
    hits, error = _thumbs_right(right_est, depth, xyz, intr)
    assert hits >= 9
    # the mirror image of the frame is a left hand: the same with handedness='left'
    flipped = np.ascontiguousarray(depth[:, :, ::-1])
    mirrored = xyz * np.array([-1.0, 1.0, 1.0], np.float32)
    assert _thumbs_right(left_est, flipped, mirrored, intr.mirrored())[0] >= 9
    # and the wrong side gets thumb and little finger crossed (the test can fail)
    wrong_hits, wrong_error = _thumbs_right(left_est, depth, xyz, intr)
    assert wrong_hits <= 5 and wrong_error > error + 10.0


def _real_frame():
    for base in reference_candidates():
        folder = base.parent / 'real-depth'
        if (folder / 'nyu_test_depth_1_0000001.png').is_file():
            return folder
    pytest.skip('../shared/reference/real-depth is absent (or set HAND_POSE_REFERENCE_DIR)')


def test_real_right_hand_has_its_thumb_on_the_thumb(estimators):
    folder = Path(_real_frame())
    intr = dataset_spec('nyu').intrinsics
    depth = read_nyu_depth(folder / 'nyu_test_depth_1_0000001.png', intr)
    depth[depth >= 2001] = 0                       # the saturated background is no depth
    gt_uvd = np.loadtxt(folder / 'nyu_test_0001_gt_uvd.txt').reshape(14, 3)
    gt = uvd_to_xyz(gt_uvd, intr)
    # NYU14: little tip 0, ring tip 2, middle tip 4, index tip 6, thumb tip 8, palm 13
    pairs = {'little_tip': 0, 'ring_tip': 2, 'middle_tip': 4, 'index_tip': 6, 'thumb_tip': 8,
             'palm': 13}
    default = estimators[2]                         # default settings, nothing declared
    pose = default.estimate(depth, intr)
    assert pose is not None, 'no hand found in the real frame'
    assert pose.handedness == 'right' or default.handedness != 'auto', \
        'the left/right classifier called the real right hand a left one'
    js = pose.joint_set
    err = {n: float(np.linalg.norm(pose.xyz[js.index(n)] - gt[g])) for n, g in pairs.items()}
    thumb_u = pose.uvd[js.index('thumb_tip'), 0]
    little_u = pose.uvd[js.index('little_tip'), 0]
    assert thumb_u > little_u, 'thumb left of the little finger: the hand came out mirrored'
    assert err['thumb_tip'] < 20.0 and err['little_tip'] < 40.0, err
    # bound: the measured 14.7 mm plus a margin; the mirrored answer is 41.7 mm
    assert np.mean(list(err.values())) < 25.0, err
