"""launch/camera.launch.py camera:=synthetic on a colcon-built install: depth_source feeds
hand_pose_node, whose joints carry the source's stamps and frame, in metres."""
import os
import threading

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='launch_pytest is not installed: it ships with a ROS 2 '
    'distribution (ros-<distro>-launch-pytest), not with the PyPI ROS wheels')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100, I202
from geometry_msgs.msg import PoseArray  # noqa: E402
import launch  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

from hand_pose_ros.ros.diagnostics import status_values  # noqa: E402
from test.ros.harness import Probe, stamp_ns  # noqa: E402

TIMEOUT_S = 60.0


@launch_pytest.fixture(scope='module')
def synthetic_launch(share_dir, ros_env, tiny_model, params_file):
    """camera.launch.py with the synthetic camera, the tiny model on the CPU, no RViz."""
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share_dir, 'launch', 'camera.launch.py')),
        launch_arguments={'camera': 'synthetic', 'model': str(tiny_model), 'device': 'cpu',
                          'params_file': params_file, 'rviz': 'false'}.items())
    return launch.LaunchDescription([include, launch_pytest.actions.ReadyToTest()])


@pytest.fixture(scope='module')
def probe():
    p = Probe('launch_probe')
    yield p
    p.close()


@pytest.mark.launch(fixture=synthetic_launch)
def test_joints_follow_the_synthetic_camera(probe):
    truth = probe.subscribe(PoseArray, '/depth_source/ground_truth')
    joints = probe.subscribe(PoseArray, '/hand_pose_node/joints')
    matched = threading.Event()
    found = {}

    def check(_=None):
        stamps = {stamp_ns(m.header): m for m in truth.messages}
        for msg in joints.messages:
            if stamp_ns(msg.header) in stamps:
                found['joints'], found['truth'] = msg, stamps[stamp_ns(msg.header)]
                matched.set()
                return True
        return False

    assert joints.wait_for(lambda _: check(), TIMEOUT_S), 'no joints with a source stamp'
    assert matched.wait(1.0)
    msg, gt = found['joints'], found['truth']
    assert msg.header.frame_id == gt.header.frame_id == 'camera_depth_optical_frame'
    assert len(msg.poses) == len(gt.poses) == 16
    assert all(0.0 < p.position.z < 2.0 for p in gt.poses)       # metres
    assert all(abs(p.position.z) < 5.0 for p in msg.poses)


@pytest.mark.launch(fixture=synthetic_launch)
def test_diagnostics_report_rates_and_device(probe):
    diag = probe.subscribe(DiagnosticArray, '/diagnostics')

    def has_output(msgs):
        values = [status_values(m) for m in msgs if m.status and
                  m.status[0].name.startswith('hand_pose_node')]
        return any(int(v.get('frames_out', 0)) > 0 and v.get('device') == 'cpu'
                   for v in values)

    assert diag.wait_for(has_output, TIMEOUT_S)
