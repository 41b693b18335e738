"""The demo's listener node: predictions (~/joints) matched to ground truth by stamp, end-to-end
latency, the node's diagnostics, and the latest depth frames for snapshots."""
from collections import OrderedDict
from dataclasses import dataclass
import threading
import time
from typing import Dict, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from . import conversions as conv
from .diagnostics import status_values
from ..core.camera import Intrinsics

KEEP = 64   # frames kept per stream while waiting for their match (bounded memory)


@dataclass
class MatchedFrame:
    """A prediction with its ground truth (mm) and its end-to-end latency."""

    stamp_ns: int
    pred_mm: np.ndarray       # (J, 3)
    truth_mm: np.ndarray      # (J, 3)
    latency_ms: float         # stamp -> received by the listener
    received_s: float         # monotonic time of reception

    @property
    def error_mm(self) -> np.ndarray:
        """(J,) Euclidean error per joint."""
        return np.linalg.norm(self.pred_mm - self.truth_mm, axis=-1)


def _bounded_put(table: OrderedDict, key, value) -> None:
    """Insert and drop the oldest entries beyond KEEP."""
    table[key] = value
    while len(table) > KEEP:
        table.popitem(last=False)


class DemoListener(Node):
    """Subscribes (reliably) to the node's outputs, the source's truth and depth frames."""

    def __init__(self, node_name: str = 'hand_pose_node', source_name: str = 'depth_source',
                 **kwargs) -> None:
        super().__init__('hand_pose_demo_listener', **kwargs)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._lock = threading.Lock()
        self._truth: OrderedDict = OrderedDict()      # stamp -> (J, 3) mm
        self._pending: OrderedDict = OrderedDict()    # stamp -> (pred mm, latency, received)
        self._depth: OrderedDict = OrderedDict()      # stamp -> (H, W) mm
        self.intrinsics: Optional[Intrinsics] = None
        self.matched: List[MatchedFrame] = []
        self.predictions = 0
        self.latencies_ms: List[float] = []
        self.diagnostics: Dict[str, str] = {}
        self.estimator_ms: List[float] = []    # the node's per-period estimator p50 (ms)
        self.create_subscription(PoseArray, f'/{node_name}/joints', self._on_joints, qos)
        self.create_subscription(PoseArray, f'/{source_name}/ground_truth', self._on_truth, qos)
        self.create_subscription(Image, '/depth/image', self._on_depth, qos)
        self.create_subscription(CameraInfo, '/depth/camera_info', self._on_info, qos)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, qos)
        self._node_name = node_name

    @staticmethod
    def _key(header) -> int:
        return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec

    def _on_joints(self, msg: PoseArray) -> None:
        if not msg.poses:     # the 'hand lost' message: no prediction
            return
        now_ns = self.get_clock().now().nanoseconds
        key = self._key(msg.header)
        latency_ms = (now_ns - key) / 1e6
        pred = conv.xyz_mm_from_pose_array(msg)
        with self._lock:
            self.predictions += 1
            self.latencies_ms.append(latency_ms)
            truth = self._truth.pop(key, None)
            if truth is None:
                _bounded_put(self._pending, key, (pred, latency_ms, time.monotonic()))
            else:
                self._match(key, pred, truth, latency_ms, time.monotonic())

    def _on_truth(self, msg: PoseArray) -> None:
        key, truth = self._key(msg.header), conv.xyz_mm_from_pose_array(msg)
        with self._lock:
            pending = self._pending.pop(key, None)
            if pending is None:
                _bounded_put(self._truth, key, truth)
            else:
                self._match(key, pending[0], truth, pending[1], pending[2])

    def _match(self, key: int, pred: np.ndarray, truth: np.ndarray, latency_ms: float,
               received_s: float) -> None:
        """Record a matched frame (shapes must agree: same joint set)."""
        if pred.shape == truth.shape:
            self.matched.append(MatchedFrame(key, pred, truth, latency_ms, received_s))

    def _on_depth(self, msg: Image) -> None:
        try:
            depth = conv.depth_to_mm(conv.raw_depth(msg), msg.encoding)[0]
        except conv.ConversionError:
            return
        with self._lock:
            _bounded_put(self._depth, self._key(msg.header), depth)

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = conv.intrinsics_from_camera_info(msg)
        except conv.ConversionError:
            pass

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        if msg.status and msg.status[0].name.startswith(self._node_name):
            self.diagnostics = status_values(msg)
            value = float(self.diagnostics.get('estimator_p50_ms', 'nan'))
            if np.isfinite(value):
                self.estimator_ms.append(value)

    def depth_for(self, stamp_ns: int) -> Optional[np.ndarray]:
        """The depth frame (mm) with this stamp if still kept."""
        with self._lock:
            return self._depth.get(stamp_ns)

    def since(self, t_s: float) -> List[MatchedFrame]:
        """Matched frames received after monotonic time ``t_s``."""
        with self._lock:
            return [m for m in self.matched if m.received_s > t_s]
