"""Lens distortion models and rectifying raw depth: the formulas, the nearest-pixel map, and
the shipped estimator on hands seen through a strongly distorting lens (as an Azure Kinect's
raw depth is) with and without undistortion."""
from dataclasses import replace

import numpy as np
import pytest

from hand_pose_ros.core.camera import Intrinsics
from hand_pose_ros.core.detection import sampled_intrinsics
from hand_pose_ros.core.estimator import HandPoseEstimator
from hand_pose_ros.core.lens_distortion import (apply_rectify_map, DepthRectifier, distort,
                                                lens_distortion, LensDistortion, rectify_depth,
                                                rectify_map, valid_radius)
from hand_pose_ros.synthetic import PoseConfig, SyntheticGenerator

# A 640x576 depth camera (the Azure Kinect NFOV size) with a strong barrel distortion of the
# rational model: the radius shrinks 0.3 % at r = 0.1, 3 % at r = 0.3, 13 % at r = 0.6.
INTR = Intrinsics(504.0, 504.0, 320.0, 288.0, 640, 576)
BARREL = LensDistortion('rational_polynomial', (5.1, 3.1, 1e-4, -2e-4, 0.16, 5.4, 4.9, 0.86))


def undistort_points(xd: np.ndarray, yd: np.ndarray, lens: LensDistortion):
    """Inverse of ``distort`` by fixed-point iteration (the test's own, to make raw frames)."""
    x, y = xd.copy(), yd.copy()
    for _ in range(60):
        fx, fy = distort(x, y, lens)
        x, y = x + (xd - fx), y + (yd - fy)
    return x, y


def raw_frame(pinhole: np.ndarray, intr: Intrinsics, lens: LensDistortion) -> np.ndarray:
    """What a camera with this lens records of a scene whose pinhole depth is ``pinhole``."""
    v, u = np.mgrid[0:intr.height, 0:intr.width].astype(np.float64)
    x, y = undistort_points((u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, lens)
    cols = np.rint(x * intr.fx + intr.cx).astype(int)
    rows = np.rint(y * intr.fy + intr.cy).astype(int)
    inside = (cols >= 0) & (cols < intr.width) & (rows >= 0) & (rows < intr.height)
    out = np.zeros_like(pinhole)
    out[inside] = pinhole[rows[inside], cols[inside]]
    return out


def test_no_distortion_is_none_and_bad_ones_are_refused():
    assert lens_distortion('plumb_bob', [0.0] * 5) is None
    assert lens_distortion('', []) is None
    assert lens_distortion('rational_polynomial', [0.0] * 8) is None
    assert lens_distortion('plumb_bob', [0.1, 0, 0, 0, 0]).padded() == (0.1, 0, 0, 0, 0)
    assert lens_distortion('plumb_bob', [0.1, 0, 0, 0]).padded() == (0.1, 0, 0, 0, 0.0)
    with pytest.raises(ValueError, match='model must be one of'):
        lens_distortion('fov', [0.5])
    with pytest.raises(ValueError, match='takes 4 or 5 coefficients, found 8'):
        lens_distortion('plumb_bob', [0.1] * 8)
    with pytest.raises(ValueError, match='finite'):
        lens_distortion('equidistant', [0.1, float('nan'), 0, 0])


def test_models_follow_their_formulas():
    x, y = np.array([0.3, -0.2, 0.0]), np.array([0.1, 0.25, 0.0])
    r2 = x * x + y * y
    k1, k2, p1, p2, k3 = 0.1, -0.05, 0.001, -0.002, 0.01
    xd, yd = distort(x, y, LensDistortion('plumb_bob', (k1, k2, p1, p2, k3)))
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    np.testing.assert_allclose(xd, x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x))
    np.testing.assert_allclose(yd, y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y)
    # rational: the plumb_bob numerator over 1 + k4 r^2 + k5 r^4 + k6 r^6
    xr, _ = distort(x, y, LensDistortion('rational_polynomial', (k1, k2, 0, 0, k3, 0.2, 0, 0)))
    np.testing.assert_allclose(xr, x * radial / (1 + 0.2 * r2))
    # fisheye: theta_d = theta (1 + k1 theta^2 + ...), along the same ray
    xe, ye = distort(x, y, LensDistortion('equidistant', (0.1, 0.0, 0.0, 0.0)))
    theta = np.arctan(np.sqrt(r2))
    scale = np.divide(theta * (1 + 0.1 * theta ** 2), np.sqrt(r2), out=np.ones(3),
                      where=r2 > 0)
    np.testing.assert_allclose(np.c_[xe, ye], np.c_[x * scale, y * scale])


def test_rays_past_where_the_model_folds_back_are_missing():
    fold = LensDistortion('plumb_bob', (-0.5, 0.0, 0.0, 0.0, 0.0))   # r (1 - 0.5 r^2) peaks
    assert valid_radius(fold, 2.0) == pytest.approx(np.sqrt(2 / 3), abs=1e-3)
    wide = Intrinsics(200.0, 200.0, 160.0, 120.0, 320, 240)          # corners at r = 1.0
    rmap = rectify_map(wide, fold)
    v, u = np.mgrid[0:240, 0:320]
    r = np.hypot((u - 160) / 200.0, (v - 120) / 200.0)
    assert rmap.missing[r > 0.83].all() and not rmap.missing[r < 0.8].any()
    assert valid_radius(BARREL, 2.0) == 2.0                         # grows all the way


def test_rectifying_a_raw_frame_gives_back_the_pinhole_frame():
    v, u = np.mgrid[0:INTR.height, 0:INTR.width]
    scene = (900.0 + 0.3 * u).astype(np.float32)                      # a slanted wall
    scene[(u // 80 + v // 80) % 2 == 0] -= 200.0                      # boxes in front of it
    raw = raw_frame(scene, INTR, BARREL)
    moved = np.abs(raw - scene) > 1.0
    assert moved.mean() > 0.15                                        # the lens moved edges
    out, intr = rectify_depth(raw, INTR, BARREL)
    assert intr == INTR and out.dtype == raw.dtype
    valid = out > 0
    assert valid.mean() > 0.99
    same = np.abs(out - scene)[valid] <= 1.0                         # 0.3 mm a pixel of slant
    assert same.mean() > 0.97                                        # all but edge pixels
    assert rectify_depth(raw, INTR, None)[0] is raw


def test_a_decimated_map_is_the_full_map_decimated():
    full = rectify_map(INTR, BARREL)
    small = rectify_map(INTR, BARREL, stride=3)
    assert (small.rows == full.rows[1::3, 1::3]).all()
    assert (small.cols == full.cols[1::3, 1::3]).all()
    h, w = np.zeros((576, 640))[1::3, 1::3].shape                     # as decimation keeps
    assert small.intrinsics == sampled_intrinsics(INTR, 3)          # the one the node decimates by
    scaled = replace(INTR.scaled(1 / 3), width=w, height=h)          # the same camera, resized
    assert (small.intrinsics.width, small.intrinsics.height) == (w, h)
    for name in ('fx', 'fy', 'cx', 'cy'):
        assert getattr(small.intrinsics, name) == pytest.approx(getattr(scaled, name), rel=1e-12)
    with pytest.raises(ValueError, match='odd'):
        rectify_map(INTR, BARREL, stride=2)
    with pytest.raises(ValueError, match='reads a 640x576 image'):
        apply_rectify_map(np.zeros((480, 640), np.uint16), full)


def test_the_rectifier_keeps_its_map_until_the_camera_changes():
    rectifier = DepthRectifier()
    first = rectifier.map_for(INTR, BARREL)
    assert rectifier.map_for(INTR, BARREL) is first
    assert rectifier.map_for(replace(INTR, cx=321.0), BARREL) is not first


@pytest.fixture(scope='module')
def off_axis_hands():
    """Right hands whose palm is more than 0.35 focal lengths off the axis (0.36-0.42),
    0.35-0.55 m away: their pinhole frames, raw frames through BARREL and ICVL16 truth."""
    pose = PoseConfig(frontal_prob=1.0, frontal_roll_deg=30.0, frontal_tilt_deg=20.0,
                      distance_mm=(350.0, 550.0))
    gen = SyntheticGenerator(INTR, seed=5, pose=pose)
    batch = gen.sample(48)
    palm = batch.uvd.numpy()[:, 0, :2]                # ICVL16 joint 0: the palm
    r = np.hypot((palm[:, 0] - INTR.cx) / INTR.fx, (palm[:, 1] - INTR.cy) / INTR.fy)
    keep = np.nonzero(r > 0.35)[0][:8]
    pinhole = batch.depth_mm.numpy()[keep]
    raw = np.stack([raw_frame(d, INTR, BARREL) for d in pinhole])
    return pinhole, raw, batch.xyz.numpy()[keep]


@pytest.mark.slow
def test_undistorting_puts_off_axis_hands_back_where_they_are(off_axis_hands):
    # measured (mean / worst hand): 9.9 / 13.6 mm on the pinhole frames, 9.8 / 13.3 mm on the
    # raw frames undistorted, 14.3 / 25.8 mm on the raw frames taken as pinhole
    pinhole, raw, truth = off_axis_hands
    assert len(truth) == 8
    est = HandPoseEstimator.from_files(device='cpu', precision='fp32', handedness='right',
                                       detector='nearest', joint_order='icvl16')

    def errors(frames):
        found = est.estimate_batch(list(frames), INTR)
        return np.array([np.linalg.norm(f.pose.xyz - t, axis=-1).mean()
                         for f, t in zip(found, truth)])

    rectified = np.stack([rectify_depth(d, INTR, BARREL)[0] for d in raw])
    on_pinhole, undistorted, ignored = errors(pinhole), errors(rectified), errors(raw)
    for name, e in (('pinhole', on_pinhole), ('undistorted', undistorted), ('raw', ignored)):
        print(f'{name}: mean joint error {e.mean():.1f} mm, worst hand {e.max():.1f} mm')
    assert undistorted.mean() < on_pinhole.mean() + 2.0
    assert ignored.mean() > undistorted.mean() + 3.0
    assert ignored.max() > undistorted.max() + 8.0
