"""Both hands without spinning: the pipeline keeps one hand per side (best score first), gates
each hand on its confidence and smooths each side with its own filter; ``frame_messages``
publishes each side on its topic and, for a side lost since the last frame, one empty
PoseArray and DELETE markers. Hand-made HandPose objects through a stand-in estimator."""
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from builtin_interfaces.msg import Time  # noqa: E402, I100, I202
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from hand_pose_ros.core.estimator import HandPose  # noqa: E402
from hand_pose_ros.core.skeleton import ICVL16  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from hand_pose_ros.ros.node_params import NodeParams  # noqa: E402
from hand_pose_ros.ros.outputs import frame_messages, TOPICS  # noqa: E402
from hand_pose_ros.ros.pipeline import (FramePipeline, HandOutput,  # noqa: E402
                                        LOW_CONFIDENCE, NO_HAND)
from test.conftest import blob_frame  # noqa: E402

INTR = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
PARAMS = NodeParams(min_confidence=0.5)
SHAPE_MM = np.random.default_rng(0).uniform(-40, 40, (16, 3)).astype(np.float32)


def hand(side: str, score: float, x_mm: float = 0.0, confidence: float = 0.9) -> HandPose:
    """A hand-made HandPose: a fixed joint shape around (x_mm, 0, 450) mm."""
    xyz = SHAPE_MM + np.float32([x_mm, 0.0, 450.0])
    return HandPose(xyz=xyz, uvd=xyz.copy(), confidence=np.full(16, confidence, np.float32),
                    center=xyz.mean(0), joint_set=ICVL16, timings={'total': 1.0},
                    patch=np.zeros((8, 8), np.float32), patch_uv=np.zeros((16, 2), np.float32),
                    handedness=side, score=score)


class FakeEstimator:
    """Returns the hands it is given; records the settings it is configured with."""

    config = SimpleNamespace(cube_mm=250.0)

    def __init__(self) -> None:
        self.hands, self.settings = (), {}

    def configure(self, **settings) -> None:
        self.settings = settings

    def estimate_detailed(self, depth_mm, intr):
        return SimpleNamespace(hands=tuple(self.hands),
                               reason=None if self.hands else 'no hand in range')

    def estimate_batch(self, depths, intr, centers_uvd=None, *, side_memory=None, tracker=None,
                       t_s=0.0):
        # 'auto' with a left/right memory (the default parameters) calls this per frame
        return [self.estimate_detailed(d, intr) for d in depths]


def header(t_s: float = 0.0) -> Header:
    return Header(stamp=Time(sec=int(t_s), nanosec=round((t_s % 1) * 1e9)), frame_id='cam')


def run(pipeline: FramePipeline, hands, t_s: float = 0.0):
    """Process one (valid) frame whose estimate is ``hands``."""
    pipeline.estimator.hands = hands
    h = header(t_s)
    return pipeline.process(conv.depth_image(blob_frame(depth=450.0), h),
                            conv.camera_info(INTR, h))


@pytest.fixture
def pipeline():
    return FramePipeline(FakeEstimator(), PARAMS)


def test_hand_parameters_reach_the_estimator(pipeline):
    """Catches a new parameter declared but never passed to the core."""
    pipeline.configure(replace(PARAMS, handedness='left', max_hands=1, detector='nearest',
                               detection_threshold=0.25, weak_detection_threshold=0.05))
    assert {k: pipeline.estimator.settings[k] for k in (
        'handedness', 'max_hands', 'detector', 'detection_threshold',
        'weak_detection_threshold')} == {
        'handedness': 'left', 'max_hands': 1, 'detector': 'nearest', 'detection_threshold': 0.25,
        'weak_detection_threshold': 0.05}


def test_one_hand_per_side_best_score_first(pipeline):
    """Catches two hands of one side published, a side's weaker hand winning, and ~/joints
    not being the highest-scoring hand."""
    result = run(pipeline, [hand('right', 0.5, 10), hand('left', 0.9, -80), hand('right', 0.8)])
    assert result.ok and [(h.side, h.pose.score) for h in result.hands] == [
        ('left', 0.9), ('right', 0.8)]
    assert result.pose.score == 0.9 and result.xyz_mm is result.hands[0].xyz_mm


def test_confidence_gate_applies_per_hand(pipeline):
    """Catches a gate on the first hand only (a weak hand published, or a good one dropped
    with it)."""
    result = run(pipeline, [hand('left', 0.9, confidence=0.2), hand('right', 0.6)])
    assert [h.side for h in result.hands] == ['right']
    result = run(pipeline, [hand('left', 0.9, confidence=0.2), hand('right', 0.6, confidence=0.3)])
    assert not result.ok and result.reason == LOW_CONFIDENCE and 'min_confidence' in result.message
    result = run(pipeline, [])
    assert not result.ok and result.reason == NO_HAND


def test_each_side_has_its_own_filter_restarted_when_that_side_is_lost(pipeline):
    """Catches one filter shared by both hands (each pulled towards the other) and a filter
    that keeps a lost hand's history (the hand reappears dragged from where it was)."""
    pipeline.configure(replace(PARAMS, smoothing=True, smoothing_min_cutoff=0.01))
    run(pipeline, [hand('right', 0.9, -100), hand('left', 0.8, 100)], 10.0)
    moved = run(pipeline, [hand('right', 0.9, -50), hand('left', 0.8, 150)], 10.05)
    by_side = {h.side: h.xyz_mm for h in moved.hands}
    # heavy smoothing: each hand stays near its own previous place, far from the other's
    assert np.abs(by_side['right'] - (SHAPE_MM + [-100, 0, 450])).max() < 15
    assert np.abs(by_side['left'] - (SHAPE_MM + [100, 0, 450])).max() < 15
    run(pipeline, [hand('left', 0.8, 150)], 10.10)                    # the right hand is lost
    back = run(pipeline, [hand('right', 0.9, 0), hand('left', 0.8, 150)], 10.15)
    right = next(h for h in back.hands if h.side == 'right')
    np.testing.assert_allclose(right.xyz_mm, right.pose.xyz)          # restarted: raw joints
    left = next(h for h in back.hands if h.side == 'left')
    assert np.abs(left.xyz_mm - (SHAPE_MM + [100, 0, 450])).max() < 15  # still smoothing


def output(side: str, x_mm: float = 0.0, score: float = 0.9) -> HandOutput:
    pose = hand(side, score, x_mm)
    return HandOutput(pose, pose.xyz)


def by_topic(messages) -> dict:
    topics = [t for t, _ in messages]
    assert len(topics) == len(set(topics)) and set(topics) <= set(TOPICS), topics
    return dict(messages)


def test_messages_of_a_right_hand():
    """The hand on ~/joints, ~/joints_cloud and ~/right/joints (metres), its markers in the
    right namespaces; nothing on ~/left/joints."""
    h = header(3.0)
    msgs = by_topic(frame_messages([output('right', 20)], frozenset(), ICVL16, h))
    assert set(msgs) == {'joints', 'joints_cloud', 'right/joints', 'markers'}
    expected_m = (SHAPE_MM + [20, 0, 450]) / 1e3
    for topic in ('joints', 'right/joints'):
        assert msgs[topic].header == h
        np.testing.assert_allclose(conv.xyz_mm_from_pose_array(msgs[topic]) / 1e3, expected_m,
                                   atol=1e-6)
    assert msgs['joints_cloud'].width == 16 and msgs['joints_cloud'].header == h
    markers = msgs['markers'].markers
    assert {m.ns for m in markers} == {'right/joints', 'right/bones'}
    assert all(m.action == Marker.ADD and m.header == h for m in markers)


def test_a_lost_hand_gets_one_empty_message_and_its_markers_deleted():
    """Catches stale joints left standing (no empty message), an empty message repeated on
    every frame without a hand, DELETEs for the wrong side, and a missing input header."""
    h = header(4.0)
    msgs = by_topic(frame_messages([], frozenset({'right'}), ICVL16, h))
    assert set(msgs) == {'joints', 'joints_cloud', 'right/joints', 'markers'}
    assert msgs['joints'].poses == [] and msgs['right/joints'].poses == []
    assert msgs['joints_cloud'].width == 0 and not msgs['joints_cloud'].data
    assert all(msgs[t].header == h for t in ('joints', 'joints_cloud', 'right/joints'))
    markers = msgs['markers'].markers
    assert len(markers) == 17 and all(m.action == Marker.DELETE for m in markers)
    assert all(m.header == h for m in markers)
    assert {m.ns for m in markers} == {'right/joints', 'right/bones'}
    assert frame_messages([], frozenset(), ICVL16, h) == []          # still no hand: silence


def test_a_hand_changing_side_clears_the_old_side_only():
    """The right hand is gone and a left one is there: ~/joints carries the left hand (no empty
    message), ~/right/joints one empty PoseArray, the markers delete right and draw left."""
    h = header(5.0)
    msgs = by_topic(frame_messages([output('left', -30)], frozenset({'right'}), ICVL16, h))
    assert set(msgs) == {'joints', 'joints_cloud', 'left/joints', 'right/joints', 'markers'}
    assert len(msgs['joints'].poses) == 16 and len(msgs['left/joints'].poses) == 16
    assert msgs['right/joints'].poses == []
    actions = {(m.ns, m.action) for m in msgs['markers'].markers}
    assert actions == {('right/joints', Marker.DELETE), ('right/bones', Marker.DELETE),
                       ('left/joints', Marker.ADD), ('left/bones', Marker.ADD)}


def test_two_hands_then_one():
    """Both hands, then only the right one: ~/left/joints gets its one empty message and the
    right hand keeps publishing."""
    h = header(6.0)
    both = by_topic(frame_messages([output('left', -80, 0.9), output('right', 80, 0.7)],
                                   frozenset(), ICVL16, h))
    assert conv.xyz_mm_from_pose_array(both['joints'])[:, 0].mean() < 0      # the left (best)
    assert {m.ns for m in both['markers'].markers} == {
        'left/joints', 'left/bones', 'right/joints', 'right/bones'}
    one = by_topic(frame_messages([output('right', 80)], frozenset({'left', 'right'}), ICVL16, h))
    assert one['left/joints'].poses == [] and len(one['right/joints'].poses) == 16
    assert len(one['joints'].poses) == 16
