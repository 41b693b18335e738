"""The wrist over real DDS (hand_pose_node as a separate process): a whole-hand model (joint_order
auto -> MediaPipe-21) publishes each side's wrist on ~/<side>/wrist, stamped with the input
header, at the side's published wrist joint; an ICVL16 model (no wrist) publishes no wrist and
keeps running.

The whole-hand node runs a tiny untrained HAND22 network (fast; random weights: its joints are
nonsense, but they are the joints the node publishes, which is all the wrist has to agree
with).
"""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseArray, PoseStamped  # noqa: E402, I100, I202

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from test.conftest import blob_frame  # noqa: E402
from test.ros.harness import (FrameSender, Inbox, set_node_parameters,  # noqa: E402
                              stamp_ns, tiny_node_parameters)

INTR = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
NODE = '/hand_pose_node'
FRAME_ID = 'camera_depth_optical_frame'


def hand() -> np.ndarray:
    """A hand-sized blob 45 cm from the camera (mm)."""
    return blob_frame(center=(170, 110), depth=450.0)


def make_tiny_hand22_model(path: Path) -> Path:
    """Save a fast random-weight whole-hand (HAND22) pose checkpoint."""
    import torch

    from hand_pose_ros.core.checkpoint import save_checkpoint
    from hand_pose_ros.core.config import ModelConfig
    from hand_pose_ros.core.nets.pose_net import build_pose_net

    torch.manual_seed(0)
    config = ModelConfig(joint_set='hand22', width=16, stacks=1, input_size=64,
                         heatmap_size=32, hourglass_depth=3)
    save_checkpoint(path, build_pose_net(config), config)
    return path


def answer(inbox: Inbox, key: int, timeout_s: float = 120.0):
    """The message stamped ``key`` (ns) on ``inbox`` (waits), or None on timeout."""
    if not inbox.wait_for(lambda msgs: any(stamp_ns(m.header) == key for m in msgs),
                          timeout_s):
        return None
    return next(m for m in inbox.messages if stamp_ns(m.header) == key)


def subscribe(probe, node: str) -> dict:
    """Inboxes of both sides' joints and wrist topics of ``node``."""
    return {f'{side}/{kind}': probe.subscribe(msg_type, f'{node}/{side}/{kind}')
            for side in ('right', 'left')
            for kind, msg_type in (('joints', PoseArray), ('wrist', PoseStamped))}


def start(probe, start_node, params: dict, name: str):
    """Start hand_pose_node with ``params``: (process, frame sender, inboxes), once the node
    listens."""
    proc = start_node('hand_pose_ros.ros.node', params, name)
    sender = FrameSender(probe, INTR)
    inbox = subscribe(probe, NODE)
    assert sender.wait_ready(), proc.output()
    return proc, sender, inbox


def test_whole_hand_model_publishes_each_wrist_at_its_wrist_joint(probe, start_node,
                                                                  tmp_path_factory):
    """Catches no wrist on DDS, a wrist on the wrong side's topic, a header other than the
    input's, a non-unit quaternion, and a wrist position other than the published wrist
    joint (MediaPipe-21 joint 0, metres) of the same frame and side."""
    model = make_tiny_hand22_model(tmp_path_factory.mktemp('model') / 'tiny_hand22.pt')
    proc, sender, inbox = start(probe, start_node, tiny_node_parameters(model),
                                'hand_pose_node_wrist')
    sender.prime(inbox['right/wrist'], hand())
    for side in ('right', 'left'):
        if side == 'left':
            assert set_node_parameters(probe, NODE, {'handedness': 'left'})[0].successful
            sender.prime(inbox['left/wrist'], hand())
        header = sender.send(hand())
        key = stamp_ns(header)
        wrist, joints = answer(inbox[f'{side}/wrist'], key), answer(inbox[f'{side}/joints'], key)
        assert wrist is not None and joints is not None, proc.output()
        assert len(joints.poses) == 21                            # mediapipe21
        assert wrist.header.frame_id == FRAME_ID == header.frame_id
        assert stamp_ns(wrist.header) == key
        q, p, j0 = wrist.pose.orientation, wrist.pose.position, joints.poses[0].position
        assert np.linalg.norm([q.x, q.y, q.z, q.w]) == pytest.approx(1.0, abs=1e-9)
        np.testing.assert_allclose([p.x, p.y, p.z], [j0.x, j0.y, j0.z], atol=1e-6)
        other = 'left' if side == 'right' else 'right'
        assert all(stamp_ns(m.header) != key for m in inbox[f'{other}/wrist'].messages)
    log = proc.output()
    assert log.count('wrist pose of each hand on ~/right/wrist and ~/left/wrist') == 1, log
    assert proc.proc.poll() is None and 'Traceback' not in log
    assert proc.stop() == 0


def test_icvl16_model_publishes_no_wrist_and_keeps_running(probe, start_node, tiny_model):
    """Catches a wrist made up from ICVL16's palm joint, a crash on a joint set without a
    wrist, and a missing start-up line saying why there is no wrist."""
    proc, sender, inbox = start(probe, start_node, tiny_node_parameters(tiny_model),
                                'hand_pose_node_icvl_wrist')
    sender.prime(inbox['right/joints'], hand())
    for _ in range(3):
        key = stamp_ns(sender.send(hand()))
        joints = answer(inbox['right/joints'], key)
        assert joints is not None and len(joints.poses) == 16, proc.output()
    # a wrist would have followed its frame's joints at once; give it a second more
    assert not inbox['right/wrist'].wait_for(lambda msgs: bool(msgs), 1.0)
    assert inbox['right/wrist'].messages == [] and inbox['left/wrist'].messages == []
    log = proc.output()
    assert log.count('no wrist pose: the icvl16 joints have no wrist') == 1, log
    assert proc.proc.poll() is None and 'Traceback' not in log
    assert proc.stop() == 0


def test_joint_order_icvl16_from_a_whole_hand_model(probe, start_node, tmp_path_factory):
    """joint_order chooses what the topics and joint_names carry: ICVL16 from the whole-hand
    network gives 16 poses and no wrist (ICVL16 has none). Catches the parameter being
    ignored (21 poses) and a wrist published for a joint order without one."""
    model = make_tiny_hand22_model(tmp_path_factory.mktemp('model16') / 'tiny_hand22.pt')
    proc, sender, inbox = start(probe, start_node,
                                {**tiny_node_parameters(model), 'joint_order': 'icvl16'},
                                'hand_pose_node_order')
    sender.prime(inbox['right/joints'], hand())
    key = stamp_ns(sender.send(hand()))
    joints = answer(inbox['right/joints'], key)
    assert joints is not None and len(joints.poses) == 16, proc.output()
    assert inbox['right/wrist'].messages == []
    log = proc.output()
    assert '(icvl16, 16 joints)' in log and 'no wrist pose: the icvl16 joints' in log, log
    assert proc.stop() == 0
