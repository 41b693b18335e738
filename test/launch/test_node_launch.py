"""hand_pose_node launched from its package executable with depth_source as the fixture
publisher (reliable QoS): start-up line, joints with the input stamps, clean exit."""
import threading

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='launch_pytest is not installed: it ships with a ROS 2 '
    'distribution (ros-<distro>-launch-pytest), not with the PyPI ROS wheels')

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202
import launch  # noqa: E402
from launch_pytest.tools import process as process_tools  # noqa: E402
import launch_ros.actions  # noqa: E402

from test.ros.harness import Probe, stamp_ns  # noqa: E402

TIMEOUT_S = 60.0
LOG_TO_STDOUT = {'RCUTILS_LOGGING_USE_STDOUT': '1', 'PYTHONUNBUFFERED': '1'}


@pytest.fixture(scope='module')
def nodes(share_dir, ros_env, tiny_model):
    """The two Node actions (kept so the tests can read their output and exit codes)."""
    source = launch_ros.actions.Node(
        package='hand_pose_ros', executable='depth_source', name='depth_source',
        parameters=[{'reliable': True, 'rate_hz': 10.0}], additional_env=LOG_TO_STDOUT,
        output='screen', cached_output=True)
    node = launch_ros.actions.Node(
        package='hand_pose_ros', executable='hand_pose_node', name='hand_pose_node',
        parameters=[{'model': str(tiny_model), 'device': 'cpu', 'reliable_input': True,
                     'min_confidence': 0.0}],
        additional_env=LOG_TO_STDOUT, output='screen', cached_output=True)
    return {'source': source, 'node': node}


@launch_pytest.fixture(scope='module')
def node_launch(nodes):
    return launch.LaunchDescription([nodes['source'], nodes['node'],
                                     launch_pytest.actions.ReadyToTest()])


@pytest.mark.launch(fixture=node_launch)
def test_node_answers_the_fixture_publisher(nodes, launch_context):
    assert process_tools.wait_for_output_sync(
        launch_context, nodes['node'], lambda out: 'ready: model' in out, timeout=TIMEOUT_S)
    probe = Probe('node_launch_probe')
    try:
        truth = probe.subscribe(PoseArray, '/depth_source/ground_truth')
        joints = probe.subscribe(PoseArray, '/hand_pose_node/joints')
        answered = threading.Event()

        def matched(msgs):
            stamps = {stamp_ns(m.header) for m in truth.messages}
            if any(stamp_ns(m.header) in stamps and len(m.poses) == 16 for m in msgs):
                answered.set()
            return answered.is_set()

        assert joints.wait_for(matched, TIMEOUT_S), 'no joints stamped like the source frames'
    finally:
        probe.close()
    yield
    # after shutdown: both processes stopped on SIGINT without an error
    assert nodes['node'].return_code == 0, nodes['node'].get_stdout()
    assert 'Traceback' not in nodes['node'].get_stdout()
    assert nodes['source'].return_code == 0
