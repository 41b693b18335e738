"""Image/CameraInfo <-> numpy without spinning: encodings, byte order, padding, every
malformed input with its reason key, and the outgoing messages (metres, header, order)."""
import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from sensor_msgs.msg import CameraInfo, Image  # noqa: E402, I202
from std_msgs.msg import Header  # noqa: E402

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402

INTR = Intrinsics(100.0, 100.0, 15.5, 11.5, 32, 24)
HEADER = Header(frame_id='cam')


def frame(w=32, h=24) -> np.ndarray:
    """A depth ramp in mm."""
    return (np.arange(w * h, dtype=np.float32).reshape(h, w) % 900 + 300)


def image(data: bytes, w=32, h=24, encoding='16UC1', step=None, big=False) -> Image:
    return Image(header=HEADER, width=w, height=h, encoding=encoding, is_bigendian=int(big),
                 step=step if step is not None else w * 2, data=data)


def info(intr=INTR) -> CameraInfo:
    return conv.camera_info(intr, HEADER)


def test_16uc1_round_trip_in_mm():
    depth = frame()
    out = conv.depth_frame(conv.depth_image(depth, HEADER), info())
    np.testing.assert_array_equal(out.depth_mm, depth)
    assert out.depth_mm.dtype == np.float32 and out.intrinsics == INTR and out.stride == 1


def test_32fc1_metres_become_mm():
    depth = frame()
    msg = conv.depth_image(depth, HEADER, '32FC1')
    assert msg.step == 32 * 4
    np.testing.assert_allclose(conv.depth_frame(msg, info()).depth_mm, depth, rtol=1e-6)


@pytest.mark.parametrize('encoding', ['16UC1', 'mono16'])
def test_integer_counts_of_another_unit_become_mm(encoding):
    depth = frame()                                   # 300..1199 mm
    counts = (depth * 8).astype(np.uint16)            # an SR300's native 1/8 mm counts
    msg = image(counts.tobytes(), encoding=encoding)
    np.testing.assert_array_equal(conv.depth_frame(msg, info()).depth_mm, depth * 8)
    np.testing.assert_allclose(conv.depth_frame(msg, info(), depth_unit_mm=0.125).depth_mm,
                               depth, rtol=1e-6)


def test_depth_unit_leaves_32fc1_metres_alone():
    depth = frame()
    msg = conv.depth_image(depth, HEADER, '32FC1')
    np.testing.assert_allclose(conv.depth_frame(msg, info(), depth_unit_mm=0.125).depth_mm,
                               depth, rtol=1e-6)


@pytest.mark.parametrize('encoding,dtype', [('16UC1', '>u2'), ('32FC1', '>f4')])
def test_big_endian_is_converted(encoding, dtype):
    depth = frame()
    values = depth if encoding == '16UC1' else depth / 1e3
    msg = image(values.astype(dtype).tobytes(), encoding=encoding,
                step=32 * np.dtype(dtype).itemsize, big=True)
    out = conv.depth_frame(msg, info())
    assert out.big_endian
    np.testing.assert_allclose(out.depth_mm, depth, rtol=1e-6)


def test_padded_step_is_honoured():
    depth = frame().astype(np.uint16)
    padded = np.zeros((24, 40), np.uint16)
    padded[:, :32] = depth
    padded[:, 32:] = 7777          # padding must never leak into the frame
    msg = image(padded.tobytes(), step=80)
    np.testing.assert_array_equal(conv.depth_frame(msg, info()).depth_mm, depth)


@pytest.mark.parametrize('msg,reason', [
    (image(b'\0' * 32 * 24 * 3, encoding='rgb8', step=96), conv.UNSUPPORTED_ENCODING),
    (image(b'', w=0, h=24), conv.EMPTY_IMAGE),
    (image(b'', w=32, h=0), conv.EMPTY_IMAGE),
    (image(b'\1' * 32 * 24 * 2, step=32), conv.STEP_TOO_SMALL),
    (image(b'\1' * (32 * 24 * 2 - 1)), conv.DATA_TOO_SHORT),
    (image(b'\0' * 32 * 24 * 2), conv.ALL_ZERO_DEPTH),
])
def test_malformed_images_raise_with_reason(msg, reason):
    with pytest.raises(conv.ConversionError) as err:
        conv.depth_frame(msg, info())
    assert err.value.reason == reason
    assert str(err.value)


def test_camera_info_problems():
    good = conv.depth_image(frame(), HEADER)
    with pytest.raises(conv.ConversionError) as err:
        conv.depth_frame(good, None)
    assert err.value.reason == conv.NO_CAMERA_INFO and "'cam'" in str(err.value)
    zero_fx = info()
    zero_fx.k[0] = 0.0
    with pytest.raises(conv.ConversionError) as err:
        conv.depth_frame(good, zero_fx)
    assert err.value.reason == conv.INVALID_CAMERA_INFO and 'fx' in str(err.value)
    with pytest.raises(conv.ConversionError) as err:
        conv.depth_frame(good, info(Intrinsics(100.0, 100.0, 31.5, 23.5, 64, 48)))
    assert err.value.reason == conv.CAMERA_INFO_SIZE_MISMATCH
    assert '64x48' in str(err.value) and '32x24' in str(err.value)
    assert conv.intrinsics_from_camera_info(info()) == INTR


def test_nonfinite_32fc1_policy():
    depth_m = frame() / 1e3
    depth_m[0, :5] = np.nan
    depth_m[1, :3] = np.inf
    depth_m[2, :2] = -np.inf
    msg = image(depth_m.astype('<f4').tobytes(), encoding='32FC1', step=128)
    out = conv.depth_frame(msg, info())
    assert out.nonfinite == 10 and np.all(out.depth_mm[0, :5] == 0)
    assert np.isfinite(out.depth_mm).all()
    with pytest.raises(conv.ConversionError) as err:
        conv.depth_frame(msg, info(), reject_nonfinite=True)
    assert err.value.reason == conv.NONFINITE_DEPTH
    all_nan = image(np.full((24, 32), np.nan, '<f4').tobytes(), encoding='32FC1', step=128)
    with pytest.raises(conv.ConversionError) as err:
        conv.depth_frame(all_nan, info())
    assert err.value.reason == conv.NONFINITE_DEPTH


def test_large_frame_is_decimated_with_matching_intrinsics():
    big = Intrinsics(1500.0, 1500.0, 1919.5, 1079.5, 3840, 2160)
    assert conv.decimation_stride(3840, 2160, 1_500_000) == 3
    assert conv.decimation_stride(640, 480, 1_500_000) == 1
    depth = np.full((2160, 3840), 500, np.uint16)
    depth[1000:1100, 2000:2100] = 400
    out = conv.depth_frame(conv.depth_image(depth, HEADER), info(big), max_pixels=1_500_000)
    assert out.stride == 3 and out.depth_mm.shape == (720, 1280)
    assert (out.intrinsics.width, out.intrinsics.height) == (1280, 720)
    # a pixel keeps its 3D ray: the principal point and focal length scale consistently
    assert out.intrinsics.cx == pytest.approx((1919.5 - 1) / 3)
    assert out.intrinsics.fx == pytest.approx(500.0)
    u, v = 2050, 1051                     # a kept pixel (offset 1, stride 3) of the square
    assert out.depth_mm[(v - 1) // 3, (u - 1) // 3] == 400


def test_a_mirrored_image_is_flipped_back_before_decimation():
    """input_mirrored: column u of the message is column W-1-u of the sensor's image, also
    when the frame is decimated afterwards; the CameraInfo is the sensor's, unchanged."""
    depth = frame()
    msg = conv.depth_image(depth[:, ::-1], HEADER)
    out = conv.depth_frame(msg, info(), mirrored=True)
    np.testing.assert_array_equal(out.depth_mm, depth)
    assert out.intrinsics == INTR
    big = np.tile(frame(), (60, 60))                      # 1440 x 1920: decimated by 3
    wide = Intrinsics(1000.0, 1000.0, 959.5, 719.5, 1920, 1440)
    out = conv.depth_frame(conv.depth_image(big[:, ::-1], HEADER), info(wide), 1_500_000,
                           mirrored=True)
    plain = conv.depth_frame(conv.depth_image(big, HEADER), info(wide), 1_500_000)
    assert out.stride == 3
    np.testing.assert_array_equal(out.depth_mm, plain.depth_mm)


def test_outgoing_messages_are_metres_with_input_header():
    xyz = np.array([[10.0, -20.0, 400.0], [0.0, 5.0, 350.5]], np.float32)
    poses = conv.pose_array(xyz, HEADER)
    assert poses.header.frame_id == 'cam' and len(poses.poses) == 2
    assert poses.poses[0].position.z == pytest.approx(0.4)
    assert poses.poses[1].orientation.w == 1.0
    np.testing.assert_allclose(conv.xyz_mm_from_pose_array(poses), xyz, atol=1e-4)
    cloud = conv.point_cloud(xyz, np.array([0.5, 0.25]), HEADER)
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'confidence']
    assert cloud.width == 2 and cloud.point_step == 16
    arr = conv.cloud_to_array(cloud)
    np.testing.assert_allclose(arr[:, :3], xyz / 1e3, rtol=1e-6)
    np.testing.assert_allclose(arr[:, 3], [0.5, 0.25])
    bgr = conv.bgr_image(np.zeros((4, 5, 3), np.uint8), HEADER)
    assert (bgr.encoding, bgr.step, bgr.width, bgr.height) == ('bgr8', 15, 5, 4)


def test_depth_qos():
    from rclpy.qos import ReliabilityPolicy
    assert conv.depth_qos().reliability == ReliabilityPolicy.BEST_EFFORT
    assert conv.depth_qos(True).reliability == ReliabilityPolicy.RELIABLE
    assert conv.depth_qos(True).depth == conv.depth_qos().depth == 5


def distorted_info(intr=INTR, model='rational_polynomial',
                   d=(5.1, 3.1, 1e-4, -2e-4, 0.16, 5.4, 4.9, 0.86)) -> CameraInfo:
    msg = info(intr)
    msg.distortion_model, msg.d = model, list(d)
    return msg


def test_a_distorted_camera_is_rectified_with_k_or_taken_as_rectified_with_p():
    from hand_pose_ros.core.lens_distortion import DepthRectifier, rectify_depth
    intr = Intrinsics(20.0, 20.0, 15.5, 11.5, 32, 24)     # wide: corners at r = 1.0
    depth = frame()
    msg = distorted_info(intr)
    msg.p[0], msg.p[5] = 18.0, 18.0                       # the rectified image's matrix
    raw_img = conv.depth_image(depth, HEADER)
    out = conv.depth_frame(raw_img, msg, rectifier=DepthRectifier())
    expected, _ = rectify_depth(depth, intr, conv.lens_from_camera_info(msg))
    assert out.undistorted == 'rational_polynomial' and out.intrinsics == intr
    np.testing.assert_array_equal(out.depth_mm, expected)
    assert not np.array_equal(out.depth_mm, depth)        # the lens moved pixels
    # without a rectifier: taken as rectified, with P's matrix (as image_geometry reads it)
    kept = conv.depth_frame(raw_img, msg)
    np.testing.assert_array_equal(kept.depth_mm, depth)
    assert kept.undistorted == '' and (kept.intrinsics.fx, kept.intrinsics.fy) == (18.0, 18.0)
    # zero distortion: nothing to do either way, K as before
    plain = conv.depth_frame(raw_img, info(intr), rectifier=DepthRectifier())
    np.testing.assert_array_equal(plain.depth_mm, depth)
    assert plain.undistorted == '' and plain.intrinsics == intr


def test_rectified_and_decimated_in_one_pass():
    from hand_pose_ros.core.lens_distortion import DepthRectifier
    w, h = 2000, 1000
    intr = Intrinsics(1000.0, 1000.0, 999.5, 499.5, w, h)
    depth = frame(w, h)
    msg = distorted_info(intr)
    out = conv.depth_frame(conv.depth_image(depth, HEADER), msg, max_pixels=300_000,
                           rectifier=DepthRectifier())
    full = conv.depth_frame(conv.depth_image(depth, HEADER), msg, rectifier=DepthRectifier())
    s = out.stride
    kept = full.depth_mm[s // 2::s, s // 2::s]            # decimation keeps the centre pixel
    assert s == 3 and out.undistorted and out.depth_mm.shape == kept.shape == (333, 667)
    np.testing.assert_array_equal(out.depth_mm, kept)
    assert out.intrinsics.fx == pytest.approx(1000.0 / 3)


def test_unknown_distortion_is_refused_only_when_undistorting():
    from hand_pose_ros.core.lens_distortion import DepthRectifier
    msg = distorted_info(model='kannala_brandt', d=(0.1, 0.2))
    raw_img = conv.depth_image(frame(), HEADER)
    with pytest.raises(conv.ConversionError, match='never') as err:
        conv.depth_frame(raw_img, msg, rectifier=DepthRectifier())
    assert err.value.reason == conv.UNSUPPORTED_DISTORTION
    assert conv.depth_frame(raw_img, msg).undistorted == ''


@pytest.mark.parametrize('mode, topic, expected', [
    ('auto', '/k4a/depth/image_raw', True),
    ('auto', '/camera/camera/depth/image_rect_raw', False),   # RealSense: already rectified
    ('auto', '/camera/depth/image_rect', False),              # image_proc's output
    ('auto', '/rectangle/depth/image_raw/', True),            # only the last name counts
    ('always', '/camera/depth/image_rect', True),
    ('never', '/k4a/depth/image_raw', False),
])
def test_undistort_modes(mode, topic, expected):
    assert conv.undistorts(mode, topic) is expected


def test_undistort_mode_is_checked():
    with pytest.raises(ValueError, match='undistort must be one of'):
        conv.undistorts('yes', '/x')


def test_binning_and_region_of_interest_give_the_published_image_intrinsics():
    full = Intrinsics(100.0, 120.0, 31.5, 23.5, 64, 48)  # the calibrated sensor
    depth = frame()                                     # 32 x 24: what is published
    binned = info(full)
    binned.binning_x = binned.binning_y = 2
    out = conv.depth_frame(conv.depth_image(depth, HEADER), binned)
    assert out.intrinsics == Intrinsics(50.0, 60.0, 15.75, 11.75, 32, 24)
    np.testing.assert_array_equal(out.depth_mm, depth)
    # a 32 x 24 window at (16, 8) of the sensor, not binned: the principal point moves
    window = info(full)
    window.roi.x_offset, window.roi.y_offset, window.roi.width, window.roi.height = 16, 8, 32, 24
    out = conv.depth_frame(conv.depth_image(depth, HEADER), window)
    assert out.intrinsics == Intrinsics(100.0, 120.0, 15.5, 15.5, 32, 24)
    # the whole sensor's CameraInfo for the binned image, binning left out: refused
    with pytest.raises(conv.ConversionError, match='CameraInfo is for 64x48'):
        conv.depth_frame(conv.depth_image(depth, HEADER), info(full))
