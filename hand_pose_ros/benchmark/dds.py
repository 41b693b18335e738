"""The node end to end over DDS: Image published -> PoseArray received, matched by stamp.

The node runs as a subprocess (``python -m hand_pose_ros.ros.node``) in a ROS domain of its
own with discovery limited to this host; the benchmark publishes reliable Image + CameraInfo
traffic, waits until the node has subscribed and published, then sends one frame at a time and
times the PoseArray that carries the same stamp.
"""
import contextlib
import importlib.util
import os
from pathlib import Path
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional

import numpy as np

from ..core.camera import Intrinsics

NODE_MODULE = 'hand_pose_ros.ros.node'
JOINTS_TOPIC = '/hand_pose_node/joints'
START_TIMEOUT_S = 180.0   # model loading, tracing or int8 calibration happen at start-up
FRAME_TIMEOUT_S = 20.0
DIAGNOSTICS_PERIOD_S = 0.5   # the node's /diagnostics windows during a bench (its estimator time)


def _skipped(reason: str) -> dict:
    return {'status': 'skipped', 'reason': reason}


def node_available() -> Optional[str]:
    """None when rclpy and the node module exist, else the reason the measurement is skipped."""
    for module in ('rclpy', 'sensor_msgs.msg', 'geometry_msgs.msg', NODE_MODULE):
        try:
            if importlib.util.find_spec(module) is None:
                return f'{module} is not installed'
        except ImportError as exc:
            return f'{module} is not importable ({exc})'
    return None


def node_parameters() -> List[str]:
    """Names of the parameters the node declares (empty when its table cannot be read)."""
    try:
        from ..ros.node_params import PARAMETERS
    except ImportError:
        return []
    return [p.name for p in PARAMETERS]


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block (rclpy reads them at init)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _stop(proc: subprocess.Popen) -> None:
    """Ctrl-C the node (the process this module started), then terminate, then kill."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors='replace').strip().splitlines() if path.exists() else []
    return ' | '.join(text[-lines:]) or 'no output'


def measure_node(pose_path: Path, localizer_path: Optional[Path], frames: List[np.ndarray],
                 intr: Intrinsics, settings: Dict[str, str], warmup: int = 3,
                 runs: int = 20) -> dict:
    """Median Image -> PoseArray latency (ms) of the node; 'status' says ok/skipped/failed.

    ``settings``: extra node parameters (e.g. precision) passed only when the node declares
    them. Frames are sent one at a time, cycling through ``frames``.
    """
    reason = node_available()
    if reason is not None:
        return _skipped(reason)
    declared = node_parameters()
    params = {'model': str(pose_path), 'localizer': str(localizer_path or 'none'),
              'device': 'cpu', 'reliable_input': 'true', 'min_confidence': '0.0',
              'smoothing': 'false', 'publish_debug_image': 'false',
              'diagnostics_period_s': str(DIAGNOSTICS_PERIOD_S)}
    params.update(settings)
    passed = {k: v for k, v in params.items() if not declared or k in declared}
    ignored = sorted(set(params) - set(passed))
    domain = str(random.SystemRandom().randint(120, 229))
    env = dict(os.environ, ROS_DOMAIN_ID=domain, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1')
    cmd = [sys.executable, '-m', NODE_MODULE, '--ros-args']
    for k, v in passed.items():
        cmd += ['-p', f'{k}:={v}']
    with tempfile.TemporaryDirectory(prefix='hand_pose_bench_') as tmp:
        log = Path(tmp) / 'node.log'
        with open(log, 'wb') as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            with _environment(ROS_DOMAIN_ID=domain, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST'):
                result = _exchange(proc, int(domain), frames, intr, warmup, runs, log)
        finally:
            _stop(proc)
    result.update({'domain_id': int(domain), 'parameters': passed,
                   'parameters_not_declared': ignored})
    return result


def _exchange(proc: subprocess.Popen, domain: int, frames: List[np.ndarray], intr: Intrinsics,
              warmup: int, runs: int, log: Path) -> dict:
    """Publish frames to the running node and time its answers."""
    import rclpy
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import PoseArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    from diagnostic_msgs.msg import DiagnosticArray

    from ..ros import conversions as conv
    from ..ros.diagnostics import status_values
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node('hand_pose_bench', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    arrived: Dict[tuple, float] = {}
    inside_ms: List[float] = []   # estimator_p50_ms of each node diagnostics window with output
    measuring = [False]
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    try:
        pub_image = node.create_publisher(Image, '/depth/image', qos)
        pub_info = node.create_publisher(CameraInfo, '/depth/camera_info', qos)
        node.create_subscription(
            PoseArray, JOINTS_TOPIC,
            lambda m: arrived.setdefault((m.header.stamp.sec, m.header.stamp.nanosec),
                                         time.perf_counter()), qos)
        node.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda m: _record_inside(status_values(m), inside_ms, measuring[0]), 10)
        deadline = time.monotonic() + START_TIMEOUT_S
        while (pub_image.get_subscription_count() == 0 or pub_info.get_subscription_count() == 0
               or node.count_publishers(JOINTS_TOPIC) == 0):
            if proc.poll() is not None:
                return {'status': 'failed', 'reason': f'the node exited with status '
                        f'{proc.returncode} before subscribing: {_tail(log)}'}
            if time.monotonic() > deadline:
                return {'status': 'failed', 'reason': f'the node did not subscribe within '
                        f'{START_TIMEOUT_S:.0f} s: {_tail(log)}'}
            executor.spin_once(timeout_sec=0.1)
        latencies, lost = [], 0
        for i in range(warmup + runs):
            measuring[0] = i > warmup   # windows that start after the warm-up frames
            header = Header(stamp=Time(sec=1 + i, nanosec=0), frame_id='bench_depth')
            image = conv.depth_image(frames[i % len(frames)], header)
            pub_info.publish(conv.camera_info(intr, header))
            if i == 0:
                _spin_for(executor, 0.5)   # the first CameraInfo must be there before images
            key = (header.stamp.sec, 0)
            t0 = time.perf_counter()
            pub_image.publish(image)
            end = time.monotonic() + FRAME_TIMEOUT_S
            while key not in arrived and time.monotonic() < end and proc.poll() is None:
                executor.spin_once(timeout_sec=0.005)
            if key not in arrived:
                lost += 1
            elif i >= warmup:
                latencies.append((arrived[key] - t0) * 1e3)
        _spin_for(executor, 2 * DIAGNOSTICS_PERIOD_S)   # the last window's diagnostics
        if not latencies:
            return {'status': 'failed', 'reason': f'no PoseArray came back for {lost} frames: '
                    f'{_tail(log)}'}
        return {'status': 'ok', 'reason': None, 'end_to_end_ms': statistics.median(latencies),
                'end_to_end_p90_ms': float(np.percentile(latencies, 90)),
                'frames': len(latencies), 'lost': lost,
                'inside_estimator_ms': statistics.median(inside_ms) if inside_ms else None}
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)


def _record_inside(values: Dict[str, str], into: List[float], measuring: bool) -> None:
    """Keep a diagnostics window's median estimator time (ms) when it timed a hand (windows
    without one report nan)."""
    try:
        value = float(values['estimator_p50_ms'])
    except (KeyError, ValueError):
        return
    if measuring and np.isfinite(value):
        into.append(value)


def _spin_for(executor, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.01)
