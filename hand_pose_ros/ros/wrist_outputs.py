"""The wrist of each hand as ROS messages: PoseStamped on ``~/<side>/wrist`` and, where tf2_msgs
is installed, a TF frame on /tf. Pure functions (joints -> messages), no publishing.

Frames. The pose is in the input image's frame (its header, the camera optical frame), in
metres, oriented as core/wrist.py defines: x from the wrist to the middle-finger MCP, z out of
the palm, y = z x x. The TF child frame is ``<parent>_<side>_wrist`` (e.g.
``camera_depth_optical_frame_right_wrist``), its parent the input header's ``frame_id``: named
after the camera, so two cameras (or a robot whose URDF has a ``right_wrist`` link) never give
one frame two parents. Joint sets without a wrist (ICVL16, NYU14) publish neither.
"""
from typing import List, Optional, Sequence

from geometry_msgs.msg import (Point, Pose, PoseStamped, Quaternion, Transform,
                               TransformStamped, Vector3)
import numpy as np
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from .conversions import MM_PER_M
from ..core.skeleton import JointSet
from ..core.wrist import has_wrist_frame, quaternion_xyzw, wrist_frame

try:    # tf2_msgs ships with every ROS 2 distribution, not with the PyPI ROS wheels
    from tf2_msgs.msg import TFMessage
except ImportError:   # pragma: no cover - depends on the installation
    TFMessage = None

WRIST = 'wrist'
TF_TOPIC = '/tf'
# what tf2_ros.TransformBroadcaster uses: reliable, volatile, keep last 100
TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)


def wrist_topic(side: str) -> str:
    """Relative name (below the node) of one side's wrist topic: '<side>/wrist'."""
    return f'{side}/{WRIST}'


def wrist_child_frame(parent_frame: str, side: str) -> str:
    """TF child frame id of one side's wrist: '<parent_frame>_<side>_wrist'."""
    return f'{parent_frame}_{side}_{WRIST}'


def tf_available() -> bool:
    """True when tf2_msgs is importable (a ROS 2 distribution), so /tf can be published."""
    return TFMessage is not None


def wrist_status(joint_set: JointSet, tf: bool) -> str:
    """One start-up log line: whether and where the node publishes each hand's wrist."""
    if not has_wrist_frame(joint_set):
        return (f'no wrist pose: the {joint_set.name} joints have no wrist (a whole-hand model '
                'gives one); ~/right/wrist, ~/left/wrist and the wrist TF frames stay silent')
    tf_line = ('and as TF frames <camera frame>_right_wrist / _left_wrist on /tf' if tf else
               '(no TF frames: tf2_msgs is not installed, e.g. the PyPI ROS wheels; source a '
               'ROS 2 distribution for /tf)')
    return f'wrist pose of each hand on ~/right/wrist and ~/left/wrist {tf_line}'


def wrist_pose_stamped(xyz_mm: np.ndarray, joint_set: JointSet, side: str,
                       header: Header) -> PoseStamped:
    """PoseStamped (metres, input header) of one hand's wrist; ValueError as wrist_frame."""
    position_mm, rotation = wrist_frame(xyz_mm, joint_set, side)
    x, y, z = (float(v) for v in np.asarray(position_mm, np.float64) / MM_PER_M)
    qx, qy, qz, qw = (float(v) for v in quaternion_xyzw(rotation))
    return PoseStamped(header=header, pose=Pose(position=Point(x=x, y=y, z=z),
                                                orientation=Quaternion(x=qx, y=qy, z=qz, w=qw)))


def wrist_transform(pose: PoseStamped, side: str) -> TransformStamped:
    """The TransformStamped (parent: the pose's frame_id) of a wrist PoseStamped."""
    p = pose.pose.position
    return TransformStamped(
        header=pose.header, child_frame_id=wrist_child_frame(pose.header.frame_id, side),
        transform=Transform(translation=Vector3(x=p.x, y=p.y, z=p.z),
                            rotation=pose.pose.orientation))


def wrist_poses(hands: Sequence, joint_set: JointSet, header: Header) -> List[tuple]:
    """(side, PoseStamped) of every hand (HandOutput-like: ``side``, ``xyz_mm``) whose joints
    give a wrist frame; none for joint sets without a wrist or degenerate joints."""
    if not has_wrist_frame(joint_set):
        return []
    out = []
    for hand in hands:
        try:
            out.append((hand.side, wrist_pose_stamped(hand.xyz_mm, joint_set, hand.side,
                                                      header)))
        except ValueError:   # collapsed or non-finite joints: no orientation to give
            continue
    return out


def tf_message(poses: Sequence[tuple]) -> Optional[object]:
    """A TFMessage of the wrist transforms of (side, PoseStamped) pairs; None when there is
    none to send, the frame_id is empty (TF needs a parent) or tf2_msgs is missing."""
    transforms = [wrist_transform(pose, side) for side, pose in poses
                  if pose.header.frame_id]
    if not transforms or TFMessage is None:
        return None
    return TFMessage(transforms=transforms)
