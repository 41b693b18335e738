"""Test harness for real nodes over real DDS: node subprocesses, an in-process probe node
spinning on a thread, inboxes waited on with timeouts (never timed assertions on speed)."""
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

import numpy as np
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from hand_pose_ros.core.camera import Intrinsics
from hand_pose_ros.ros import conversions as conv

# One DDS domain per test run (pid-derived, 1..100) and discovery on this host only.
DOMAIN_ID = 1 + os.getpid() % 100
ROS_ENV = {'ROS_DOMAIN_ID': str(DOMAIN_ID), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
           'PYTHONUNBUFFERED': '1', 'OMP_NUM_THREADS': '1'}
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TIMEOUT_S = 120.0   # generous upper bound (a loaded 2-core box); never a speed assertion
FRAME_ID = 'camera_depth_optical_frame'   # the frame_id of the test camera's headers


def make_tiny_model(path: Path) -> Path:
    """Save a fast random-weight pose checkpoint (16 channels, 1 stack, 64 px crops)."""
    import torch

    from hand_pose_ros.core.checkpoint import save_checkpoint
    from hand_pose_ros.core.config import ModelConfig
    from hand_pose_ros.core.nets.pose_net import build_pose_net

    torch.manual_seed(0)
    config = ModelConfig(width=16, stacks=1, input_size=64, heatmap_size=32, hourglass_depth=3)
    save_checkpoint(path, build_pose_net(config), config)
    return path


def tiny_node_parameters(tiny_model: Path) -> dict:
    """hand_pose_node parameters for DDS tests: the tiny model on the CPU, reliable input,
    every frame published (no confidence gate), diagnostics five times a second; the nearest
    hand taken for a right hand (no detector network: its sides are not random-weight ones)."""
    return {'model': str(tiny_model), 'reliable_input': True, 'min_confidence': 0.0,
            'device': 'cpu', 'diagnostics_period_s': 0.2, 'handedness': 'right',
            'detector': 'nearest'}


def ros_arg(value) -> str:
    """A Python value as a --ros-args parameter value."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return repr(value)
    return str(value)


class NodeProcess:
    """A node run as ``python -m module --ros-args -p ...`` with its output in a log file."""

    def __init__(self, module: str, params: Dict[str, object], log_path: Path,
                 extra_args: Optional[List[str]] = None) -> None:
        cmd = [sys.executable, '-m', module, '--ros-args']
        for name, value in params.items():
            cmd += ['-p', f'{name}:={ros_arg(value)}']
        cmd += extra_args or []
        self.log_path = log_path
        self._log = open(log_path, 'wb')
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **ROS_ENV})

    @property
    def pid(self) -> int:
        """Process id."""
        return self.proc.pid

    def output(self) -> str:
        """Everything the process printed so far."""
        self._log.flush()
        return self.log_path.read_text(errors='replace')

    def rss_kb(self) -> int:
        """Resident memory (kB) from /proc/<pid>/status."""
        for line in Path(f'/proc/{self.pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
        raise RuntimeError(f'no VmRSS for pid {self.pid}')

    def stop(self, timeout_s: float = 20.0) -> Optional[int]:
        """SIGINT, then SIGKILL after ``timeout_s``; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Inbox:
    """Messages of one subscription; ``wait_for`` blocks until a predicate holds."""

    def __init__(self) -> None:
        self.messages: list = []
        self._cond = threading.Condition()

    def __call__(self, msg) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list], bool], timeout_s: float = TIMEOUT_S) -> bool:
        """True once ``predicate(messages)`` holds, False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.messages), timeout_s)

    def wait_count(self, n: int, timeout_s: float = TIMEOUT_S) -> bool:
        """True once ``n`` messages arrived."""
        return self.wait_for(lambda m: len(m) >= n, timeout_s)

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._cond:
            self.messages.clear()


class Probe:
    """An in-process test node spinning on its own thread (own rclpy context)."""

    def __init__(self, name: str = 'probe') -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=DOMAIN_ID)
        self.node = rclpy.create_node(f'{name}_{os.getpid()}', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        """Spin until the context shuts down."""
        try:
            while self.context.ok():
                self.executor.spin_once(timeout_sec=0.1)
        except Exception:  # context torn down while waiting
            pass

    def subscribe(self, msg_type, topic: str, qos: QoSProfile = RELIABLE) -> Inbox:
        """An Inbox receiving ``topic``."""
        inbox = Inbox()
        self.node.create_subscription(msg_type, topic, inbox, qos)
        return inbox

    def publisher(self, msg_type, topic: str, qos: QoSProfile = RELIABLE):
        """A publisher on ``topic``."""
        return self.node.create_publisher(msg_type, topic, qos)

    @staticmethod
    def wait_subscribed(publisher, timeout_s: float = TIMEOUT_S) -> bool:
        """True once someone subscribes to ``publisher``."""
        event = threading.Event()
        deadline = threading.Timer(timeout_s, event.set)
        deadline.start()
        try:
            while not event.is_set():
                if publisher.get_subscription_count() > 0:
                    return True
                event.wait(0.05)
            return publisher.get_subscription_count() > 0
        finally:
            deadline.cancel()

    def header(self, frame_id: str = FRAME_ID) -> Header:
        """A header stamped now."""
        return Header(stamp=self.node.get_clock().now().to_msg(), frame_id=frame_id)

    def close(self) -> None:
        """Destroy the node and shut the context down."""
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self._thread.join(5.0)


class FrameSender:
    """Publishes depth image + CameraInfo pairs to a hand_pose_node's inputs: a sensor_msgs/Image
    on /depth/image, or what ``pack(depth_mm, header, encoding)`` makes, of ``image_type``, on
    ``image_topic``."""

    def __init__(self, probe: Probe, intr: Intrinsics, image_topic: str = '/depth/image',
                 image_type=conv.Image, pack=conv.depth_image,
                 frame_id: str = FRAME_ID) -> None:
        self.probe, self.intr, self.pack, self.frame_id = probe, intr, pack, frame_id
        self.image = probe.publisher(image_type, image_topic)
        self.info = probe.publisher(conv.CameraInfo, '/depth/camera_info')

    def wait_ready(self) -> bool:
        """True once the node subscribes to both topics."""
        return Probe.wait_subscribed(self.image) and Probe.wait_subscribed(self.info)

    def prime(self, answers: 'Inbox', depth_mm: np.ndarray, timeout_s: float = TIMEOUT_S) -> None:
        """Send frames until the node answers one (on ``answers``). The very first image can
        overtake its CameraInfo (another topic) and be rejected as no_camera_info; later
        frames pair with the stored CameraInfo."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            key = stamp_ns(self.send(depth_mm))
            if answers.wait_for(lambda msgs: any(stamp_ns(header_of(m)) == key for m in msgs),
                                2.0):
                return
        raise AssertionError(f'the node answered no frame within {timeout_s:.0f} s')

    def send(self, depth_mm: np.ndarray, encoding: str = '16UC1',
             header: Optional[Header] = None, info=True, image=None) -> Header:
        """Publish CameraInfo (True: the sender's; False: none; or a message), then the image.

        Returns the header used.
        """
        header = header or self.probe.header(self.frame_id)
        if info is True:
            self.info.publish(conv.camera_info(self.intr, header))
        elif info:
            self.info.publish(info)
        self.image.publish(image if image is not None
                           else self.pack(depth_mm, header, encoding))
        return header


def stamp_ns(header: Header) -> int:
    """A header stamp in nanoseconds (exact matching key)."""
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def header_of(msg) -> Header:
    """The header of a message; a MarkerArray's is its first marker's."""
    if hasattr(msg, 'header'):
        return msg.header
    return msg.markers[0].header if msg.markers else Header()


def param_value(value) -> ParameterValue:
    """A Python value as a ParameterValue (bool, int, float, list of str or str)."""
    if isinstance(value, bool):
        return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value)
    if isinstance(value, float):
        return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    if isinstance(value, int):
        return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value)
    if isinstance(value, list):
        return ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=value)
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)


def set_node_parameters(probe: 'Probe', node: str, values: dict) -> list:
    """Call ``<node>/set_parameters`` from the probe; returns the SetParametersResult list."""
    client = probe.node.create_client(SetParameters, f'{node}/set_parameters')
    try:
        assert client.wait_for_service(timeout_sec=TIMEOUT_S)
        future = client.call_async(SetParameters.Request(parameters=[
            Parameter(name=k, value=param_value(v)) for k, v in values.items()]))
        deadline = time.monotonic() + TIMEOUT_S
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        return future.result().results
    finally:
        probe.node.destroy_client(client)
