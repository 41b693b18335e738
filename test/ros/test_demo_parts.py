"""Demo pieces without processes: per-side stamp matching in the listener, snapshots of both
hands, summary, the hands depth_source draws for a model."""
import json

from builtin_interfaces.msg import Time
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202
from std_msgs.msg import Header  # noqa: E402

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from hand_pose_ros.core.skeleton import ICVL16, JointSet, MEDIAPIPE21  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from hand_pose_ros.ros.demo import (  # noqa: E402
    _no_nan, domain_id_for, resolve_demo_model, source_hands)
from hand_pose_ros.ros.demo_listener import DemoListener  # noqa: E402
from hand_pose_ros.ros.demo_report import (  # noqa: E402
    SIDE_BGR, snapshot, summary_text, TRUTH_BGR, write_summary)
from hand_pose_ros.ros.demo_scores import MatchedHand, scores  # noqa: E402
from test.ros.harness import DOMAIN_ID  # noqa: E402

INTR = Intrinsics(300.0, 300.0, 79.5, 59.5, 160, 120)


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


def two_hands(depth_value: float = 400.0):
    """A 160x120 frame with two square 'hands' and their joints (the user's right hand on
    the image's left)."""
    depth = np.zeros((120, 160), np.float32)
    depth[40:80, 20:60] = depth_value
    depth[40:80, 100:140] = depth_value
    grid = np.column_stack([np.linspace(-15, 15, 16), np.linspace(-15, 15, 16),
                            np.full(16, 400.0)])
    right = grid + [-50.0 * 400 / 300, 0.0, 0.0]     # u 29.5 +- 11 px
    left = grid + [50.0 * 400 / 300, 0.0, 0.0]       # u 129.5 +- 11 px
    return depth, {'right': right, 'left': left}


def mean_u_of(img: np.ndarray, bgr: tuple, width: int) -> float:
    """Mean column of the pixels of exactly colour ``bgr`` in the left ``width`` columns."""
    ys, xs = np.nonzero((img[:, :width] == bgr).all(-1))
    assert len(xs), f'no pixel of colour {bgr}'
    return float(xs.mean())


def test_snapshot_shows_both_hands_coloured_by_their_label():
    depth, truths = two_hands()
    img = snapshot(depth, INTR, [('right', truths['right'] + 2), ('left', truths['left'] + 2)],
                   truths, ICVL16, 'right 2 mm, left 2 mm')
    # the frame, and beside it each true hand enlarged: two squares stacked to its height
    assert img.shape == (120, 160 + 60, 3) and img.dtype == np.uint8
    # predictions coloured by label where their hand is: right (red) on the image's left
    assert mean_u_of(img, SIDE_BGR['right'], 160) < 60 < 100 < mean_u_of(
        img, SIDE_BGR['left'], 160)
    # a swapped label is drawn in the other side's colour
    swapped = snapshot(depth, INTR, [('left', truths['right'])], truths, ICVL16, '')
    assert mean_u_of(swapped, SIDE_BGR['left'], 160) < 60
    assert mean_u_of(swapped, TRUTH_BGR, 160) > 0
    # one true hand (a one-hand source): the zoom is a square of the frame height
    one = snapshot(depth, INTR, [('right', truths['right'])], {'right': truths['right']},
                   ICVL16, '')
    assert one.shape == (120, 160 + 120, 3)


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
