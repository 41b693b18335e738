"""What hand_pose_node tells a user who waits: the ready line names the input topics, a
throttled console warning repeats them (with publisher counts and what to check) while no
depth image has arrived, and ~/debug_image is advertised only while publish_debug_image is
true."""
import threading

import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402, I100, I202
from rcl_interfaces.srv import SetParameters  # noqa: E402

from hand_pose_ros.ros.diagnostics import no_input_message  # noqa: E402, I202
from test.ros.harness import TIMEOUT_S, tiny_node_parameters  # noqa: E402

DEPTH = '/waiting_test/depth/image_raw'      # nobody publishes these
INFO = '/waiting_test/depth/camera_info'
DEBUG = '/hand_pose_node/debug_image'


def test_no_input_message_names_topics_counts_and_the_likely_cause():
    none = no_input_message(DEPTH, INFO, 10.4, 0, 0, False)
    assert DEPTH in none and INFO in none and 'in 10 s' in none
    assert '0 publishers' in none and 'camera driver' in none and 'depth_topic' in none
    qos = no_input_message(DEPTH, INFO, 5.0, 1, 1, True)
    assert '1 publisher;' in qos and 'BEST_EFFORT' in qos and 'reliable_input' in qos
    idle = no_input_message(DEPTH, INFO, 5.0, 2, 2, False)
    assert '2 publishers' in idle and 'sent nothing yet' in idle


def wait_output(proc, predicate, timeout_s: float = TIMEOUT_S) -> bool:
    """True once ``predicate(output)`` holds for the process's output (polled)."""
    done = threading.Event()
    deadline = threading.Timer(timeout_s, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if predicate(proc.output()):
                return True
            done.wait(0.2)
        return predicate(proc.output())
    finally:
        deadline.cancel()


def publisher_count(probe, topic: str, expected: int) -> bool:
    """True once ``topic`` has ``expected`` publishers as the probe sees them (polled)."""
    done = threading.Event()
    deadline = threading.Timer(TIMEOUT_S, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if probe.node.count_publishers(topic) == expected:
                return True
            done.wait(0.05)
        return probe.node.count_publishers(topic) == expected
    finally:
        deadline.cancel()


@pytest.fixture(scope='module')
def waiting_node(start_node, tiny_model):
    """The node listening on topics nobody publishes, debug image off (the default), set for
    a mirroring camera mounted upside down (said on its ready line)."""
    params = {**tiny_node_parameters(tiny_model), 'input_mirrored': True,
              'input_rotation_deg': 180}      # a mirroring camera mounted upside down
    return start_node('hand_pose_ros.ros.node', params, 'waiting_node',
                      extra_args=['-r', f'depth/image:={DEPTH}',
                                  '-r', f'depth/camera_info:={INFO}'])


def test_ready_line_and_warning_name_the_input_topics(waiting_node):
    assert wait_output(waiting_node, lambda out: 'ready: model' in out), waiting_node.output()
    ready = next(line for line in waiting_node.output().splitlines() if 'ready: model' in line)
    assert DEPTH in ready and INFO in ready
    assert ready.endswith('each image flipped left-right back (input_mirrored), then turned 180 '
                          'deg clockwise, hands turned back (input_rotation_deg)'), ready
    assert wait_output(waiting_node, lambda out: 'no depth image received' in out), \
        waiting_node.output()
    warning = next(line for line in waiting_node.output().splitlines()
                   if 'no depth image received' in line)
    assert 'WARN' in warning and DEPTH in warning and INFO in warning
    assert '0 publishers' in warning and 'camera driver' in warning


def set_bool(probe, name: str, value: bool) -> bool:
    """Set a bool parameter of hand_pose_node; True when the node accepted it."""
    client = probe.node.create_client(SetParameters, '/hand_pose_node/set_parameters')
    try:
        assert client.wait_for_service(timeout_sec=TIMEOUT_S)
        future = client.call_async(SetParameters.Request(parameters=[Parameter(
            name=name, value=ParameterValue(type=ParameterType.PARAMETER_BOOL,
                                            bool_value=value))]))
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        assert done.wait(TIMEOUT_S), f'no answer to setting {name}'
        return future.result().results[0].successful
    finally:
        probe.node.destroy_client(client)


def test_debug_image_is_advertised_only_while_enabled(waiting_node, probe):
    # the node's other outputs are discovered, so its debug image would be too
    assert publisher_count(probe, '/hand_pose_node/joints', 1), waiting_node.output()
    assert probe.node.count_publishers(DEBUG) == 0
    assert set_bool(probe, 'publish_debug_image', True)
    assert publisher_count(probe, DEBUG, 1)
    assert set_bool(probe, 'publish_debug_image', False)
    assert publisher_count(probe, DEBUG, 0)
