"""Handedness, defined once: whether a set of 3D hand joints is a left or a right hand.

Anatomy. Take two vectors every joint set has: ``radial`` from the base of the little finger
to the base of the index finger (towards the thumb side of the hand) and ``distal`` from the
palm centre to the mean of the four finger bases (towards the fingers). In a right-handed
coordinate frame (the camera optical frame, x right, y down, z forward, is one) their cross
product ``radial x distal`` points out of the palm of a right hand and out of the back of a
left hand. Example: a right hand held palm towards the camera, fingers up, has its thumb on the
image's right: radial = +x, distal = -y, radial x distal = -z, towards the camera, out of the
palm. The fingers and the thumb bend towards the palm and the thumb sits in front of it, so the
finger and thumb joints beyond the finger bases lie on the palm side of the palm centre: their
mean signed distance along ``radial x distal`` (:func:`handedness_score`, mm) is positive for a
right hand and negative for a left hand. A mirror image (x -> -x, what a mirroring camera or a
horizontally flipped image does) changes the sign. A perfectly flat hand scores about 0:
its joints alone cannot tell the sides apart.

On the published test ground truth (optical frame) this says "left" for 1,589 of the 1,596
ICVL test frames and "right" for 8,246 of the 8,252 NYU test frames
(test/core/test_handedness.py).
"""
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from .skeleton import INDEX, JointSet, LITTLE, MIDDLE, PALM, RING

SIDES: Tuple[str, str] = ('right', 'left')
Array = Union[np.ndarray, torch.Tensor]


def _base(js: JointSet, finger: int) -> int:
    """The most proximal joint of a finger in ``js`` (its parent lies outside the finger)."""
    chain = [j for j, f in enumerate(js.fingers) if f == finger]
    return next(j for j in chain if js.parents[j] not in chain)


def _anchors(js: JointSet) -> Tuple[int, int, int, List[int], List[int]]:
    """(palm, index base, little base, the four finger bases, the joints beyond them).

    The palm centre where the joint set has one, else its root (MSRA21: the wrist)."""
    palm = js.index('palm') if 'palm' in js.joint_names else js.root
    bases = [_base(js, f) for f in (INDEX, MIDDLE, RING, LITTLE)]
    beyond = [j for j, f in enumerate(js.fingers) if f != PALM and j not in bases]
    return palm, bases[0], bases[3], bases, beyond


def _unit(v: Array) -> Array:
    """``v`` (..., 3) scaled to unit length (a zero vector stays zero)."""
    if isinstance(v, torch.Tensor):
        return v / torch.sqrt((v * v).sum(-1))[..., None].clamp_min(1e-9)
    return v / np.maximum(np.sqrt((v * v).sum(-1))[..., None], 1e-9)


def _radial_x_distal(xyz: Array, joint_set: JointSet) -> Array:
    """The unit vector ``radial x distal`` (..., 3): out of a right hand's palm, out of a left
    hand's back."""
    palm, index, little, bases, _ = _anchors(joint_set)
    radial = xyz[..., index, :] - xyz[..., little, :]
    distal = xyz[..., bases, :].mean(-2) - xyz[..., palm, :]
    return _unit(torch.linalg.cross(radial, distal, dim=-1) if isinstance(xyz, torch.Tensor)
                 else np.cross(radial, distal))


def handedness_score(xyz: Array, joint_set: JointSet) -> Array:
    """Signed palm-side distance (mm) of the finger and thumb joints: > 0 right, < 0 left.

    ``xyz`` (..., J, 3) joints of ``joint_set`` in a right-handed frame (mm); returns (...,).
    """
    palm, _, _, _, beyond = _anchors(joint_set)
    normal = _radial_x_distal(xyz, joint_set)
    offsets = xyz[..., beyond, :] - xyz[..., palm, None, :]
    return (offsets * normal[..., None, :]).sum(-1).mean(-1)


def palm_facing_cos(xyz: Array, joint_set: JointSet, left: bool) -> Array:
    """How squarely the palm faces the camera: the cosine between the palm's outward normal
    and the direction from the palm centre to the camera (the frame's origin); 1 palm to the
    camera, -1 back to it, near 0 edge-on. ``xyz`` (..., J, 3) mm in the camera optical frame,
    ``left`` the hand's true side; returns (...,)."""
    palm = _anchors(joint_set)[0]
    outward = _radial_x_distal(xyz, joint_set) * (-1.0 if left else 1.0)
    return (outward * _unit(-xyz[..., palm, :])).sum(-1)


def hand_side(xyz: Array, joint_set: JointSet) -> str:
    """'right' or 'left' for one hand's joints (J, 3) mm in a right-handed frame."""
    if tuple(xyz.shape) != (joint_set.num_joints, 3):
        raise ValueError(f'expected ({joint_set.num_joints}, 3) {joint_set.name} joints, found '
                         f'shape {tuple(xyz.shape)}')
    return 'right' if float(handedness_score(xyz, joint_set)) > 0 else 'left'


def check_side(side: str) -> str:
    """``side`` if it is 'right' or 'left'; ValueError naming the choices otherwise."""
    if side not in SIDES:
        raise ValueError(f"handedness must be 'right' or 'left', found {side!r}")
    return side


def mirror_xyz(xyz: Array) -> Array:
    """The mirror image x -> -x of points (..., 3) mm: a right hand becomes a left hand."""
    sign = xyz.new_tensor([-1.0, 1.0, 1.0]) if isinstance(xyz, torch.Tensor) else \
        np.array([-1.0, 1.0, 1.0], dtype=xyz.dtype)
    return xyz * sign


def nearest_side(pred_mm: np.ndarray, truths_mm: Dict[str, np.ndarray]) -> Optional[str]:
    """Side of the true hand (``truths_mm``: side -> (J, 3) mm) nearest a predicted hand
    (J, 3) mm by mean joint distance; None without a true hand of its joint count."""
    distances_mm = {side: float(np.linalg.norm(pred_mm - truth, axis=-1).mean())
                    for side, truth in truths_mm.items() if truth.shape == pred_mm.shape}
    return min(distances_mm, key=distances_mm.get) if distances_mm else None
