"""One frame through the node's pipeline, in-process: every bad input gives its reason and
the next good frame is processed; confidence gate, smoothing, handedness, 4K frames."""
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from builtin_interfaces.msg import Time  # noqa: E402, I100, I202
from std_msgs.msg import Header  # noqa: E402

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from hand_pose_ros.core.config import ModelConfig  # noqa: E402
from hand_pose_ros.core.estimator import HandPoseEstimator  # noqa: E402
from hand_pose_ros.core.nets.pose_net import build_pose_net  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from hand_pose_ros.ros.node_params import NodeParams  # noqa: E402
from hand_pose_ros.ros.pipeline import FramePipeline, no_hand_message, warm_up  # noqa: E402
from test.conftest import blob_frame  # noqa: E402

INTR = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
PARAMS = NodeParams(min_confidence=0.0, handedness='right', detector='nearest')


@pytest.fixture(scope='module')
def pipeline():
    threads = torch.get_num_threads()   # one thread: no OpenMP spinning on a busy 2-core box
    torch.manual_seed(0)
    config = ModelConfig(width=16, stacks=1, input_size=64, heatmap_size=32, hourglass_depth=3)
    est = HandPoseEstimator(build_pose_net(config), device='cpu', optimize='none', threads=1)
    yield FramePipeline(est, PARAMS)
    torch.set_num_threads(threads)


def header(t_s: float = 0.0, frame_id: str = 'cam') -> Header:
    return Header(stamp=Time(sec=int(t_s), nanosec=int((t_s % 1) * 1e9)), frame_id=frame_id)


def good(t_s: float = 0.0):
    h = header(t_s)
    return conv.depth_image(blob_frame(center=(170, 110), depth=450.0), h), \
        conv.camera_info(INTR, h)


def bad_cases():
    """(name, image, camera info, expected reason) for every malformed input."""
    image, info = good()
    depth = blob_frame(center=(170, 110), depth=450.0)
    zero_fx = conv.camera_info(INTR, header())
    zero_fx.k[0] = 0.0
    small_info = conv.camera_info(Intrinsics(241.42, 241.42, 80.0, 60.0, 160, 120), header())
    nan_m = np.full((240, 320), np.nan, '<f4')
    return [
        ('encoding', replace_msg(image, encoding='bgr8'), info, 'unsupported_encoding'),
        ('step', replace_msg(image, step=320), info, 'step_too_small'),
        ('short', replace_msg(image, data=bytes(image.data)[:-2]), info, 'data_too_short'),
        ('zero_w', replace_msg(image, width=0), info, 'empty_image'),
        ('zero_h', replace_msg(image, height=0), info, 'empty_image'),
        ('all_zero', conv.depth_image(np.zeros((240, 320)), header()), info, 'all_zero_depth'),
        ('all_nan', replace_msg(image, encoding='32FC1', step=1280, data=nan_m.tobytes()), info,
         'nonfinite_depth'),
        ('no_info', image, None, 'no_camera_info'),
        ('fx0', image, zero_fx, 'invalid_camera_info'),
        ('size', image, small_info, 'camera_info_size_mismatch'),
        ('far', conv.depth_image(np.where(depth > 0, 3000, 0), header()), info, 'no_hand'),
    ]


def replace_msg(msg, **changes):
    out = type(msg)(header=msg.header, height=msg.height, width=msg.width,
                    encoding=msg.encoding, is_bigendian=msg.is_bigendian, step=msg.step,
                    data=bytes(msg.data))
    for k, v in changes.items():
        setattr(out, k, v)
    return out


def test_every_bad_input_is_rejected_and_the_next_good_frame_is_processed(pipeline):
    for name, image, info, reason in bad_cases():
        result = pipeline.process(image, info)
        assert not result.ok and result.reason == reason, (name, result)
        assert result.message
        after = pipeline.process(*good())
        assert after.ok, (name, after.reason, after.message)
        assert after.xyz_mm.shape == (16, 3) and np.isfinite(after.xyz_mm).all()


def test_nonfinite_policy_and_big_endian(pipeline):
    depth_m = blob_frame(center=(170, 110), depth=450.0) / 1e3
    depth_m[depth_m == 0] = np.nan
    h = header()
    msg = conv.Image(header=h, height=240, width=320, encoding='32FC1', is_bigendian=1,
                     step=1280, data=depth_m.astype('>f4').tobytes())
    result = pipeline.process(msg, conv.camera_info(INTR, h))
    assert result.ok and {k for k, _ in result.notes} == {'big_endian', 'nonfinite_as_missing'}
    pipeline.configure(replace(PARAMS, reject_nonfinite=True))
    try:
        assert pipeline.process(msg, conv.camera_info(INTR, h)).reason == 'nonfinite_depth'
    finally:
        pipeline.configure(PARAMS)


def test_confidence_gate(pipeline):
    pipeline.configure(replace(PARAMS, min_confidence=1.0))
    try:
        result = pipeline.process(*good())
        assert result.reason == 'low_confidence' and 'below min_confidence' in result.message
    finally:
        pipeline.configure(PARAMS)


def test_depth_in_eighth_millimetres_is_named_then_read_with_depth_unit_mm(pipeline):
    counts = blob_frame(center=(170, 110), depth=450.0) * 8       # 1/8 mm counts: 3600
    h = header()
    msg, info = conv.depth_image(counts, h), conv.camera_info(INTR, h)
    result = pipeline.process(msg, info)
    assert result.reason == 'no_hand'
    assert 'depth unit' in result.message and 'depth_unit_mm=1 ' in result.message
    assert 'far_m=1.5' in result.message
    pipeline.configure(replace(PARAMS, depth_unit_mm=0.125))
    try:
        result = pipeline.process(msg, info)
    finally:
        pipeline.configure(PARAMS)
    assert result.ok and abs(result.pose.center[2] - 450) < 60    # at its true depth


def test_no_hand_message_without_a_reason():
    assert no_hand_message(None, '16UC1', PARAMS) == 'no hand found'
    assert no_hand_message('no hand detected', '16UC1', PARAMS) == 'no hand detected'


def test_32fc1_no_hand_message_names_no_integer_unit(pipeline):
    h = header()
    far = blob_frame(center=(170, 110), depth=450.0) * 8
    msg = conv.depth_image(far, h, '32FC1')
    result = pipeline.process(msg, conv.camera_info(INTR, h))
    assert result.reason == 'no_hand' and 'far_m=1.5' in result.message
    assert 'depth_unit_mm' not in result.message


def test_4k_frame_is_processed_downscaled(pipeline):
    big = Intrinsics(1500.0, 1500.0, 1919.5, 1079.5, 3840, 2160)
    depth = np.zeros((2160, 3840), np.float32)
    vv, uu = np.ogrid[:2160, :3840]
    depth[(uu - 2000) ** 2 + (vv - 1000) ** 2 < 150 ** 2] = 450
    h = header()
    result = pipeline.process(conv.depth_image(depth, h), conv.camera_info(big, h))
    assert result.ok and [k for k, _ in result.notes] == ['downscaled']
    assert abs(result.pose.center[2] - 450) < 60      # the hand is found at its true depth


def test_distorted_depth_is_undistorted_unless_its_topic_says_rectified(pipeline):
    from test.core.test_lens_distortion import BARREL, raw_frame
    vv, uu = np.ogrid[:240, :320]
    pinhole = np.where((uu - 60) ** 2 + (vv - 50) ** 2 < 22 ** 2, 450.0, 0.0).astype(np.float32)
    truth = np.array([(60 - INTR.cx) * 450 / INTR.fx, (50 - INTR.cy) * 450 / INTR.fy])
    raw = raw_frame(pinhole, INTR, BARREL)                # r = 0.5: the lens moves it 7 %
    h = header()
    info = conv.camera_info(INTR, h)
    info.distortion_model, info.d = BARREL.model, list(BARREL.coefficients)

    def run(topic, undistort='auto'):
        pipeline.image_topic = topic
        pipeline.configure(replace(PARAMS, undistort=undistort))   # no hand followed over
        result = pipeline.process(conv.depth_image(raw, h), info)
        assert result.ok
        return [k for k, _ in result.notes], np.linalg.norm(result.pose.center[:2] - truth)

    try:
        notes, undistorted = run('/k4a/depth/image_raw')
        assert notes == ['undistorted'] and undistorted < 6.0
        notes, taken_as_is = run('/k4a/depth/image_rect')
        assert notes == [] and taken_as_is > undistorted + 10.0      # measured 0.1 / 18.5 mm
        assert run('/k4a/depth/image_rect', 'always')[0] == ['undistorted']
        assert run('/k4a/depth/image_raw', 'never')[0] == []
    finally:
        pipeline.image_topic = ''
        pipeline.configure(PARAMS)


def lopsided_frame() -> np.ndarray:
    """A hand-sized disc with a 'thumb' bar to its right: not mirror-symmetric, so the crop of
    its mirror image differs from its own crop."""
    frame = blob_frame(center=(170, 110), depth=450.0)
    frame[100:108, 190:215] = 440.0
    return frame


def test_left_hand_output_is_the_mirror_image_of_the_right_hand_output(pipeline):
    """handedness='left' on the horizontally flipped frame (camera info mirrored to match)
    gives exactly the mirror image (x -> -x) of the joints handedness='right' gives on the
    original: one network, one side; the other hand is mirrored in and out."""
    frame = lopsided_frame()
    h = header()
    right = pipeline.process(conv.depth_image(frame, h), conv.camera_info(INTR, h))
    flipped = np.ascontiguousarray(frame[:, ::-1])
    left_info = conv.camera_info(INTR.mirrored(), h)
    pipeline.configure(replace(PARAMS, handedness='left'))
    try:
        left = pipeline.process(conv.depth_image(flipped, h), left_info)
    finally:
        pipeline.configure(PARAMS)
    assert right.ok and left.ok
    mirror = np.array([-1.0, 1.0, 1.0], np.float32)
    np.testing.assert_allclose(left.xyz_mm, right.xyz_mm * mirror, atol=0.5)
    # the same flipped frame taken for a right hand is not mirrored: the joints differ by far
    # more than that tolerance (the random network is not mirror-symmetric)
    as_right = pipeline.process(conv.depth_image(flipped, h), left_info)
    assert np.abs(as_right.xyz_mm - right.xyz_mm * mirror).max() > 5.0


def test_smoothing_follows_stamps(pipeline):
    pipeline.configure(replace(PARAMS, smoothing=True, smoothing_min_cutoff=0.01))
    try:
        first = pipeline.process(*good(10.0)).xyz_mm
        moved = blob_frame(center=(200, 130), depth=500.0)
        h = header(10.05)
        raw = pipeline.process(conv.depth_image(moved, h), conv.camera_info(INTR, h))
        # heavy smoothing keeps the output near the first pose, not the new raw estimate
        assert np.abs(raw.xyz_mm - first).max() < np.abs(raw.pose.xyz - first).max()
    finally:
        pipeline.configure(PARAMS)


def test_side_memory_follows_the_parameters(pipeline):
    """A memory only under 'auto' with a positive half-life; a new one at each change."""
    try:
        pipeline.configure(replace(PARAMS, handedness='auto', handedness_memory_frames=5.0))
        memory = pipeline._memory
        assert memory is not None and memory.decay == pytest.approx(0.5 ** 0.2)
        assert pipeline.process(*good(1.0)).ok and len(memory.tracks) == 1
        assert memory.tracks[0].last_s == pytest.approx(1.0)
        assert pipeline.process(*good(1.05)).ok and len(memory.tracks) == 1   # the same hand
        pipeline.configure(replace(PARAMS, handedness='auto', handedness_memory_frames=0.0))
        assert pipeline._memory is None and pipeline.process(*good(1.1)).ok
        pipeline.configure(replace(PARAMS, handedness='left', handedness_memory_frames=5.0))
        assert pipeline._memory is None
    finally:
        pipeline.configure(PARAMS)


def test_warm_up_runs_the_whole_estimator(pipeline):
    assert warm_up(pipeline.estimator, runs=1) > 0
