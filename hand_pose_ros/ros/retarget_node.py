"""hand_retarget_node: one hand's MediaPipe-21 joints in, a robot hand's joint states out.

Subscribes to ``hand_pose_node/<side>/joints`` (geometry_msgs/PoseArray, 21 joints in metres
in the MediaPipe-21 order, as hand_pose_node publishes them with a whole-hand model;
remappable), retargets each hand to the robot hand of ``urdf`` with dex-retargeting
(hand_pose_ros.teleop.HandRetargeter) and publishes ``~/joint_states`` (sensor_msgs/JointState:
every movable joint of the robot, radians / metres, stamped with the input's stamp).

An empty PoseArray (hand_pose_node's "hand lost") publishes nothing: the robot holds its last
joint states until the hand is back. A PoseArray of another length, non-finite joints or a
failed optimisation skip that message with a throttled warning that counts them; the node
never stops for bad input. It needs ``pip install 'hand_pose_ros[teleop]'``.
"""
from collections import Counter
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from geometry_msgs.msg import PoseArray
import numpy as np
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, ParameterType
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                              ParameterException, ParameterUninitializedException)
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

from .diagnostics import ThrottledWarnings
from .node_params import ParamSpec
from .spin import run_node
from ..teleop.frames import NUM_JOINTS, SIDES

NODE_NAME = 'hand_retarget_node'
INPUT_TOPIC = 'hand_pose_node/{side}/joints'    # relative: follows the node's namespace
OUTPUT_TOPIC = '~/joint_states'
QUEUE_DEPTH = 10
WARN_PERIOD_S = 5.0
NO_INPUT_WARN_PERIOD_S = 5.0
USAGE = ('ros2 run hand_pose_ros hand_retarget_node --ros-args -p urdf:=/path/to/hand.urdf '
         '(-p config:=/path/to/dex_retargeting.yml | -p tip_links:="[thumb_tip, index_tip, '
         'middle_tip, ring_tip, little_tip]")')

# name -> (spec, default, ROS type); a default of None is a string array without a default
PARAMETERS: Tuple[Tuple[ParamSpec, Any, int], ...] = (
    (ParamSpec('urdf', "the robot hand's URDF file (required). Its root link frame must be "
               "dex-retargeting's MANO wrist frame: z from the wrist towards the middle "
               'finger, x out of the palm (the dex-urdf robot hands are)', read_only=True),
     '', ParameterType.PARAMETER_STRING),
    (ParamSpec('config', 'a dex-retargeting YAML config (retargeting: type vector, dexpilot or '
               'position, link names, target_link_human_indices in MediaPipe-21 indices); its '
               'urdf_path is replaced by urdf. Empty: wrist -> fingertip vector retargeting of '
               'tip_links', read_only=True),
     '', ParameterType.PARAMETER_STRING),
    (ParamSpec('side', "the hand to follow, 'right' or 'left': input hand_pose_node/<side>/"
               'joints and the wrist frame of that side; the robot hand should be of that side',
               read_only=True),
     'right', ParameterType.PARAMETER_STRING),
    (ParamSpec('tip_links', "without config: the robot's fingertip links in the order thumb, "
               "index, middle, ring, little ('' for a finger it lacks)", read_only=True),
     None, ParameterType.PARAMETER_STRING_ARRAY),
    (ParamSpec('wrist_link', 'without config: the robot link matched to the human wrist; empty '
               "= the URDF's root link", read_only=True),
     '', ParameterType.PARAMETER_STRING),
    (ParamSpec('scaling_factor', 'robot hand size / human hand size (the human vectors are '
               "scaled by it); 0 = the config's, else 1", (0.0, 10.0), read_only=True),
     0.0, ParameterType.PARAMETER_DOUBLE),
    (ParamSpec('low_pass_alpha', 'smoothing of the joint positions, new = old + alpha (raw - '
               'old): 1 = none, smaller = smoother with more lag; negative = the config\'s '
               '(none without a config)', (-1.0, 1.0), read_only=True),
     -1.0, ParameterType.PARAMETER_DOUBLE),
)


class StartupError(RuntimeError):
    """A user-caused start-up failure (parameters, URDF, config, missing package)."""


def descriptor(spec: ParamSpec, kind: int) -> ParameterDescriptor:
    """The ParameterDescriptor of one parameter (type, description, range, read_only)."""
    desc = ParameterDescriptor(name=spec.name, type=kind, description=spec.description,
                               read_only=spec.read_only)
    if spec.range is not None:
        desc.floating_point_range = [FloatingPointRange(
            from_value=float(spec.range[0]), to_value=float(spec.range[1]), step=0.0)]
    return desc


def joints_from_pose_array(msg: PoseArray) -> np.ndarray:
    """(J, 3) float64 joint positions (metres) of a PoseArray, in its order."""
    return np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses],
                    dtype=np.float64).reshape(-1, 3)


def build_retargeter(values: Dict[str, Any]):
    """The HandRetargeter the parameters describe; StartupError saying what to fix."""
    urdf = values['urdf']
    if not urdf:
        raise StartupError(f'parameter urdf is required: the robot hand URDF file. Usage: '
                           f'{USAGE}')
    if not os.path.isfile(os.path.expanduser(urdf)):
        raise StartupError(f'robot hand URDF not found: {urdf} (parameter urdf)')
    if values['side'] not in SIDES:
        raise StartupError(f"parameter side must be 'right' or 'left', found "
                           f"{values['side']!r}")
    try:
        from ..teleop.retargeter import fingertip_pairs, HandRetargeter, root_link
        kwargs = {'side': values['side'],
                  'scaling_factor': values['scaling_factor'] or None,
                  'low_pass_alpha': (values['low_pass_alpha']
                                     if values['low_pass_alpha'] >= 0 else None)}
        if values['config']:
            return HandRetargeter(urdf, values['config'], **kwargs)
        if not any(values['tip_links']):
            raise StartupError(f'give a dex-retargeting config (parameter config) or the '
                               f"robot's fingertip links (parameter tip_links). Usage: {USAGE}")
        wrist = values['wrist_link'] or root_link(urdf)
        links, joints = fingertip_pairs(wrist, values['tip_links'])
        return HandRetargeter(urdf, link_pairs=links, human_pairs=joints, **kwargs)
    except StartupError:
        raise
    except ImportError as exc:
        raise StartupError(str(exc)) from None
    except (FileNotFoundError, ValueError) as exc:
        raise StartupError(f'cannot build the retargeter: {exc}') from None
    except Exception as exc:   # pinocchio / URDF parsing errors of the robot model
        raise StartupError(f'cannot build the retargeter from {urdf}: '
                           f'{exc.__class__.__name__}: {exc}') from None


class HandRetargetNode(Node):
    """PoseArray (MediaPipe-21, metres) -> dex-retargeting -> JointState."""

    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, **kwargs)
        try:
            self._setup()
        except BaseException:
            self.destroy_node()
            raise

    def _setup(self) -> None:
        """Declare the parameters -> build the retargeter -> publisher -> subscription."""
        values = self._declare_parameters()
        self.side = values['side']
        self.retargeter = build_retargeter(values)
        try:
            import torch   # dex-retargeting's losses are tiny: one thread, no contention
            torch.set_num_threads(1)
        except ImportError:
            pass
        self.counts: Counter = Counter()
        self.warnings = ThrottledWarnings(self.get_logger().warning, WARN_PERIOD_S)
        self._lost = False
        self.pub = self.create_publisher(JointState, OUTPUT_TOPIC, QUEUE_DEPTH)
        self.sub = self.create_subscription(
            PoseArray, INPUT_TOPIC.format(side=self.side), self._on_joints, QUEUE_DEPTH,
            qos_overriding_options=QoSOverridingOptions.with_default_policies())
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._started_ns = self._steady.now().nanoseconds
        self._no_input_timer = self.create_timer(NO_INPUT_WARN_PERIOD_S, self._warn_no_input,
                                                 clock=self._steady)
        r = self.retargeter
        self.get_logger().info(
            f'ready: {r.retargeting_type} retargeting of the {self.side} hand from '
            f'{self.sub.topic_name} (geometry_msgs/PoseArray, {NUM_JOINTS} MediaPipe-21 '
            f'joints, metres) to the {len(r.joint_names)} joints of {values["urdf"]}; '
            f'publishing {self.pub.topic_name} (sensor_msgs/JointState)')

    def _declare_parameters(self) -> Dict[str, Any]:
        """Declare every parameter with its descriptor and read the values."""
        values: Dict[str, Any] = {}
        try:
            for spec, default, kind in PARAMETERS:
                value = Parameter.Type.STRING_ARRAY if default is None else default
                self.declare_parameter(spec.name, value, descriptor(spec, kind))
                try:
                    values[spec.name] = self.get_parameter(spec.name).value
                except ParameterUninitializedException:
                    values[spec.name] = []
        except (InvalidParameterTypeException, InvalidParameterValueException,
                ParameterException) as exc:
            raise StartupError(f'invalid parameter: {exc}') from None
        values['tip_links'] = [str(t) for t in (values['tip_links'] or [])]
        return values

    def _on_joints(self, msg: PoseArray) -> None:
        """Retarget one hand and publish its joint states, or count why not."""
        self.counts['received'] += 1
        if not self._no_input_timer.is_canceled():
            self._no_input_timer.cancel()
        count = len(msg.poses)
        if count == 0:                      # hand_pose_node: the hand is lost
            self.counts['hand_lost'] += 1
            if not self._lost:
                self._lost = True
                self.get_logger().info('hand lost: holding the last joint states')
            return
        if count != NUM_JOINTS:
            self._skip('wrong_joint_count', f'a PoseArray of {count} poses on '
                       f'{self.sub.topic_name}: expected {NUM_JOINTS} MediaPipe-21 joints '
                       f'(hand_pose_node with a whole-hand model and joint_order auto or '
                       f'mediapipe21; see its read-only parameter joint_names)')
            return
        try:
            names, positions = self.retargeter(joints_from_pose_array(msg))
        except ValueError as exc:           # non-finite, millimetres, degenerate palm
            self._skip('bad_joints', str(exc))
            return
        except Exception as exc:            # the optimiser: never stop the node
            self._skip('retarget_error', f'{exc.__class__.__name__}: {exc}')
            return
        if self._lost:
            self._lost = False
            self.get_logger().info('hand back')
        self.pub.publish(JointState(header=Header(stamp=msg.header.stamp), name=names,
                                    position=[float(p) for p in positions]))
        self.counts['published'] += 1

    def _skip(self, key: str, message: str) -> None:
        """Count a skipped message and warn (at most once per WARN_PERIOD_S per reason)."""
        self.counts[key] += 1
        self.warnings.warn(key, f'skipped {key.replace("_", " ")}: {message} '
                           f'({self.counts[key]} skipped so far)')

    def _warn_no_input(self) -> None:
        """Every NO_INPUT_WARN_PERIOD_S until the first PoseArray: where the node listens."""
        if self.counts['received']:
            return
        waited_s = (self._steady.now().nanoseconds - self._started_ns) / 1e9
        topic = self.sub.topic_name
        count = self.count_publishers(topic)
        self.get_logger().warning(
            f'no hand joints received in {waited_s:.0f} s on {topic} '
            f'({count} publisher{"" if count == 1 else "s"}): is hand_pose_node running (with a '
            f'whole-hand model), in the same namespace, or is the topic remapped?')


def main(args: Optional[List[str]] = None) -> int:
    """Run the node until Ctrl-C or shutdown; 1 with one error line on a start-up failure."""
    return run_node(HandRetargetNode, (StartupError,), NODE_NAME, args)


if __name__ == '__main__':
    sys.exit(main())
