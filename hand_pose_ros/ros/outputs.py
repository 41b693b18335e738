"""What one processed frame publishes, as (topic, message) pairs; pure, no publishing.

``~/joints`` and ``~/joints_cloud`` carry the highest-scoring accepted hand, ``~/right/joints``
and ``~/left/joints`` the hand of each side, ``~/markers`` each side's skeleton in its own
namespaces. The "lost" rule: a topic that carried a hand on the previous frame and has none on
this one gets ONE empty message (empty PoseArray, zero-point cloud) and the lost side's markers
are deleted (DELETE actions in its namespaces), so no consumer keeps acting on stale joints.
``~/right/wrist`` and ``~/left/wrist`` carry each hand's wrist pose (ros/wrist_outputs.py) when
the joint set has a wrist, and ``/tf`` the same as TF frames when asked; a lost hand's wrist
just stops (a PoseStamped has no empty form; its joints topic says it is lost).
Every message carries the input image's header.
"""
from typing import AbstractSet, Any, Dict, List, Sequence, Tuple

from geometry_msgs.msg import PoseArray, PoseStamped
import numpy as np
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from . import conversions as conv
from .markers import delete_hand_markers, skeleton_markers
from .pipeline import HandOutput
from .wrist_outputs import tf_message, TF_TOPIC, wrist_poses, wrist_topic
from ..core.handedness import SIDES
from ..core.skeleton import JointSet

JOINTS = 'joints'
CLOUD = 'joints_cloud'
MARKERS = 'markers'


def side_topic(side: str) -> str:
    """Relative name (below the node) of one side's PoseArray topic: '<side>/joints'."""
    return f'{side}/{JOINTS}'


# every output topic (relative to the node: '~/<topic>') and its message type
TOPICS: Dict[str, type] = {JOINTS: PoseArray, CLOUD: PointCloud2, MARKERS: MarkerArray,
                           **{side_topic(side): PoseArray for side in SIDES},
                           **{wrist_topic(side): PoseStamped for side in SIDES}}


def empty_cloud(header: Header) -> PointCloud2:
    """A zero-point cloud with the joint-cloud fields (the 'hand lost' message)."""
    return conv.point_cloud(np.zeros((0, 3), np.float32), np.zeros(0, np.float32), header)


def frame_messages(hands: Sequence[HandOutput], visible_before: AbstractSet[str],
                   joint_set: JointSet, header: Header,
                   tf: bool = False) -> List[Tuple[str, Any]]:
    """(topic, message) pairs for one frame: ``hands`` are the accepted hands (best score
    first, at most one per side), ``visible_before`` the sides published on the frame
    before; ``tf``: add the wrists' TFMessage under TF_TOPIC ('/tf', absolute). Empty when
    nothing is to be said (no hand now, none before)."""
    out: List[Tuple[str, Any]] = []
    if hands:
        best = hands[0]
        out += [(JOINTS, conv.pose_array(best.xyz_mm, header)),
                (CLOUD, conv.point_cloud(best.xyz_mm, best.pose.confidence, header))]
    elif visible_before:
        out += [(JOINTS, PoseArray(header=header)), (CLOUD, empty_cloud(header))]
    by_side = {h.side: h for h in hands}
    markers = []
    for side in SIDES:
        if side in by_side:
            out.append((side_topic(side), conv.pose_array(by_side[side].xyz_mm, header)))
            markers += skeleton_markers(by_side[side].xyz_mm, joint_set, header, side).markers
        elif side in visible_before:
            out.append((side_topic(side), PoseArray(header=header)))
            markers += delete_hand_markers(joint_set, header, side).markers
    if markers:
        out.append((MARKERS, MarkerArray(markers=markers)))
    wrists = wrist_poses(hands, joint_set, header)
    out += [(wrist_topic(side), pose) for side, pose in wrists]
    transforms = tf_message(wrists) if tf else None
    if transforms is not None:
        out.append((TF_TOPIC, transforms))
    return out
