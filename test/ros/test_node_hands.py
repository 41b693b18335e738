"""Both hands over real DDS (hand_pose_node as a separate process): a right hand is published on
~/right/joints and ~/joints and nothing reaches ~/left/joints; when the hand is lost each topic
that carried it gets exactly ONE empty message (input header) and its markers are deleted; the
new parameters are range-checked at run time.

The tiny random-weight model has no detector network, so these runs set ``handedness``
explicitly (``detector: nearest``). The auto (left/right classifier) test at the end needs the
shipped detector and skips, saying so, where it is not shipped yet.
"""

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100, I202
from geometry_msgs.msg import PoseArray  # noqa: E402
from sensor_msgs.msg import PointCloud2  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from hand_pose_ros.core.estimator import MAX_HANDS  # noqa: E402
from hand_pose_ros.ros.diagnostics import status_values  # noqa: E402
from hand_pose_ros.ros.node_params import DEFAULTS  # noqa: E402
from test.conftest import blob_frame  # noqa: E402
from test.ros.harness import (FrameSender, header_of, set_node_parameters,  # noqa: E402
                              stamp_ns, tiny_node_parameters)

INTR = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
NODE = '/hand_pose_node'


def hand() -> np.ndarray:
    """A hand-sized blob 45 cm from the camera (mm)."""
    return blob_frame(center=(170, 110), depth=450.0)


def no_hand() -> np.ndarray:
    """The same blob beyond far_m: a valid frame with no hand in range."""
    return np.where(hand() > 0, 4000.0, 0.0)


class HandsSession:
    """The node under test, its inputs, and an inbox per output topic."""

    def __init__(self, probe, proc):
        self.probe, self.proc = probe, proc
        self.sender = FrameSender(probe, INTR)
        self.inbox = {topic: probe.subscribe(PoseArray, f'{NODE}/{topic}')
                      for topic in ('joints', 'right/joints', 'left/joints')}
        self.inbox['joints_cloud'] = probe.subscribe(PointCloud2, f'{NODE}/joints_cloud')
        self.inbox['markers'] = probe.subscribe(MarkerArray, f'{NODE}/markers')
        self.diag = probe.subscribe(DiagnosticArray, '/diagnostics')
        assert self.sender.wait_ready(), proc.output()
        # every output matched before the test starts (a message sent earlier is lost)
        for topic in ('right/joints', 'joints', 'joints_cloud', 'markers'):
            self.sender.prime(self.inbox[topic], hand())
        assert self.set_params(handedness='left')[0].successful
        self.sender.prime(self.inbox['left/joints'], hand())
        assert self.set_params(handedness='right')[0].successful
        synced = self.sender.send(hand())   # right again: ~/left/joints gets its lost message
        for inbox in self.inbox.values():
            assert self.answer(synced, inbox) is not None, proc.output()
        for inbox in self.inbox.values():   # each topic is in order: nothing older is to come
            inbox.clear()

    def answer(self, header, inbox):
        """The message with this exact stamp on ``inbox`` (waits), or None on timeout."""
        key = stamp_ns(header)
        if not inbox.wait_for(lambda msgs: any(stamp_ns(header_of(m)) == key for m in msgs)):
            return None
        return next(m for m in inbox.messages if stamp_ns(header_of(m)) == key)

    def stamps(self, topic: str) -> list:
        """Stamps (ns) of every message received on ``topic`` since the set-up, in order."""
        return [stamp_ns(header_of(m)) for m in self.inbox[topic].messages]

    def counter(self, key: str) -> int:
        """The newest diagnostics value of ``key`` (0 when absent)."""
        msgs = [m for m in self.diag.messages if m.status and
                m.status[0].name.startswith('hand_pose_node')]
        return int(status_values(msgs[-1]).get(key, 0)) if msgs else 0

    def wait_counter(self, key: str, at_least: int) -> bool:
        """True once diagnostics report ``key`` >= ``at_least``."""
        return self.diag.wait_for(lambda _: self.counter(key) >= at_least)

    def set_params(self, **values) -> list:
        """Call ~/set_parameters; returns the SetParametersResult list."""
        return set_node_parameters(self.probe, NODE, values)


@pytest.fixture(scope='module')
def session(probe, start_node, tiny_model):
    proc = start_node('hand_pose_ros.ros.node', tiny_node_parameters(tiny_model),
                      'hand_pose_node_hands')
    return HandsSession(probe, proc)


def test_a_right_hand_then_none_then_a_left_hand(session):
    """Catches: the hand missing from ~/right/joints or ~/joints, a right hand leaking onto
    ~/left/joints, no empty message when the hand is lost (consumers keep stale joints), an
    empty message repeated on every frame without a hand, markers not deleted (or the other
    side's deleted), outputs not stamped with the input header."""
    s = session
    seen = s.sender.send(hand())
    right, joints = s.answer(seen, s.inbox['right/joints']), s.answer(seen, s.inbox['joints'])
    assert right is not None and joints is not None, s.proc.output()
    assert len(right.poses) == 16 and right.header.frame_id == 'camera_depth_optical_frame'
    assert right.poses == joints.poses                       # one hand: ~/joints is that hand
    drawn = s.answer(seen, s.inbox['markers']).markers
    assert {m.ns for m in drawn} == {'right/joints', 'right/bones'}
    assert all(m.action == Marker.ADD for m in drawn)

    no_hand_before = s.counter('rejected.no_hand')
    lost = s.sender.send(no_hand())
    for topic in ('right/joints', 'joints'):
        empty = s.answer(lost, s.inbox[topic])
        assert empty is not None and empty.poses == [], topic
        assert empty.header.frame_id == 'camera_depth_optical_frame'
    assert s.answer(lost, s.inbox['joints_cloud']).width == 0
    deleted = s.answer(lost, s.inbox['markers']).markers
    assert {m.ns for m in deleted} == {'right/joints', 'right/bones'}
    assert len(deleted) == 17 and all(m.action == Marker.DELETE for m in deleted)

    still_lost = s.sender.send(no_hand())
    assert s.wait_counter('rejected.no_hand', no_hand_before + 2)   # processed, not dropped
    back = s.sender.send(hand())
    for topic in ('right/joints', 'joints', 'joints_cloud', 'markers'):
        assert s.answer(back, s.inbox[topic]) is not None, topic
        # in order on each topic: the hand, ONE lost message, the hand again
        assert s.stamps(topic) == [stamp_ns(seen), stamp_ns(lost), stamp_ns(back)], topic
    assert stamp_ns(still_lost) not in s.stamps('right/joints')

    # the hand is now taken for a left one: ~/left/joints gets it (its first message since the
    # set-up: nothing came while the hand was right), ~/right/joints its one lost message
    assert s.set_params(handedness='left')[0].successful
    try:
        as_left = s.sender.send(hand())
        left = s.answer(as_left, s.inbox['left/joints'])
        assert left is not None and len(left.poses) == 16
        assert s.stamps('left/joints') == [stamp_ns(as_left)]
        assert s.answer(as_left, s.inbox['right/joints']).poses == []
        actions = {(m.ns, m.action) for m in s.answer(as_left, s.inbox['markers']).markers}
        assert actions == {('right/joints', Marker.DELETE), ('right/bones', Marker.DELETE),
                           ('left/joints', Marker.ADD), ('left/bones', Marker.ADD)}
        assert s.wait_counter('hands.left', 1) and s.counter('hands.right') >= 2
    finally:
        assert s.set_params(handedness='right')[0].successful
    assert s.proc.proc.poll() is None and 'Traceback' not in s.proc.output()


@pytest.mark.parametrize('name,value,reason', [
    ('max_hands', 0, None),
    ('max_hands', MAX_HANDS + 1, None),
    ('detection_threshold', -0.5, None),
    ('detection_threshold', 1.5, None),
    ('weak_detection_threshold', -0.5, None),
    ('detector', 'yolo', 'detector must be one of'),
    ('handedness', 'both', 'handedness must be one of'),
    ('max_hands', 2.0, None),                                  # wrong type
])
def test_hand_parameters_out_of_range_are_refused(session, name, value, reason):
    """Catches a missing descriptor range or validation (the value would be accepted)."""
    (result,) = session.set_params(**{name: value})
    assert not result.successful, (name, value)
    if reason:
        assert reason in result.reason


def test_hand_parameters_in_range_are_accepted(session):
    """Catches a range that excludes its own ends, or a value the estimator refuses."""
    try:
        assert all(r.successful for r in session.set_params(
            max_hands=1, detection_threshold=0.0))
        assert all(r.successful for r in session.set_params(
            max_hands=MAX_HANDS, detection_threshold=1.0))
    finally:
        session.set_params(max_hands=DEFAULTS.max_hands,
                           detection_threshold=DEFAULTS.detection_threshold)
    assert session.answer(session.sender.send(hand()), session.inbox['right/joints'])
