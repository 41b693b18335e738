"""RViz skeleton: one sphere per joint coloured by finger, one line list for the bones, in
one namespace pair per hand side ('right/joints' + 'right/bones', 'left/joints' + 'left/bones').

Pure functions (HandPose arrays -> MarkerArray); colours come from core.skeleton so the
markers, the debug image and the training plots agree.
"""
from typing import List, Sequence

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
import numpy as np
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from .conversions import MM_PER_M
from ..core.skeleton import JointSet

JOINT_NS = 'joints'
BONE_NS = 'bones'


def namespaces(side: str) -> List[str]:
    """Marker namespaces of one hand side: ['<side>/joints', '<side>/bones']."""
    return [f'{side}/{JOINT_NS}', f'{side}/{BONE_NS}']


def _color(rgb: Sequence[float], alpha: float = 1.0) -> ColorRGBA:
    """RGB in 0..1 -> ColorRGBA."""
    return ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=float(alpha))


def _point(xyz_m: np.ndarray) -> Point:
    """(3,) metres -> Point."""
    return Point(x=float(xyz_m[0]), y=float(xyz_m[1]), z=float(xyz_m[2]))


def skeleton_markers(xyz_mm: np.ndarray, joint_set: JointSet, header: Header,
                     side: str = 'right',
                     joint_diameter_m: float = 0.012, bone_width_m: float = 0.005,
                     alpha: float = 1.0) -> MarkerArray:
    """(J, 3) joints in mm of the ``side`` hand -> spheres (ns '<side>/joints', id = joint
    index) and bones (ns '<side>/bones', id 0)."""
    if xyz_mm.shape != (joint_set.num_joints, 3):
        raise ValueError(f'expected ({joint_set.num_joints}, 3) joints for {joint_set.name}, '
                         f'found {xyz_mm.shape}')
    joint_ns, bone_ns = namespaces(side)
    xyz_m = np.asarray(xyz_mm, np.float64) / MM_PER_M
    ident = Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)
    forever = Duration(sec=0, nanosec=0)
    markers = []
    for j in range(joint_set.num_joints):
        markers.append(Marker(
            header=header, ns=joint_ns, id=j, type=Marker.SPHERE, action=Marker.ADD,
            pose=Pose(position=_point(xyz_m[j]), orientation=ident),
            scale=Vector3(x=joint_diameter_m, y=joint_diameter_m, z=joint_diameter_m),
            color=_color(joint_set.color(j), alpha), lifetime=forever))
    bones = Marker(header=header, ns=bone_ns, id=0, type=Marker.LINE_LIST, action=Marker.ADD,
                   pose=Pose(orientation=ident), scale=Vector3(x=bone_width_m, y=0.0, z=0.0),
                   color=_color((1.0, 1.0, 1.0), alpha), lifetime=forever)
    for parent, child in joint_set.bones:
        color = _color(joint_set.color(child), alpha)   # a bone takes its distal finger's colour
        bones.points += [_point(xyz_m[parent]), _point(xyz_m[child])]
        bones.colors += [color, color]
    markers.append(bones)
    return MarkerArray(markers=markers)


def delete_hand_markers(joint_set: JointSet, header: Header, side: str) -> MarkerArray:
    """DELETE actions for every marker ``skeleton_markers`` draws for ``side`` (the other
    side's markers stay)."""
    joint_ns, bone_ns = namespaces(side)
    ids = [(joint_ns, j) for j in range(joint_set.num_joints)] + [(bone_ns, 0)]
    return MarkerArray(markers=[Marker(header=header, ns=ns, id=i, action=Marker.DELETE)
                                for ns, i in ids])
