"""handedness auto over real DDS: the shipped detector's left/right classifier sends a rendered
right hand to ~/right/joints and a rendered left hand to ~/left/joints.

AUTO-DEPENDENT: needs the shipped detector network (a ``detector:`` entry in models.yaml);
skips, saying so, until it ships. The explicit-side tests are in test_node_hands.py.
"""
import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = [pytest.mark.ros, pytest.mark.slow]

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202

from hand_pose_ros.core.resources import resolve_detector_file  # noqa: E402
from hand_pose_ros.core.specs import dataset_spec  # noqa: E402
from hand_pose_ros.synthetic.generator import SyntheticGenerator  # noqa: E402
from test.ros.harness import FrameSender, header_of, stamp_ns  # noqa: E402

INTR = dataset_spec('icvl').intrinsics
NODE = '/hand_pose_node'


def rendered_hand(side: str, seed: int) -> np.ndarray:
    """One synthetic frame (mm) of a true ``side`` hand, without background clutter."""
    gen = SyntheticGenerator(INTR, seed=seed, background=False, handedness=side)
    return gen.sample(1).depth_mm[0].numpy()


@pytest.fixture(scope='module')
def auto_node(probe, start_node):
    if resolve_detector_file('default') is None:
        pytest.skip('handedness auto needs the shipped hand detector (no detector entry in '
                    'models/models.yaml yet)')
    return start_node('hand_pose_ros.ros.node', {
        'model': 'default', 'device': 'cpu', 'reliable_input': True, 'min_confidence': 0.0,
        'handedness': 'auto', 'detector': 'learned'}, 'hand_pose_node_auto')


def test_each_rendered_hand_reaches_its_side(probe, auto_node):
    """Catches the sides swapped (a mirrored classifier output or topic mix-up) and every hand
    put on one side."""
    sender = FrameSender(probe, INTR)
    inbox = {side: probe.subscribe(PoseArray, f'{NODE}/{side}/joints')
             for side in ('right', 'left')}
    joints = probe.subscribe(PoseArray, f'{NODE}/joints')
    assert sender.wait_ready(), auto_node.output()
    sender.prime(joints, rendered_hand('right', 0))
    for seed, side in enumerate(('right', 'left', 'right', 'left'), start=1):
        header = sender.send(rendered_hand(side, seed))
        key = stamp_ns(header)
        assert joints.wait_for(lambda msgs: any(stamp_ns(m.header) == key for m in msgs)), (
            f'no hand found in the {side} frame (seed {seed})\n' + auto_node.output())
        other = 'left' if side == 'right' else 'right'
        mine = inbox[side].wait_for(lambda msgs: any(
            stamp_ns(header_of(m)) == key and m.poses for m in msgs))
        wrong = [m for m in inbox[other].messages if stamp_ns(m.header) == key and m.poses]
        assert mine and not wrong, f'{side} hand (seed {seed}) not on ~/{side}/joints only'
