"""The demo's listener node: each side's predictions (~/right/joints, ~/left/joints) matched by
stamp to the source's ground truth of every hand in the frame (~/<side>/ground_truth; scored
by demo_scores), end-to-end latency, the node's diagnostics, and the latest depth frames for
snapshots."""
from collections import OrderedDict
from functools import partial
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
from .demo_scores import MatchedHand
from .depth_source import truth_topic
from .diagnostics import status_values
from .outputs import side_topic
from ..core.camera import Intrinsics
from ..core.handedness import SIDES

KEEP = 64   # frames kept per stream while waiting for their match (bounded memory)


def _bounded_put(table: OrderedDict, key, value) -> None:
    """Insert and drop the oldest entries beyond KEEP."""
    table[key] = value
    while len(table) > KEEP:
        table.popitem(last=False)


class DemoListener(Node):
    """Subscribes (reliably) to the node's per-side outputs, the source's per-side truth, depth
    frames and diagnostics."""

    def __init__(self, node_name: str = 'hand_pose_node', source_name: str = 'depth_source',
                 **kwargs) -> None:
        super().__init__('hand_pose_demo_listener', **kwargs)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._lock = threading.Lock()
        self._truth: OrderedDict = OrderedDict()      # stamp -> {side: (J, 3) mm}
        self._pending: OrderedDict = OrderedDict()    # stamp -> [MatchedHand without truth]
        self._depth: OrderedDict = OrderedDict()      # stamp -> (H, W) mm
        self.intrinsics: Optional[Intrinsics] = None
        self.matched: List[MatchedHand] = []
        self.predictions = 0
        self.latencies_ms: List[float] = []
        self.diagnostics: Dict[str, str] = {}
        self.estimator_ms: List[float] = []    # the node's per-period estimator p50 (ms)
        for side in SIDES:
            self.create_subscription(PoseArray, f'/{node_name}/{side_topic(side)}',
                                     partial(self._on_joints, side), qos)
            self.create_subscription(PoseArray, f'/{source_name}/{truth_topic(side)}',
                                     partial(self._on_truth, side), qos)
        self.create_subscription(Image, '/depth/image', self._on_depth, qos)
        self.create_subscription(CameraInfo, '/depth/camera_info', self._on_info, qos)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, qos)
        self._node_name = node_name

    @staticmethod
    def _key(header) -> int:
        return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec

    def _on_joints(self, side: str, msg: PoseArray) -> None:
        """One side's prediction: matched now if its frame's truth is here, else kept."""
        if not msg.poses:     # the 'hand lost' message: no prediction
            return
        now_ns = self.get_clock().now().nanoseconds
        key = self._key(msg.header)
        latency_ms = (now_ns - key) / 1e6
        hand = MatchedHand(key, side, conv.xyz_mm_from_pose_array(msg), {}, latency_ms,
                           time.monotonic())
        with self._lock:
            self.predictions += 1
            self.latencies_ms.append(latency_ms)
            truths = self._truth.get(key)
            if truths is not None:
                hand.truths_mm = truths
                self.matched.append(hand)
                return
            if key not in self._pending:
                _bounded_put(self._pending, key, [])
            self._pending[key].append(hand)

    def _on_truth(self, side: str, msg: PoseArray) -> None:
        """One hand's ground truth: joins its frame's truths and matches what waited for it."""
        key, truth = self._key(msg.header), conv.xyz_mm_from_pose_array(msg)
        with self._lock:
            if key not in self._truth:
                _bounded_put(self._truth, key, {})
            truths = self._truth[key]
            truths[side] = truth
            for hand in self._pending.pop(key, []):
                hand.truths_mm = truths
                self.matched.append(hand)

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

    def frame_hands(self, stamp_ns: int) -> List[MatchedHand]:
        """The matched hands of one frame."""
        with self._lock:
            return [m for m in self.matched if m.stamp_ns == stamp_ns]

    def since(self, t_s: float) -> List[MatchedHand]:
        """Matched hands received after monotonic time ``t_s``."""
        with self._lock:
            return [m for m in self.matched if m.received_s > t_s]
