"""A small five-finger robot hand (URDF written by the tests) and its retargeting config.

The root link ``palm`` is dex-retargeting's MANO wrist frame (frames.py): z from the wrist
towards the middle finger, x out of the palm's inside, y towards the thumb on a right hand
and towards the little finger on a left one (the left hand is the right one mirrored in y).
Each finger has three revolute joints, 0 .. 1.6 rad, that flex it towards the palm (+x), the
last one coupled to the second (a URDF mimic joint, as in many robot hands); the fingers are
about a human hand's size, so the retargeting scale is 1.
"""
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch
import yaml

FLEX_LIMIT_RAD = 1.6
# finger: (base in the palm frame of a right hand (m), direction at rest, segment lengths (m))
_FINGERS: Dict[str, Tuple[Tuple[float, float, float], Tuple[float, float, float],
                          Tuple[float, float, float]]] = {
    'thumb': ((0.007, 0.016, 0.013), (0.0, 0.53, 0.85), (0.020, 0.031, 0.025)),
    'index': ((0.0, 0.021, 0.094), (0.0, 0.0, 1.0), (0.029, 0.012, 0.009)),
    'middle': ((0.0, 0.0, 0.096), (0.0, 0.0, 1.0), (0.034, 0.014, 0.010)),
    'ring': ((0.0, -0.015, 0.086), (0.0, 0.0, 1.0), (0.031, 0.013, 0.009)),
    'little': ((0.0, -0.033, 0.072), (0.0, 0.0, 1.0), (0.024, 0.011, 0.009)),
}
FINGERS = tuple(_FINGERS)                 # thumb, index, middle, ring, little
JOINTS = ('mcp', 'pip', 'dip')            # the thumb's are its CMC, MCP and IP joints
DIP_PER_PIP = 0.7                         # each dip joint mimics its pip joint (URDF <mimic>)
# MediaPipe-21 index of each finger's joint after its first robot joint (PIP / thumb MCP)
# and of its tip
_HUMAN_SECOND = {'thumb': 2, 'index': 6, 'middle': 10, 'ring': 14, 'little': 18}
_HUMAN_TIP = {'thumb': 4, 'index': 8, 'middle': 12, 'ring': 16, 'little': 20}


def flexion_joints(fingers=FINGERS[1:], joints=JOINTS) -> List[str]:
    """Joint names of the given fingers (default: every joint of the four long fingers)."""
    return [f'{f}_{j}' for f in fingers for j in joints]


def _v(values) -> str:
    return ' '.join(f'{float(v):.6g}' for v in values)


def robot_hand_urdf(side: str = 'right') -> str:
    """URDF text of the robot hand of ``side``."""
    mirror = np.array([1.0, 1.0 if side == 'right' else -1.0, 1.0])
    inertial = ('<inertial><mass value="0.01"/><inertia ixx="1e-6" ixy="0" ixz="0" '
                'iyy="1e-6" iyz="0" izz="1e-6"/></inertial>')
    parts = [f'<?xml version="1.0"?>\n<robot name="test_hand_{side}">',
             f'  <link name="palm">{inertial}</link>']
    for finger, (base, direction, lengths) in _FINGERS.items():
        base, d = np.array(base) * mirror, np.array(direction) * mirror
        d = d / np.linalg.norm(d)
        axis = np.cross(d, [1.0, 0.0, 0.0])      # a positive turn moves d towards +x
        axis = axis / np.linalg.norm(axis)
        parent, offset = 'palm', base
        links = [f'{finger}_proximal', f'{finger}_middle', f'{finger}_distal']
        for joint, link, length in zip(JOINTS, links, lengths):
            mimic = (f'    <mimic joint="{finger}_pip" multiplier="{DIP_PER_PIP}" offset="0"/>'
                     if joint == 'dip' else '')
            parts += [f'  <link name="{link}">{inertial}</link>',
                      f'  <joint name="{finger}_{joint}" type="revolute">',
                      f'    <parent link="{parent}"/><child link="{link}"/>',
                      f'    <origin xyz="{_v(offset)}" rpy="0 0 0"/><axis xyz="{_v(axis)}"/>',
                      f'    <limit lower="0" upper="{FLEX_LIMIT_RAD}" effort="1" velocity="3"/>',
                      *([mimic] if mimic else []), '  </joint>']
            parent, offset = link, d * length
        parts += [f'  <link name="{finger}_tip">{inertial}</link>',
                  f'  <joint name="{finger}_tip_joint" type="fixed">',
                  f'    <parent link="{parent}"/><child link="{finger}_tip"/>',
                  f'    <origin xyz="{_v(offset)}" rpy="0 0 0"/>',
                  '  </joint>']
    parts.append('</robot>\n')
    return '\n'.join(parts)


def retargeting_config(urdf_path: str) -> dict:
    """A dex-retargeting vector config: wrist -> fingertip and wrist -> second joint vectors."""
    task = [f'{f}_tip' for f in FINGERS] + [f'{f}_middle' for f in FINGERS]
    human = [_HUMAN_TIP[f] for f in FINGERS] + [_HUMAN_SECOND[f] for f in FINGERS]
    return {'retargeting': {
        'type': 'vector',
        'urdf_path': urdf_path,
        'target_joint_names': flexion_joints(FINGERS, JOINTS[:2]),   # the mimic joints follow
        'target_origin_link_names': ['palm'] * len(task),
        'target_task_link_names': task,
        'target_link_human_indices': [[0] * len(human), human],
        'scaling_factor': 1.0,
        'low_pass_alpha': 1.0,
    }}


def write_robot_hand(folder: Path, side: str = 'right') -> Tuple[Path, Path]:
    """Write ``test_hand_<side>.urdf`` and ``test_hand_<side>.yml`` into ``folder``."""
    urdf = Path(folder) / f'test_hand_{side}.urdf'
    urdf.write_text(robot_hand_urdf(side), encoding='utf-8')
    config = Path(folder) / f'test_hand_{side}.yml'
    config.write_text(yaml.safe_dump(retargeting_config(str(urdf))), encoding='utf-8')
    return urdf, config


def synthetic_hand_m(t_s: float, side: str = 'right') -> np.ndarray:
    """MediaPipe-21 joints (21, 3) in metres, camera optical frame, of the synthetic animated
    hand at time ``t_s`` (0: open, 2: a fist; palm towards the camera about 0.45 m away)."""
    from hand_pose_ros.core.skeleton import FROM_HAND22
    from hand_pose_ros.synthetic.hand_model import default_skeleton, forward_kinematics
    from hand_pose_ros.synthetic.poses import animated_angles, animated_placement

    local = forward_kinematics(animated_angles(t_s), default_skeleton(),
                               torch.tensor([side == 'left']))
    rot, palm = animated_placement(t_s)
    offset = palm - (rot @ local[:, 1, :, None])[..., 0]
    xyz = (local @ rot.transpose(1, 2) + offset[:, None])[0].numpy()
    return xyz[list(FROM_HAND22['mediapipe21'])].astype(np.float64) / 1000.0
