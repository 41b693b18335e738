"""The wrist messages without spinning: PoseStamped and TransformStamped built from wrist_frame
(metres, input header, the TF convention child -> parent), ``frame_messages`` publishing
``~/<side>/wrist`` only for joint sets with a wrist, and the /tf message (tf2_msgs stood in for
where it is not installed)."""
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from builtin_interfaces.msg import Time  # noqa: E402, I100, I202
from scipy.spatial.transform import Rotation  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from hand_pose_ros.core.estimator import HandPose  # noqa: E402
from hand_pose_ros.core.handedness import mirror_xyz  # noqa: E402
from hand_pose_ros.core.skeleton import FROM_HAND22, ICVL16, MEDIAPIPE21  # noqa: E402
from hand_pose_ros.core.wrist import wrist_frame  # noqa: E402
from hand_pose_ros.ros import wrist_outputs  # noqa: E402
from hand_pose_ros.ros.outputs import frame_messages, TOPICS  # noqa: E402
from hand_pose_ros.ros.pipeline import HandOutput  # noqa: E402
from hand_pose_ros.ros.wrist_outputs import (tf_message, TF_TOPIC,  # noqa: E402
                                             wrist_child_frame, wrist_pose_stamped,
                                             wrist_status, wrist_transform)
from test.core.test_wrist import (FACING, finger_sweep,  # noqa: E402
                                  right_hand_facing_camera, synthetic_hands)

HEADER = Header(stamp=Time(sec=12, nanosec=345), frame_id='camera_depth_optical_frame')


def synthetic_hands_mp(left: bool) -> np.ndarray:
    """The half-closed synthetic hand of one side, palm to the camera, as MediaPipe-21 joints
    (mm, float32)."""
    hand22 = synthetic_hands(finger_sweep(3), FACING, left)[1]
    return hand22[list(FROM_HAND22['mediapipe21'])].astype(np.float32)


def right_mediapipe() -> np.ndarray:
    """The synthetic right hand's MediaPipe-21 joints (mm)."""
    return synthetic_hands_mp(False)


def output(xyz_mm: np.ndarray, side: str, joint_set=MEDIAPIPE21) -> HandOutput:
    """A HandOutput of hand-made joints."""
    n = len(xyz_mm)
    pose = HandPose(xyz=xyz_mm, uvd=xyz_mm.copy(), confidence=np.full(n, 0.9, np.float32),
                    center=xyz_mm.mean(0), joint_set=joint_set, timings={'total': 1.0},
                    patch=np.zeros((8, 8), np.float32), patch_uv=np.zeros((n, 2), np.float32),
                    handedness=side)
    return HandOutput(pose, xyz_mm)


def test_pose_stamped_of_a_hand_of_known_pose():
    """Catches millimetres published as metres, a lost header, and a quaternion of another
    convention (w first, or the inverse rotation)."""
    msg = wrist_pose_stamped(right_hand_facing_camera(), MEDIAPIPE21, 'right', HEADER)
    assert msg.header == HEADER
    p, q = msg.pose.position, msg.pose.orientation
    np.testing.assert_allclose([p.x, p.y, p.z], [0.0, 0.0, 0.5])
    np.testing.assert_allclose([q.x, q.y, q.z, q.w], [0.5 ** 0.5, -0.5 ** 0.5, 0, 0], atol=1e-12)


@pytest.mark.parametrize('side', ['right', 'left'])
def test_transform_maps_wrist_frame_points_into_the_camera_frame(side):
    """Catches the inverse transform (parent -> child) or a wrong child/parent: a point 0.1 m
    along the wrist's x axis lands 0.1 m from the wrist towards the middle MCP (TF convention:
    p_parent = R p_child + t), and 0.03 m along z lands on the palm side."""
    xyz = synthetic_hands_mp(side == 'left')
    tf = wrist_transform(wrist_pose_stamped(xyz, MEDIAPIPE21, side, HEADER), side)
    assert tf.header == HEADER
    assert tf.child_frame_id == f'camera_depth_optical_frame_{side}_wrist'
    t, r = tf.transform.translation, tf.transform.rotation
    rot = Rotation.from_quat([r.x, r.y, r.z, r.w])
    wrist_m = xyz[MEDIAPIPE21.index('wrist')] / 1e3
    np.testing.assert_allclose([t.x, t.y, t.z], wrist_m, atol=1e-9)
    to_middle = xyz[MEDIAPIPE21.index('middle_mcp')] / 1e3 - wrist_m
    np.testing.assert_allclose(rot.apply([0.1, 0.0, 0.0]) + [t.x, t.y, t.z],
                               wrist_m + 0.1 * to_middle / np.linalg.norm(to_middle), atol=1e-6)
    # palm to the camera: out of the palm is towards the camera (-z in the optical frame)
    assert rot.apply([0.0, 0.0, 0.03])[2] < -0.025
    np.testing.assert_allclose(rot.as_matrix(), wrist_frame(xyz, MEDIAPIPE21, side)[1],
                               atol=1e-6)


def by_topic(messages) -> dict:
    topics = [t for t, _ in messages]
    assert len(topics) == len(set(topics)) and set(topics) <= set(TOPICS) | {TF_TOPIC}, topics
    return dict(messages)


def test_both_hands_get_their_wrist_at_their_joint_zero():
    """Catches a wrist missing for one side, the sides swapped, or a position other than the
    published wrist joint (joint 0 of the side's PoseArray, same metres)."""
    right = right_mediapipe() + np.float32([80, 0, 0])
    left = mirror_xyz(right_mediapipe()) - np.float32([80, 0, 0])
    msgs = by_topic(frame_messages([output(left, 'left'), output(right, 'right')], frozenset(),
                                   MEDIAPIPE21, HEADER))
    assert {'right/wrist', 'left/wrist', 'right/joints', 'left/joints'} <= set(msgs)
    assert TF_TOPIC not in msgs                            # not asked for
    for side in ('right', 'left'):
        wrist, joints = msgs[f'{side}/wrist'], msgs[f'{side}/joints']
        assert wrist.header == HEADER
        p, q = wrist.pose.position, wrist.pose.orientation
        j0 = joints.poses[0].position
        np.testing.assert_allclose([p.x, p.y, p.z], [j0.x, j0.y, j0.z], atol=1e-12)
        assert np.linalg.norm([q.x, q.y, q.z, q.w]) == pytest.approx(1.0)
    assert msgs['right/wrist'].pose.position.x > 0 > msgs['left/wrist'].pose.position.x


def test_no_wrist_without_a_wrist_joint_a_lost_hand_or_a_sound_palm():
    """Catches a wrist made up from ICVL16's palm, a stale wrist for a lost hand, and a crash
    (or NaN quaternion) on collapsed joints: the joints are still published."""
    icvl = right_mediapipe()[:16]
    msgs = by_topic(frame_messages([output(icvl, 'right', ICVL16)], frozenset(), ICVL16,
                                   HEADER, tf=True))
    assert 'right/wrist' not in msgs and TF_TOPIC not in msgs and 'right/joints' in msgs
    lost = by_topic(frame_messages([], frozenset({'right'}), MEDIAPIPE21, HEADER, tf=True))
    assert 'right/joints' in lost and 'right/wrist' not in lost and TF_TOPIC not in lost
    collapsed = np.full((21, 3), 400.0, np.float32)
    msgs = by_topic(frame_messages([output(collapsed, 'right')], frozenset(), MEDIAPIPE21,
                                   HEADER))
    assert 'right/wrist' not in msgs and len(msgs['right/joints'].poses) == 21


def test_tf_message_of_both_wrists(monkeypatch):
    """Catches /tf sent when not asked, transforms of the wrong side, or a TF frame with an
    empty parent; tf2_msgs stood in for by a plain class where it is not installed."""
    monkeypatch.setattr(wrist_outputs, 'TFMessage',
                        lambda transforms: SimpleNamespace(transforms=transforms))
    right, left = right_mediapipe(), mirror_xyz(right_mediapipe())
    hands = [output(right, 'right'), output(left, 'left')]
    msgs = by_topic(frame_messages(hands, frozenset(), MEDIAPIPE21, HEADER, tf=True))
    transforms = msgs[TF_TOPIC].transforms
    assert [t.child_frame_id for t in transforms] == [
        wrist_child_frame('camera_depth_optical_frame', s) for s in ('right', 'left')]
    for t, side in zip(transforms, ('right', 'left')):
        pose = msgs[f'{side}/wrist'].pose
        assert t.header == HEADER
        assert (t.transform.translation.x, t.transform.rotation) == (pose.position.x,
                                                                     pose.orientation)
    no_parent = Header(stamp=HEADER.stamp, frame_id='')
    msgs = by_topic(frame_messages(hands, frozenset(), MEDIAPIPE21, no_parent, tf=True))
    assert TF_TOPIC not in msgs and 'right/wrist' in msgs


def test_without_tf2_msgs_there_is_no_tf_message(monkeypatch):
    """Catches a TFMessage built from a missing module (a crash on the PyPI ROS wheels)."""
    monkeypatch.setattr(wrist_outputs, 'TFMessage', None)
    pose = wrist_pose_stamped(right_mediapipe(), MEDIAPIPE21, 'right', HEADER)
    assert tf_message([('right', pose)]) is None
    assert not wrist_outputs.tf_available()


def test_start_up_line_says_what_is_published():
    """Catches a silent node: the one start-up line names the topics, or why there are none."""
    assert 'icvl16 joints have no wrist' in wrist_status(ICVL16, True)
    assert '~/right/wrist and ~/left/wrist' in wrist_status(MEDIAPIPE21, True)
    assert '_right_wrist' in wrist_status(MEDIAPIPE21, True)
    assert 'tf2_msgs is not installed' in wrist_status(MEDIAPIPE21, False)
