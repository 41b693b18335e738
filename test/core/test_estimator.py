"""The estimator on synthetic frames: J joints in the camera frame (mm), reasons, devices."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from hand_pose_ros.core.camera import uvd_to_xyz, xyz_to_uvd
from hand_pose_ros.core.estimator import HandPoseEstimator, select_device
from hand_pose_ros.core.nets.localizer import Localizer
from hand_pose_ros.core.nets.pose_net import PoseNet
from test.conftest import blob_frame


@pytest.fixture
def estimator(tiny_config, tiny_localizer_config):
    torch.manual_seed(0)
    return HandPoseEstimator(PoseNet(tiny_config), Localizer(tiny_localizer_config),
                             device='cpu', near_mm=100, far_mm=1200)


def test_estimate_returns_joints_in_camera_frame_mm(estimator, icvl):
    frame = blob_frame(center=(180, 100), depth=420.0)
    for depth in (frame, frame.astype(np.uint16)):
        pose = estimator.estimate(depth, icvl.intrinsics)
        assert pose is not None
        assert pose.xyz.shape == (16, 3) and pose.xyz.dtype == np.float32
        assert pose.confidence.shape == (16,)
        assert pose.joint_set.name == 'icvl16'
        # xyz and uvd describe the same points; all inside the cube around the hand
        np.testing.assert_allclose(xyz_to_uvd(pose.xyz, icvl.intrinsics), pose.uvd, rtol=1e-4,
                                   atol=1e-2)
        assert np.all(np.abs(pose.xyz - pose.center).max(0) <= 250 * 1.5)
        assert 250 < pose.center[2] < 650
        assert set(pose.timings) >= {'com', 'localizer', 'crop', 'pose_net', 'decode', 'total'}
        assert pose.patch.shape == (64, 64) and pose.patch_uv.shape == (16, 2)


def test_localizer_passes_refine_around_the_previous_centre(estimator, icvl):
    frame = blob_frame(center=(180, 100), depth=420.0)
    centres = []
    for passes in (1, 2, 3):
        estimator.configure(localizer_passes=passes)
        centres.append(estimator.estimate(frame, icvl.intrinsics).center)
    assert estimator.localizer_passes == 3
    # each pass starts from the previous pass's centre, so the results differ
    assert not np.allclose(centres[0], centres[1]) and not np.allclose(centres[1], centres[2])
    for bad in (0, 9):
        with pytest.raises(ValueError, match='localizer_passes must be 1..8'):
            estimator.configure(localizer_passes=bad)
    assert estimator.localizer_passes == 3            # a refused change leaves the old value


def test_no_hand_gives_a_reason(estimator, icvl):
    result = estimator.estimate_detailed(np.zeros((240, 320), np.uint16), icvl.intrinsics)
    assert result.pose is None and 'no hand in range' in result.reason
    assert result.reason.endswith(': the frame holds no depth')
    far = np.full((240, 320), 3000, np.uint16)
    assert estimator.estimate(far, icvl.intrinsics) is None
    # a hand in 1/8 mm units (8x its millimetres) is out of range: the reason says what the
    # frame holds and names the unit, so it reads differently from an empty view
    eighths = blob_frame(center=(180, 100), depth=420.0) * 8
    eighths[eighths == 0] = 8 * 900.0                     # a wall behind, in the same unit
    reason = estimator.estimate_detailed(eighths, icvl.intrinsics).reason
    assert 'no depth in that range at all' in reason and '3360-7200 mm' in reason
    assert 'depth unit' in reason
    # some depth in range but no hand there (specks too small for a blob): no such note
    specks = np.full((240, 320), 3000.0, np.float32)
    specks[[10, 100, 200], [10, 150, 300]] = 800.0
    reason = estimator.estimate_detailed(specks, icvl.intrinsics).reason
    assert reason == 'no hand in range [100, 1200] mm'


def test_bad_depth_is_rejected_with_expected_and_found(estimator, icvl):
    with pytest.raises(ValueError, match='320x240'):
        estimator.estimate(np.zeros((10, 10), np.uint16), icvl.intrinsics)
    with pytest.raises(ValueError, match='uint16 or float32'):
        estimator.estimate(np.zeros((240, 320), np.int8), icvl.intrinsics)
    with pytest.raises(ValueError, match='2-D'):
        estimator.estimate(np.zeros((240, 320, 3), np.uint16), icvl.intrinsics)


def test_nan_pixels_are_missing_depth(estimator, icvl):
    frame = blob_frame(center=(180, 100), depth=420.0)
    noisy = frame.copy()
    noisy[::7, ::5] = np.nan
    noisy[frame == 0] = np.inf
    assert estimator.estimate(noisy, icvl.intrinsics) is not None
    assert estimator.estimate(np.full((240, 320), np.nan, np.float32), icvl.intrinsics) is None


def test_the_other_hand_is_mirrored_in_and_back_out(tiny_config, icvl):
    torch.manual_seed(1)
    net = PoseNet(tiny_config)           # a right-hand network (ModelConfig.handedness)
    frame = blob_frame(center=(180, 100), depth=420.0)
    right_est = HandPoseEstimator(net, None, device='cpu')
    right = right_est.estimate(frame, icvl.intrinsics)
    left_est = HandPoseEstimator(net, None, device='cpu', handedness='left')
    assert (right_est.mirror, left_est.mirror) == (False, True)
    flipped = np.ascontiguousarray(frame[:, ::-1])
    mirrored = icvl.intrinsics.mirrored()
    left = left_est.estimate(flipped, mirrored)
    assert (right.handedness, left.handedness) == ('right', 'left')
    # the mirrored image of the mirrored hand gives the mirror image of the joints
    np.testing.assert_allclose(left.xyz[:, 0], -right.xyz[:, 0], atol=0.5)
    np.testing.assert_allclose(left.xyz[:, 1:], right.xyz[:, 1:], atol=0.5)
    # a left-hand network mirrors the right hand instead
    left_net = HandPoseEstimator(PoseNet(replace(tiny_config, handedness='left')), None,
                                 device='cpu')
    assert left_net.mirror and left_net.handedness == 'right'
    with pytest.raises(ValueError, match="handedness must be one of .*'right', 'left'"):
        right_est.configure(handedness='both')


def test_batch_matches_single(estimator, icvl):
    a = blob_frame(center=(180, 100), depth=420.0)
    b = blob_frame(center=(90, 150), depth=600.0)
    batch = estimator.estimate_batch([a, np.zeros_like(a), b], icvl.intrinsics)
    assert batch[1].pose is None
    np.testing.assert_allclose(batch[0].pose.xyz, estimator.estimate(a, icvl.intrinsics).xyz,
                               atol=1e-3)
    np.testing.assert_allclose(batch[2].pose.xyz, estimator.estimate(b, icvl.intrinsics).xyz,
                               atol=1e-3)


def test_given_centres_crop_exactly_there(estimator, icvl):
    """centers_uvd skips finding the hand: the crop is at the given centre (no localizer),
    even on an empty frame or beyond the search range; a bad shape is a clear error."""
    frame = blob_frame(center=(180, 100), depth=420.0)
    given = np.array([[180.0, 100.0, 430.0], [60.0, 50.0, 2500.0]], np.float32)
    out = estimator.estimate_batch([frame, np.zeros_like(frame)], icvl.intrinsics, given)
    for result, centre in zip(out, given):
        assert result.pose is not None and 'given' in result.pose.timings
        np.testing.assert_allclose(result.pose.center, uvd_to_xyz(centre, icvl.intrinsics),
                                   rtol=1e-5, atol=1e-3)
    found = estimator.estimate(frame, icvl.intrinsics)          # detector + localizer path
    assert not np.allclose(found.center, out[0].pose.center, atol=1.0)
    with pytest.raises(ValueError, match='centers_uvd must be'):
        estimator.estimate_batch([frame], icvl.intrinsics, given)


def test_configure_validates(estimator):
    with pytest.raises(ValueError, match='near_mm < far_mm'):
        estimator.configure(near_mm=900, far_mm=800)
    estimator.configure(cube_mm=300)
    assert estimator.cube_mm == 300


def test_device_selection():
    assert select_device('cpu').type == 'cpu'
    assert select_device('auto').type == ('cuda' if torch.cuda.is_available() else 'cpu')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available'):
            select_device('cuda')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_cuda_matches_cpu(tiny_config, icvl):
    net = PoseNet(tiny_config)
    frame = blob_frame(center=(180, 100), depth=420.0)
    cpu = HandPoseEstimator(net, None, device='cpu').estimate(frame, icvl.intrinsics)
    gpu = HandPoseEstimator(net, None, device='cuda').estimate(frame, icvl.intrinsics)
    np.testing.assert_allclose(cpu.xyz, gpu.xyz, atol=0.1)


def test_float_metres_are_refused_with_the_unit_named(estimator, icvl):
    metres = blob_frame(center=(180, 100), depth=0.42)
    with pytest.raises(ValueError, match=r'millimetres.*0\.42.*metres\?'):
        estimator.estimate(metres, icvl.intrinsics)
    assert estimator.estimate(metres * 1000.0, icvl.intrinsics) is not None


@pytest.mark.parametrize('offset, trusted', [
    ((0.5, 0.0, 0.0), True), ((2.5, 0.0, 0.0), False), ((0.0, -1.2, 0.0), True),
    ((0.0, -3.0, 0.0), False), ((0.0, 0.0, 2.2), False), ((0.3, -0.3, 0.3), True)])
def test_localizer_centre_outside_its_crop_is_not_trusted(estimator, icvl, offset, trusted):
    frame = blob_frame(center=(180, 100), depth=420.0)
    estimator.configure(localizer_passes=1)
    # a localizer answering the crop's own centre leaves the centre of mass where it is
    estimator._loc_run = lambda patch: (torch.zeros(1, 3),)
    com = estimator.estimate(frame, icvl.intrinsics).center
    estimator._loc_run = lambda patch: (torch.tensor([offset], dtype=torch.float32),)
    moved = estimator.estimate(frame, icvl.intrinsics).center
    assert (np.linalg.norm(moved - com) > 5.0) == trusted, (com, moved)
