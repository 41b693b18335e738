"""Demo pieces without processes: per-side stamp matching in the listener, summary, the hands
depth_source draws for a model (snapshots: test/core/test_drawing.py)."""
import json

from builtin_interfaces.msg import Time
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202
from std_msgs.msg import Header  # noqa: E402

from hand_pose_ros.core.skeleton import ICVL16, JointSet, MEDIAPIPE21  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from hand_pose_ros.ros.demo import (  # noqa: E402
    _no_nan, domain_id_for, resolve_demo_model, source_hands)
from hand_pose_ros.ros.demo_listener import DemoListener  # noqa: E402
from hand_pose_ros.ros.demo_report import summary_text, write_summary  # noqa: E402
from hand_pose_ros.ros.demo_scores import MatchedHand, scores  # noqa: E402
from test.core.test_drawing import two_hands  # noqa: E402
from test.ros.harness import DOMAIN_ID  # noqa: E402


@pytest.fixture
def listener():
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=DOMAIN_ID)
    node = DemoListener(context=context)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


def poses(xyz_mm, sec):
    return conv.pose_array(xyz_mm, Header(stamp=Time(sec=sec), frame_id='cam'))


def deliver(listener, topic: str, msg) -> None:
    """Hand ``msg`` to the listener's subscription of ``topic`` (as spinning would)."""
    callbacks = {sub.topic_name: sub.callback for sub in listener.subscriptions}
    callbacks[topic](msg)


def test_predictions_match_ground_truth_by_stamp_in_any_order(listener):
    right = np.tile([-150.0, 0.0, 500.0], (16, 1))
    left = np.tile([150.0, 0.0, 500.0], (16, 1))
    truth = {side: f'/depth_source/{side}/ground_truth' for side in ('right', 'left')}
    joints = {side: f'/hand_pose_node/{side}/joints' for side in ('right', 'left')}
    deliver(listener, truth['right'], poses(right, 1))
    deliver(listener, truth['left'], poses(left, 1))
    deliver(listener, joints['right'], poses(right + [3.0, 4.0, 0.0], 1))   # truth first
    deliver(listener, joints['left'], poses(left + [0.0, 0.0, 10.0], 1))
    deliver(listener, joints['right'], poses(left, 2))          # prediction first,
    deliver(listener, truth['right'], poses(right, 2))          # its own side's truth next,
    deliver(listener, truth['left'], poses(left, 2))            # the other side's last
    deliver(listener, joints['left'], poses(left, 3))           # never matched
    deliver(listener, joints['left'], PoseArray(header=Header(stamp=Time(sec=2))))  # 'lost'
    assert listener.predictions == 4
    matched = [(m.stamp_ns // 1_000_000_000, m.side) for m in listener.matched]
    assert matched == [(1, 'right'), (1, 'left'), (2, 'right')]
    first_right, first_left, second = listener.matched
    np.testing.assert_allclose(first_right.error_mm, 5.0, atol=1e-6)
    np.testing.assert_allclose(first_left.error_mm, 10.0, atol=1e-6)
    # the left hand published as right: the left truth that came after it is seen
    assert second.true_side == 'left' and not second.label_ok
    assert [m.side for m in listener.frame_hands(1_000_000_000)] == ['right', 'left']


def test_summary_reports_each_side(tmp_path):
    _, truths = two_hands()
    hands = [MatchedHand(1, 'right', truths['right'] + [3.0, 4.0, 0.0], truths, 30.0, 1.0),
             MatchedHand(2, 'right', truths['left'], truths, 30.0, 2.0)]
    summary = _no_nan({
        'seconds': 3.0, 'rate_hz': 10.0, 'model': 'm.pt', 'model_note': '', 'device': 'cpu',
        'notes': ['the node takes the nearest hand for a right hand'],
        'ros_domain_id': 101, 'frames_in': 30, 'frames_out': 28, 'dropped_frames': 2,
        'rejected': {}, 'input_fps': 10.0, 'output_fps': 9.3,
        'latency_ms': {'p50': 30.0, 'p95': 45.0, 'max': float('nan')},
        'estimator_ms_p50': 12.0, **scores(hands, ICVL16.joint_names),
        'pngs': ['frame_00.png']})
    assert summary['latency_ms']['max'] is None
    write_summary(tmp_path, summary)
    assert json.loads((tmp_path / 'summary.json').read_text())['frames_out'] == 28
    text = (tmp_path / 'summary.txt').read_text()
    assert summary_text(summary) == text
    assert 'NOTE: the node takes the nearest hand for a right hand' in text
    assert ('right hand (~/right/joints): found in 1 of 2 frames showing it, mean joint error '
            '5.0 mm') in text
    assert '1 of 2 hands published as right were the left hand (wrong label)' in text
    assert 'left hand (~/left/joints): found in 0 of 2 frames showing it, no joint error' in text
    assert 'correctly labelled hands vs ground truth: mean joint error 5.0 mm' in text
    assert 'wrong labels: 1 of 2 published hands' in text
    assert 'palm 5.0' in text


def test_source_hands_for_the_model_joint_set():
    assert source_hands(ICVL16) == (2, '')
    assert source_hands(MEDIAPIPE21) == (2, '')           # any selection of the whole hand
    other = JointSet('other3', ('a', 'b', 'c'), (-1, 0, 1), (0, 1, 1))
    hands, note = source_hands(other)
    assert hands == 1 and 'single right hand' in note and 'other3' in note


def test_demo_domain_and_model_resolution(tmp_path, tiny_model):
    assert 101 <= domain_id_for(12345) <= 200
    model, joint_set, note = resolve_demo_model(str(tiny_model), tmp_path)
    assert model == str(tiny_model) and joint_set is ICVL16 and note == ''
    with pytest.raises(FileNotFoundError):
        resolve_demo_model(str(tmp_path / 'missing.pt'), tmp_path)
