"""hand_retarget_node over real DDS (a separate process): MediaPipe-21 PoseArrays of a fist and
of an open hand in, the robot hand's JointState out with the same stamps, the fist flexing the
robot's fingers clearly more; a PoseArray of the wrong length or an empty one (hand lost)
publishes nothing, warns or says so, and never stops the node; a missing urdf is one error
line and exit status 1.

The robot hand is the small one of test/teleop/robot_hand.py (URDF written here). Needs rclpy
and dex-retargeting (``pip install 'hand_pose_ros[teleop]'``); skips, saying so, without them.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytest.importorskip('dex_retargeting.retargeting_config',
                    reason="dex-retargeting is not installed: pip install 'hand_pose_ros[teleop]'")
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202
from sensor_msgs.msg import JointState  # noqa: E402

from hand_pose_ros.ros import conversions as conv  # noqa: E402
from test.ros.harness import Probe, ROS_ENV, stamp_ns, TIMEOUT_S  # noqa: E402
from test.teleop.robot_hand import (FINGERS, flexion_joints, synthetic_hand_m,  # noqa: E402
                                    write_robot_hand)

MODULE = 'hand_pose_ros.ros.retarget_node'
NODE = '/hand_retarget_node'
OPEN_S, FIST_S = 0.0, 2.0
HOLD_FRAMES = 15      # a pose held 0.5 s at 30 fps (the optimiser steps once per frame)


class RetargetSession:
    """One hand_retarget_node, a PoseArray publisher to it and an inbox of its JointStates."""

    def __init__(self, probe, proc, side: str) -> None:
        self.probe, self.proc, self.side = probe, proc, side
        self.pub = probe.publisher(PoseArray, f'/hand_pose_node/{side}/joints')
        self.inbox = probe.subscribe(JointState, f'{NODE}/joint_states')
        assert Probe.wait_subscribed(self.pub), proc.output()
        self.send(synthetic_hand_m(OPEN_S, side))       # until the output is matched too
        deadline_frames = int(TIMEOUT_S / 2)
        for _ in range(deadline_frames):
            if self.answer(self.send(synthetic_hand_m(OPEN_S, side)), 2.0) is not None:
                break
        else:
            raise AssertionError('hand_retarget_node answered nothing:\n' + proc.output())
        self.inbox.clear()

    def send(self, xyz_m, header=None):
        """Publish joints (J, 3) in metres (None: an empty PoseArray); returns the header."""
        header = header or self.probe.header()
        msg = (PoseArray(header=header) if xyz_m is None
               else conv.pose_array(np.asarray(xyz_m) * 1000.0, header))
        self.pub.publish(msg)
        return header

    def answer(self, header, timeout_s: float = TIMEOUT_S):
        """The JointState stamped like ``header`` (waits), or None."""
        key = stamp_ns(header)
        if not self.inbox.wait_for(lambda msgs: any(stamp_ns(m.header) == key for m in msgs),
                                   timeout_s):
            return None
        return next(m for m in self.inbox.messages if stamp_ns(m.header) == key)

    def hold(self, xyz_m, frames: int = HOLD_FRAMES) -> JointState:
        """Send a pose ``frames`` times, each answered with its own stamp; the last answer."""
        for _ in range(frames):
            header = self.send(xyz_m)
            msg = self.answer(header)
            assert msg is not None, self.proc.output()
        return msg


def mean_flexion(msg: JointState, joints=None) -> float:
    """Mean position (rad) of the four long fingers' joints in a JointState."""
    q = dict(zip(msg.name, msg.position))
    return float(np.mean([q[j] for j in (joints or flexion_joints())]))


@pytest.fixture(scope='module')
def robot_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('robot_hand')
    return {side: write_robot_hand(folder, side) for side in ('right', 'left')}


@pytest.fixture(scope='module')
def session(probe, start_node, robot_files):
    urdf, config = robot_files['right']
    proc = start_node(MODULE, {'urdf': str(urdf), 'config': str(config)}, 'hand_retarget_node')
    return RetargetSession(probe, proc, 'right')


def test_fist_and_open_hand_become_joint_states_with_the_input_stamps(session):
    """Catches no output, outputs not stamped with their input, joint names that are not the
    robot's, or joints that do not follow the hand (the fist must flex the robot's fingers
    clearly more than the open hand, and opening must undo it)."""
    s = session
    open_msg = s.hold(synthetic_hand_m(OPEN_S))
    fist_msg = s.hold(synthetic_hand_m(FIST_S))
    again = s.hold(synthetic_hand_m(OPEN_S))
    assert set(open_msg.name) == set(flexion_joints(FINGERS))
    assert len(open_msg.position) == len(open_msg.name) and open_msg.header.frame_id == ''
    flex = [mean_flexion(m) for m in (open_msg, fist_msg, again)]
    print(f'\nhand_retarget_node: mean flexion (rad) open {flex[0]:.3f}, fist {flex[1]:.3f}, '
          f'open again {flex[2]:.3f}')
    assert flex[1] > flex[0] + 0.5 and flex[1] > flex[2] + 0.5, flex
    stamps = [stamp_ns(m.header) for m in s.inbox.messages]
    assert len(stamps) == len(set(stamps)) == 3 * HOLD_FRAMES     # one answer per input


def test_wrong_joint_count_and_lost_hand_publish_nothing_and_never_stop_the_node(session):
    """Catches a crash (or a JointState) on a PoseArray that is not 21 joints, a warning
    without the count, an empty PoseArray (hand lost) moving the robot, and the node not
    answering again afterwards."""
    s = session
    s.inbox.clear()
    wrong = [s.send(synthetic_hand_m(OPEN_S)[:16]) for _ in range(3)]
    lost = s.send(None)
    nan = s.send(np.full((21, 3), np.nan))
    back = s.send(synthetic_hand_m(FIST_S))
    assert s.answer(back) is not None, s.proc.output()     # in order: the others came first
    answered = {stamp_ns(m.header) for m in s.inbox.messages}
    assert answered == {stamp_ns(back)}, 'a JointState for a skipped PoseArray'
    assert not {stamp_ns(h) for h in wrong + [lost, nan]} & answered
    out = s.proc.output()
    assert 'skipped wrong joint count: a PoseArray of 16 poses' in out, out
    assert 'expected 21 MediaPipe-21 joints' in out and '(1 skipped so far)' in out
    assert 'skipped bad joints' in out and 'finite' in out
    assert 'hand lost' in out and 'hand back' in out
    assert s.proc.proc.poll() is None and 'Traceback' not in out


def test_left_hand_from_fingertip_links_without_a_config(probe, start_node, robot_files):
    """Catches side:=left not listening on hand_pose_node/left/joints, a tip_links string array
    parameter that does not reach the retargeter (no config: wrist -> fingertip vectors, the
    URDF's root link as the wrist, its mimic joints left to follow), or a left hand bending
    its robot hand the wrong way."""
    urdf, _ = robot_files['left']
    proc = start_node(MODULE, {'urdf': str(urdf), 'side': 'left', 'low_pass_alpha': 1.0,
                               'tip_links': [f'{f}_tip' for f in FINGERS]},
                      'hand_retarget_node_left')
    s = RetargetSession(probe, proc, 'left')
    open_msg = s.hold(synthetic_hand_m(OPEN_S, 'left'))
    fist_msg = s.hold(synthetic_hand_m(FIST_S, 'left'))
    print(f'\nleft, fingertips: mean flexion (rad) open {mean_flexion(open_msg):.3f}, fist '
          f'{mean_flexion(fist_msg):.3f}')
    assert mean_flexion(fist_msg) > mean_flexion(open_msg) + 0.5
    assert 'vector retargeting of the left hand from /hand_pose_node/left/joints' in \
        proc.output()
    proc.stop()


def run_to_exit(*params: str) -> subprocess.CompletedProcess:
    """Run hand_retarget_node with ``-p`` parameters until it exits (it should at once)."""
    cmd = [sys.executable, '-m', MODULE, '--ros-args']
    for p in params:
        cmd += ['-p', p]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **ROS_ENV})


@pytest.mark.parametrize('params,message', [
    ((), 'parameter urdf is required'),
    (('urdf:=/no/such/hand.urdf',), 'robot hand URDF not found: /no/such/hand.urdf'),
    (('side:=both', f'urdf:={__file__}'), "side must be 'right' or 'left'"),
    ((f'urdf:={__file__}',), 'give a dex-retargeting config (parameter config) or the '
     "robot's fingertip links (parameter tip_links)"),
    ((f'urdf:={__file__}', 'low_pass_alpha:=2.0'), 'low_pass_alpha'),
])
def test_start_up_errors_are_one_line_and_exit_1(params, message):
    """Catches a traceback, a zero exit status or an unclear message for a missing or wrong
    urdf / side parameter."""
    result = run_to_exit(*params)
    text = result.stdout + result.stderr
    assert result.returncode == 1, text
    assert 'Traceback' not in text
    (line,) = [line for line in text.strip().splitlines() if line.strip()]
    assert message in line and 'FATAL' in line
