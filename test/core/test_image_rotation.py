"""A camera mounted rolled about its optical axis: images turned upright by quarter turns, and
the estimator's hands turned back into the camera's own frame and pixels."""
import numpy as np
import pytest

from hand_pose_ros.core.camera import Intrinsics, uvd_to_xyz, xyz_to_uvd
from hand_pose_ros.core.image_rotation import (quarter_turns, ROTATIONS_DEG, turned_depth,
                                               turned_intrinsics, turned_uv, turned_xyz,
                                               uv_turned_back, xyz_turned_back)

INTR = Intrinsics(500.0, 480.0, 300.3, 250.7, 64, 48)


@pytest.mark.parametrize('rotation_deg', ROTATIONS_DEG)
def test_turned_intrinsics_project_turned_points_onto_turned_pixels(rotation_deg):
    rng = np.random.default_rng(rotation_deg)
    xyz = np.c_[rng.uniform(-200, 200, (20, 2)), rng.uniform(300, 900, 20)]
    uvd = xyz_to_uvd(xyz, INTR)
    turned = turned_intrinsics(INTR, rotation_deg)
    expected = turned_uv(uvd, INTR, rotation_deg)
    np.testing.assert_allclose(xyz_to_uvd(turned_xyz(xyz, rotation_deg), turned), expected,
                               atol=1e-9)
    np.testing.assert_allclose(uv_turned_back(expected, INTR, rotation_deg), uvd, atol=1e-9)
    np.testing.assert_allclose(uvd_to_xyz(expected, turned), turned_xyz(xyz, rotation_deg),
                               atol=1e-9)
    assert expected[:, 2].tolist() == uvd[:, 2].tolist()          # depth is kept
    np.testing.assert_allclose(xyz_turned_back(turned_xyz(xyz, rotation_deg), rotation_deg),
                               xyz, atol=1e-9)


@pytest.mark.parametrize('rotation_deg', ROTATIONS_DEG)
def test_a_pixel_of_the_turned_image_is_where_turned_uv_says(rotation_deg):
    image = np.zeros((INTR.height, INTR.width), np.uint16)
    image[10, 37] = 900                                           # (u, v) = (37, 10)
    turned = turned_depth(image, rotation_deg)
    intr = turned_intrinsics(INTR, rotation_deg)
    assert turned.shape == (intr.height, intr.width) and turned.flags['C_CONTIGUOUS']
    [[v, u]] = np.argwhere(turned)
    np.testing.assert_array_equal(turned_uv(np.array([[37.0, 10.0]]), INTR, rotation_deg),
                                  [[u, v]])
    clockwise = {0: (37, 10), 90: (INTR.height - 1 - 10, 37),
                 180: (INTR.width - 1 - 37, INTR.height - 1 - 10), 270: (10, INTR.width - 1 - 37)}
    assert (u, v) == clockwise[rotation_deg]


def test_four_quarter_turns_are_none():
    image = np.arange(INTR.width * INTR.height).reshape(INTR.height, INTR.width)
    once = turned_depth(image, 90)
    np.testing.assert_array_equal(turned_depth(turned_depth(once, 180), 90), image)
    assert turned_intrinsics(turned_intrinsics(INTR, 270), 90) == INTR


@pytest.mark.parametrize('angle', [45, -90, 360, 1])
def test_other_angles_are_refused(angle):
    with pytest.raises(ValueError, match='0, 90, 180, 270'):
        quarter_turns(angle)


@pytest.fixture(scope='module')
def shipped():
    from hand_pose_ros.core.estimator import HandPoseEstimator
    from hand_pose_ros.core.resources import resolve_detector_file
    if resolve_detector_file('default', 'default') is None:
        pytest.skip('no hand detector shipped in models/models.yaml')
    return HandPoseEstimator.from_files()


@pytest.fixture(scope='module')
def users():
    """Rendered users facing the camera (never a test seed), as an upright camera sees them."""
    from hand_pose_ros.synthetic.user_scene import UserSceneGenerator
    batch = UserSceneGenerator(seed=23, full_resolution=True).sample(
        3, scene='third_person', camera='realsense_d435_640x480', min_hands=2)
    return list(batch.depth_mm.numpy()), batch.intrinsics


@pytest.mark.parametrize('rolled_deg', [90, 180, 270])
def test_a_rolled_camera_with_its_rotation_gives_the_upright_camera_s_hands(
        shipped, users, rolled_deg):
    """A camera rolled so that its images are the upright ones turned by ``rolled_deg``: with
    rotation_deg turning them back, every hand is the upright camera's, side for side, with
    its joints in the rolled camera's own frame and pixels."""
    frames, intr = users
    upright = shipped.estimate_batch(frames, intr)
    assert sum(len(e.hands) for e in upright) >= 4
    rolled_intr = turned_intrinsics(intr, rolled_deg)
    rolled = [turned_depth(f, rolled_deg) for f in frames]
    shipped.configure(rotation_deg=(360 - rolled_deg) % 360)
    try:
        turned = shipped.estimate_batch(rolled, rolled_intr)
    finally:
        shipped.configure(rotation_deg=0)
    for up, seen in zip(upright, turned):
        assert [h.handedness for h in seen.hands] == [h.handedness for h in up.hands]
        assert seen.pose is seen.hands[0]
        for a, b in zip(up.hands, seen.hands):
            np.testing.assert_allclose(b.xyz, turned_xyz(a.xyz, rolled_deg), atol=1e-3)
            np.testing.assert_allclose(b.center, turned_xyz(a.center, rolled_deg),
                                       atol=1e-3)
            np.testing.assert_allclose(b.uvd, turned_uv(a.uvd, intr, rolled_deg), atol=1e-3)
            np.testing.assert_allclose(xyz_to_uvd(b.xyz.astype(np.float64), rolled_intr),
                                       b.uvd, atol=0.05)
