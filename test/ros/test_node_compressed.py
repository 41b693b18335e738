"""hand_pose_node with input_transport compressedDepth, as a separate process over real DDS: it
listens on the remapped image topic + /compressedDepth (image_transport's naming), answers a
PNG compressedDepth frame as it answers the same raw frame, and counts a message that is not
compressedDepth by reason, then answers a good frame."""
import cv2
import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from sensor_msgs.msg import CompressedImage  # noqa: E402, I100, I202

from hand_pose_ros.core.depth_messages import COMPRESSED_DEPTH_HEADER  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from test.ros.harness import (FrameSender, header_of, stamp_ns,  # noqa: E402
                              tiny_node_parameters)
from test.ros.test_node_dds import hand, INTR, Session  # noqa: E402

TOPIC = '/cam/depth/image_rect_raw'


def compressed(depth_mm: np.ndarray, header, encoding: str = '16UC1',
               fmt: str = '{}; compressedDepth png'):
    """A compressedDepth CompressedImage of a depth frame (mm), as image_transport packs it."""
    ok, png = cv2.imencode('.png', np.round(depth_mm).astype(np.uint16))
    assert ok
    return CompressedImage(header=header, format=fmt.format(encoding),
                           data=COMPRESSED_DEPTH_HEADER.pack(0, 0.0, 0.0) + png.tobytes())


@pytest.fixture(scope='module')
def session(probe, start_node, tiny_model):
    params = {**tiny_node_parameters(tiny_model), 'input_transport': 'compressedDepth'}
    proc = start_node('hand_pose_ros.ros.node', params, 'hand_pose_node',
                      ['-r', f'depth/image:={TOPIC}'])
    return Session(probe, proc, FrameSender(probe, INTR, TOPIC + '/compressedDepth',
                                            CompressedImage, compressed))


def test_compressed_depth_frames_are_answered_like_raw_ones(session):
    header = session.sender.send(hand())
    assert session.answered(header), session.proc.output()
    joints = session.output_for(header)
    assert joints.header.frame_id == 'camera_depth_optical_frame' and len(joints.poses) == 16
    z_m = np.median(conv.xyz_mm_from_pose_array(joints)[:, 2]) / 1e3
    assert abs(z_m - 0.45) < 0.4
    assert f'listening on {TOPIC}/compressedDepth (sensor_msgs/CompressedImage)' in \
        session.proc.output()
    # a colour 'compressed' image on the topic is counted, and the next good frame answered
    bad = session.sender.send(None, image=compressed(hand(), session.probe.header(),
                                                     fmt='bgr8; jpeg compressed bgr8'))
    assert session.wait_counter('rejected.unsupported_encoding', 1), session.counters()
    assert not any(stamp_ns(header_of(m)) == stamp_ns(bad) for m in session.joints.messages)
    assert session.good_frame_answered()
