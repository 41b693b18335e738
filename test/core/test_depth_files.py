"""Depth frames and camera_info YAML files read as a camera's saved frames are: units, packings,
the two YAML forms, lens distortion, and a clear error for every file that is not one."""
import cv2
import numpy as np
import pytest
import yaml

from hand_pose_ros.core.camera import Intrinsics
from hand_pose_ros.core.depth_files import (camera_calibration, CameraCalibration,
                                            DepthFileError, read_camera_info_yaml,
                                            read_depth_file)
from hand_pose_ros.core.lens_distortion import DepthRectifier, lens_distortion, rectify_depth

INTR = Intrinsics(200.0, 210.0, 31.5, 23.5, 64, 48)
D = [0.12, -0.05, 0.001, -0.002, 0.01]


def ramp() -> np.ndarray:
    """A (48, 64) depth ramp in mm with a missing corner."""
    depth = (np.arange(48 * 64, dtype=np.float32).reshape(48, 64) % 700 + 300)
    depth[:5, :5] = 0
    return depth


def test_16bit_png_in_mm_and_in_eighth_millimetres(tmp_path):
    depth = ramp()
    cv2.imwrite(str(tmp_path / 'mm.png'), depth.astype(np.uint16))
    np.testing.assert_array_equal(read_depth_file(tmp_path / 'mm.png'), depth)
    cv2.imwrite(str(tmp_path / 'eighths.png'), (depth * 8).astype(np.uint16))
    out = read_depth_file(tmp_path / 'eighths.png', depth_unit_mm=0.125)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, depth, rtol=1e-6)


def test_npy_in_metres_with_nan_as_missing(tmp_path):
    metres = ramp() / 1000.0
    metres[metres == 0] = np.nan
    np.save(tmp_path / 'm.npy', metres.astype(np.float32))
    out = read_depth_file(tmp_path / 'm.npy', depth_unit_mm=1000.0)
    np.testing.assert_allclose(out, ramp(), rtol=1e-5)
    assert (out[:5, :5] == 0).all()


def test_nyu_rgb_packing_and_the_hint_without_it(tmp_path):
    depth = (ramp() * 2).astype(np.uint16)                     # up to 2 m: both bytes used
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[..., 0], bgr[..., 1] = depth & 0xFF, depth >> 8
    cv2.imwrite(str(tmp_path / 'nyu.png'), bgr)
    np.testing.assert_array_equal(read_depth_file(tmp_path / 'nyu.png', packing='nyu'), depth)
    with pytest.raises(DepthFileError, match='packing nyu'):
        read_depth_file(tmp_path / 'nyu.png')


@pytest.mark.parametrize('content,match', [
    (np.full((8, 8), 100, np.uint8), '8-bit'),
    (np.full((8, 8), -5.0, np.float32), 'negative'),
    (np.zeros((2, 8, 8), np.uint16), 'one channel'),
])
def test_what_is_not_a_depth_frame_is_refused_saying_why(tmp_path, content, match):
    np.save(tmp_path / 'x.npy', content)
    with pytest.raises(DepthFileError, match=match):
        read_depth_file(tmp_path / 'x.npy')


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DepthFileError, match='no such file'):
        read_depth_file(tmp_path / 'none.png')
    (tmp_path / 'text.png').write_text('not an image')
    with pytest.raises(DepthFileError, match='not an image'):
        read_depth_file(tmp_path / 'text.png')
    with pytest.raises(ValueError, match='depth_unit_mm'):
        read_depth_file(tmp_path / 'text.png', depth_unit_mm=0.0)


def calibration_file(d=D, p=None, intr=INTR) -> dict:
    """camera_info_manager's calibration file of ``intr``."""
    k = [intr.fx, 0, intr.cx, 0, intr.fy, intr.cy, 0, 0, 1]
    p = p or [intr.fx, 0, intr.cx, 0, 0, intr.fy, intr.cy, 0, 0, 0, 1, 0]
    return {'image_width': intr.width, 'image_height': intr.height, 'camera_name': 'depth',
            'camera_matrix': {'rows': 3, 'cols': 3, 'data': k},
            'distortion_model': 'plumb_bob',
            'distortion_coefficients': {'rows': 1, 'cols': len(d), 'data': list(d)},
            'projection_matrix': {'rows': 3, 'cols': 4, 'data': p}}


def test_calibration_file_form(tmp_path):
    path = tmp_path / 'depth.yaml'
    path.write_text(yaml.safe_dump(calibration_file()))
    cal = read_camera_info_yaml(path)
    assert cal.intrinsics == INTR and cal.distorted and cal.coefficients == tuple(D)
    assert not CameraCalibration(INTR).distorted


def test_topic_echo_form_with_binning_and_region_of_interest(tmp_path):
    # a 2x-binned 32x20 window at (8, 4) of a 64x48 sensor, as `ros2 topic echo` prints it
    msg = {'header': {'stamp': {'sec': 1, 'nanosec': 2}, 'frame_id': 'depth'},
           'height': INTR.height, 'width': INTR.width, 'distortion_model': 'plumb_bob',
           'd': [0.0] * 5, 'k': [INTR.fx, 0, INTR.cx, 0, INTR.fy, INTR.cy, 0, 0, 1],
           'r': [1, 0, 0, 0, 1, 0, 0, 0, 1],
           'p': [INTR.fx, 0, INTR.cx, 0, 0, INTR.fy, INTR.cy, 0, 0, 0, 1, 0],
           'binning_x': 2, 'binning_y': 2,
           'roi': {'x_offset': 8, 'y_offset': 4, 'height': 20, 'width': 32,
                   'do_rectify': False}}
    path = tmp_path / 'info.yaml'
    path.write_text(yaml.safe_dump(msg) + '---\n')           # echo ends each message so
    cal = read_camera_info_yaml(path)
    assert cal.intrinsics == Intrinsics(100.0, 105.0, 11.75, 9.75, 16, 10)
    assert not cal.distorted


def test_a_distorted_frame_is_undistorted_with_k_or_taken_as_rectified_with_p():
    wide = Intrinsics(40.0, 40.0, 31.5, 23.5, 64, 48)        # the corners 0.95 focal off axis
    p = [38.0, 0, 30.0, 0, 0, 39.0, 22.0, 0, 0, 0, 1, 0]
    cal = camera_calibration(calibration_file(p=p, intr=wide))
    depth = ramp()
    out, intr = cal.pinhole(depth)
    expected, _ = rectify_depth(depth, wide, lens_distortion('plumb_bob', D))
    np.testing.assert_array_equal(out, expected)
    assert intr == wide and (out != depth).mean() > 0.1      # the frame was resampled
    rectifier = DepthRectifier()                              # kept across frames
    np.testing.assert_array_equal(cal.pinhole(depth, True, rectifier)[0], expected)
    built = rectifier.map_for(wide, lens_distortion('plumb_bob', D))
    np.testing.assert_array_equal(cal.pinhole(depth, True, rectifier)[0], expected)
    assert rectifier.map_for(wide, lens_distortion('plumb_bob', D)) is built   # not rebuilt
    same, rect = cal.pinhole(depth, undistort=False)
    assert same is depth and rect == Intrinsics(38.0, 39.0, 30.0, 22.0, 64, 48)


def test_calibration_problems_say_what_is_wrong(tmp_path):
    with pytest.raises(DepthFileError, match='camera_matrix'):
        camera_calibration({'width': 64})
    bad = calibration_file()
    bad['camera_matrix']['data'] = [1.0, 2.0]
    with pytest.raises(DepthFileError, match='9 numbers'):
        camera_calibration(bad)
    for broken in ({'data': None}, 5, 'abc'):
        bad = calibration_file()
        bad['distortion_coefficients'] = broken
        with pytest.raises(DepthFileError, match='distortion_coefficients'):
            camera_calibration(bad)
    bad = calibration_file()
    bad['roi'], bad['k'] = 'nonsense', bad.pop('camera_matrix')['data']
    with pytest.raises(DepthFileError, match='invalid camera calibration'):
        camera_calibration(bad)
    odd = calibration_file()
    odd['distortion_model'] = 'kannala_brandt_fancy'
    cal = camera_calibration(odd)                  # read; refused only when undistorting
    assert cal.pinhole(ramp(), undistort=False)[1] == INTR
    with pytest.raises(DepthFileError, match='cannot undistort'):
        cal.pinhole(ramp())
    with pytest.raises(DepthFileError, match='for 64x48 images, the frame is 32x48'):
        cal.pinhole(ramp()[:, :32], undistort=False)
    (tmp_path / 'list.yaml').write_text('- 1\n- 2\n')
    with pytest.raises(DepthFileError, match='not a camera_info'):
        read_camera_info_yaml(tmp_path / 'list.yaml')
