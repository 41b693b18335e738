"""hand_pose_node with its default settings on the one real Kinect frame of a right hand
(../shared/reference/real-depth/), as a separate process over real DDS: what a user with a
Kinect sees first. The hand must come out on ~/right/joints with its thumb on the thumb,
nothing on ~/left/joints, stamped with the frame's header.

Guards the node path as a whole (Image conversion, CameraInfo pairing, detector, handedness
auto, joint order, topics): the estimator and the command are tested on the same frame in
test/core/test_shipped_model_chirality.py and test/test_estimate_cli.py. The same frame
mirrored upstream, with ``input_mirrored``, and seen by the camera upside down, with
``input_rotation_deg``, must give the same hand.
"""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = [pytest.mark.ros, pytest.mark.slow]

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202

from hand_pose_ros.core.camera import uvd_to_xyz, xyz_to_uvd  # noqa: E402
from hand_pose_ros.core.image_rotation import (turned_depth, turned_intrinsics,  # noqa: E402
                                               xyz_turned_back)
from hand_pose_ros.core.skeleton import get_joint_set  # noqa: E402
from hand_pose_ros.core.specs import dataset_spec  # noqa: E402
from hand_pose_ros.ros.node_params import DEFAULTS  # noqa: E402
from hand_pose_ros.training.datasets.nyu import read_nyu_depth  # noqa: E402
from hand_pose_ros.training.reference import reference_candidates  # noqa: E402
from test.ros.harness import (FRAME_ID, FrameSender, set_node_parameters,  # noqa: E402
                              stamp_ns)

REAL = 'nyu_test_depth_1_0000001.png'
NODE = '/hand_pose_node'
INTR = dataset_spec('nyu').intrinsics          # the Kinect v1 of the NYU hand dataset
# NYU14 ground truth rows: little tip 0, index tip 6, thumb tip 8, palm 13
TRUTH_ROWS = {'little_tip': 0, 'index_tip': 6, 'thumb_tip': 8}


@pytest.fixture(scope='module')
def real_frame():
    folder = next((base.parent / 'real-depth' for base in reference_candidates()
                   if (base.parent / 'real-depth' / REAL).is_file()), None)
    if folder is None:
        pytest.skip('../shared/reference/real-depth is absent (or set HAND_POSE_REFERENCE_DIR)')
    depth = read_nyu_depth(Path(folder) / REAL, INTR)          # mm, saturated background 2001
    truth = uvd_to_xyz(np.loadtxt(Path(folder) / 'nyu_test_0001_gt_uvd.txt').reshape(14, 3),
                       INTR)
    return depth, truth


@pytest.fixture(scope='module')
def default_node(probe, start_node):
    # nothing but what the test traffic needs: every other parameter at its default
    return start_node('hand_pose_ros.ros.node', {'reliable_input': True}, 'hand_pose_real')


def _published_right_hand(probe, node, depth, truth, intr=INTR, rolled_deg=0,
                          frame_id=FRAME_ID) -> np.ndarray:
    """Send ``depth`` (a camera ``frame_id`` of ``intr``, rolled by ``rolled_deg`` from the
    Kinect's upright view) to the node, check the right hand it publishes against ``truth`` and
    return its joints (mm) in the Kinect's frame."""
    sender = FrameSender(probe, intr, frame_id=frame_id)
    right = probe.subscribe(PoseArray, f'{NODE}/right/joints')
    left = probe.subscribe(PoseArray, f'{NODE}/left/joints')
    assert sender.wait_ready(), node.output()
    sender.prime(right, depth)
    header = sender.send(depth)
    key = stamp_ns(header)
    assert right.wait_for(lambda msgs: any(stamp_ns(m.header) == key for m in msgs)), \
        node.output()
    msg = next(m for m in right.messages if stamp_ns(m.header) == key)
    assert msg.header.frame_id == header.frame_id and len(msg.poses) == 21   # MediaPipe-21
    xyz = np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses]) * 1e3
    xyz = xyz_turned_back(xyz, rolled_deg)          # the rolled camera's frame -> the Kinect's
    names = list(get_joint_set('mediapipe21').joint_names)
    u = xyz_to_uvd(xyz, INTR)[:, 0]
    assert u[names.index('thumb_tip')] > u[names.index('little_tip')], \
        'thumb left of the little finger: the hand came out mirrored'
    errors = {n: float(np.linalg.norm(xyz[names.index(n)] - truth[row]))
              for n, row in TRUTH_ROWS.items()}
    assert errors['thumb_tip'] < 20.0 and max(errors.values()) < 40.0, errors
    # a right hand alone: never a hand with joints on the left topic
    assert not any(m.poses for m in left.messages), 'a hand published on ~/left/joints'
    return xyz


def test_the_real_right_hand_reaches_the_right_topic_with_its_thumb_on_the_thumb(
        probe, default_node, real_frame):
    """Fails when the hand comes out mirrored (thumb where the little finger is), on the left
    topic, or not at all."""
    depth, truth = real_frame
    _published_right_hand(probe, default_node, depth, truth)


def test_a_mirrored_stream_with_input_mirrored_gives_the_true_hand(
        probe, default_node, real_frame):
    """The same frame mirrored left-right upstream (a selfie-style setting): with
    input_mirrored set at run time the node flips it back and publishes the true right hand
    at its true place in the camera frame."""
    depth, truth = real_frame
    [result] = set_node_parameters(probe, NODE, {'input_mirrored': True})
    assert result.successful, result.reason
    try:
        _published_right_hand(probe, default_node, np.ascontiguousarray(depth[:, ::-1]), truth)
    finally:
        set_node_parameters(probe, NODE, {'input_mirrored': False})


def test_an_upside_down_camera_with_input_rotation_gives_the_true_hand(
        probe, default_node, real_frame):
    """The same view from the Kinect mounted upside down (the frame turned 180 degrees, with
    the CameraInfo such a camera publishes): with input_rotation_deg 180 the node turns each
    image upright and publishes the right hand in the upside-down camera's own frame."""
    depth, truth = real_frame
    # each frame alone (the detector on every frame): a hand followed from the priming frame
    # starts its crop elsewhere, which would make the two answers differ by timing alone
    [alone] = set_node_parameters(probe, NODE, {'redetect_every': 1})
    assert alone.successful, alone.reason
    try:
        upright = _published_right_hand(probe, default_node, depth, truth)
        [result] = set_node_parameters(probe, NODE, {'input_rotation_deg': 180})
        assert result.successful, result.reason
        # another frame_id, as another camera: the node pairs an image with the CameraInfo of
        # its own frame_id, so a rolled image can never take the upright camera's intrinsics
        rolled = _published_right_hand(probe, default_node, turned_depth(depth, 180), truth,
                                       turned_intrinsics(INTR, 180), rolled_deg=180,
                                       frame_id='upside_down_depth_optical_frame')
        # turned upright, the frame is the Kinect's own, pixel for pixel: the same hand
        np.testing.assert_allclose(rolled, upright, atol=0.05)
    finally:
        set_node_parameters(probe, NODE, {'input_rotation_deg': 0,
                                          'redetect_every': DEFAULTS.redetect_every})
