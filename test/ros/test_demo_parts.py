"""Demo pieces without processes: stamp matching in the listener, snapshots, summary."""
import json

from builtin_interfaces.msg import Time
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from std_msgs.msg import Header  # noqa: E402, I202

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from hand_pose_ros.core.skeleton import ICVL16  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from hand_pose_ros.ros.demo import _no_nan, domain_id_for, resolve_demo_model  # noqa: E402
from hand_pose_ros.ros.demo_listener import DemoListener  # noqa: E402
from hand_pose_ros.ros.demo_report import snapshot, summary_text, write_summary  # noqa: E402
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


def test_predictions_match_ground_truth_by_stamp_in_any_order(listener):
    truth = np.tile([0.0, 0.0, 400.0], (16, 1))
    listener._on_truth(poses(truth, 1))
    listener._on_joints(poses(truth + [3.0, 4.0, 0.0], 1))       # truth first
    listener._on_joints(poses(truth + [0.0, 0.0, 10.0], 2))      # prediction first
    listener._on_truth(poses(truth, 2))
    listener._on_joints(poses(truth, 3))                         # never matched
    assert listener.predictions == 3
    assert [m.stamp_ns for m in listener.matched] == [1_000_000_000, 2_000_000_000]
    np.testing.assert_allclose(listener.matched[0].error_mm, 5.0, atol=1e-6)
    np.testing.assert_allclose(listener.matched[1].error_mm, 10.0, atol=1e-6)


def test_snapshot_and_summary(tmp_path):
    depth = np.zeros((120, 160), np.float32)
    depth[40:80, 60:100] = 400
    xyz = np.column_stack([np.linspace(-20, 20, 16), np.linspace(-20, 20, 16),
                           np.full(16, 400.0)])
    img = snapshot(depth, INTR, xyz + 5, xyz, ICVL16, 'error 5 mm')
    # the frame, and beside it the hand enlarged to the frame height
    assert img.shape == (120, 160 + 120, 3) and img.dtype == np.uint8
    summary = _no_nan({
        'seconds': 3.0, 'rate_hz': 10.0, 'model': 'm.pt', 'model_note': '', 'device': 'cpu',
        'ros_domain_id': 101, 'frames_in': 30, 'frames_out': 28, 'dropped_frames': 2,
        'rejected': {}, 'input_fps': 10.0, 'output_fps': 9.3,
        'latency_ms': {'p50': 30.0, 'p95': 45.0, 'max': float('nan')},
        'estimator_ms_p50': 12.0,
        'error_mm': {'mean': 5.0, 'median': 5.0, 'frames': 28, 'per_joint': {'palm': 5.0}},
        'pngs': ['frame_00.png']})
    assert summary['latency_ms']['max'] is None
    write_summary(tmp_path, summary)
    assert json.loads((tmp_path / 'summary.json').read_text())['frames_out'] == 28
    text = (tmp_path / 'summary.txt').read_text()
    assert 'mean joint error vs ground truth: 5.0 mm' in text and 'palm 5.0' in text
    assert summary_text(summary) == text


def test_demo_domain_and_model_resolution(tmp_path, tiny_model):
    assert 101 <= domain_id_for(12345) <= 200
    model, joint_set, note = resolve_demo_model(str(tiny_model), tmp_path)
    assert model == str(tiny_model) and joint_set is ICVL16 and note == ''
    with pytest.raises(FileNotFoundError):
        resolve_demo_model(str(tmp_path / 'missing.pt'), tmp_path)
