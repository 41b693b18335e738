"""Wrist pose of one hand: the wrist joint's position and an orientation of the palm.

Axes, one rule for both sides (a proper rotation, det +1, for either hand):

- x, distal: from the wrist towards the middle-finger MCP (along the hand, to the fingers);
- z, palmar: the palm normal, pointing out of the palm (the side the fingers curl to);
- y = z x x: across the palm, towards the little finger on a right hand and towards the thumb
  on a left hand.

So two hands held the same way get the same rotation: palm down and fingers forward, either
hand's y points to the user's right. The palm normal is ``radial x distal`` (radial: little
MCP -> index MCP), which points out of the palm of a right hand and out of the back of a left
hand in any right-handed frame (core/handedness.py); it is negated for a left hand. Only the
wrist and the index, middle and little MCPs are read: they sit on the rigid palm, so finger
flexion leaves the frame where it is (test/core/test_wrist.py).

Joint sets with these four joints (MEDIAPIPE21, HAND22, MSRA21) give a frame; ICVL16 (no
wrist) and NYU14 (two approximate wrist points) do not.
"""
from typing import Optional, Tuple, Union

import numpy as np

from .handedness import check_side
from .skeleton import get_joint_set, JointSet

WRIST_JOINTS: Tuple[str, ...] = ('wrist', 'index_mcp', 'middle_mcp', 'little_mcp')
MIN_LENGTH_MM = 1.0      # shorter wrist->middle MCP or little->index MCP: degenerate
MIN_SIN = 0.05           # sin of the radial/distal angle below this (~2.9 deg): collinear
ORTHONORMAL_TOL = 1e-6   # allowed |R^T R - I| of a rotation given to quaternion_xyzw


def _joint_set(joint_set: Union[JointSet, str]) -> JointSet:
    """A JointSet from itself or its name."""
    return get_joint_set(joint_set) if isinstance(joint_set, str) else joint_set


def wrist_joint_indices(joint_set: Union[JointSet, str]) -> Optional[Tuple[int, ...]]:
    """Indices of the wrist, index, middle and little MCPs in ``joint_set``, or None."""
    js = _joint_set(joint_set)
    if not all(name in js.joint_names for name in WRIST_JOINTS):
        return None
    return tuple(js.index(name) for name in WRIST_JOINTS)


def has_wrist_frame(joint_set: Union[JointSet, str]) -> bool:
    """True when ``joint_set`` has the joints a wrist frame needs (WRIST_JOINTS)."""
    return wrist_joint_indices(joint_set) is not None


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    """``v`` / |v|; ValueError naming ``what`` when shorter than MIN_LENGTH_MM."""
    length_mm = float(np.linalg.norm(v))
    if length_mm < MIN_LENGTH_MM:
        raise ValueError(f'degenerate hand: {what} is {length_mm:.3g} mm long '
                         f'(need >= {MIN_LENGTH_MM} mm)')
    return v / length_mm


def wrist_frame(xyz_mm: np.ndarray, joint_set: Union[JointSet, str],
                side: str) -> Tuple[np.ndarray, np.ndarray]:
    """(position_mm (3,), rotation (3, 3)) of the wrist of one hand's (J, 3) mm joints."""
    js, side = _joint_set(joint_set), check_side(side)
    idx = wrist_joint_indices(js)
    if idx is None:
        missing = [n for n in WRIST_JOINTS if n not in js.joint_names]
        raise ValueError(f'{js.name} joints have no wrist frame: missing {missing}')
    xyz = np.asarray(xyz_mm, dtype=np.float64)
    if xyz.shape != (js.num_joints, 3):
        raise ValueError(f'expected ({js.num_joints}, 3) {js.name} joints (mm), found shape '
                         f'{xyz.shape}')
    wrist, index, middle, little = xyz[list(idx)]
    if not np.isfinite(xyz[list(idx)]).all():
        raise ValueError(f'non-finite wrist or MCP joints: {xyz[list(idx)].tolist()}')
    x_axis = _unit(middle - wrist, 'wrist -> middle MCP')
    radial = _unit(index - little, 'little MCP -> index MCP')
    normal = np.cross(radial, x_axis)            # out of the palm of a right hand
    sin = float(np.linalg.norm(normal))
    if sin < MIN_SIN:
        raise ValueError(f'degenerate hand: little MCP -> index MCP is collinear with wrist '
                         f'-> middle MCP (sin of their angle {sin:.3g} < {MIN_SIN})')
    z_axis = normal / sin if side == 'right' else -normal / sin
    y_axis = np.cross(z_axis, x_axis)
    return wrist.copy(), np.stack([x_axis, y_axis, z_axis], axis=1)


def quaternion_xyzw(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w), w >= 0, of a (3, 3) rotation matrix."""
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape != (3, 3) or not np.isfinite(r).all():
        raise ValueError(f'expected a finite (3, 3) rotation matrix, found shape {r.shape}')
    error = float(np.abs(r.T @ r - np.eye(3)).max())
    if error > ORTHONORMAL_TOL or np.linalg.det(r) <= 0:
        raise ValueError(f'not a rotation: |R^T R - I| = {error:.3g}, det = '
                         f'{np.linalg.det(r):.3g} (need orthonormal, det +1)')
    trace = np.trace(r)
    k = int(np.argmax([trace, r[0, 0], r[1, 1], r[2, 2]]))   # Shepperd: the largest term
    if k == 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1], s * s / 4.0]
    elif k == 1:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = [s * s / 4.0, r[0, 1] + r[1, 0], r[0, 2] + r[2, 0], r[2, 1] - r[1, 2]]
    elif k == 2:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = [r[0, 1] + r[1, 0], s * s / 4.0, r[1, 2] + r[2, 1], r[0, 2] - r[2, 0]]
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = [r[0, 2] + r[2, 0], r[1, 2] + r[2, 1], s * s / 4.0, r[1, 0] - r[0, 1]]
    q = np.array(q) / s
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q
