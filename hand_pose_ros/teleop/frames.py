"""The wrist frame robot-hand retargeting (dex-retargeting) reads its MediaPipe-21 joints in.

Only numpy: usable and testable without dex-retargeting.
"""
from typing import Dict, Tuple

import numpy as np

from ..core.handedness import check_side, SIDES
from ..core.skeleton import MEDIAPIPE21

NUM_JOINTS = MEDIAPIPE21.num_joints                    # 21
WRIST = MEDIAPIPE21.index('wrist')                     # 0
INDEX_MCP = MEDIAPIPE21.index('index_mcp')             # 5
MIDDLE_MCP = MEDIAPIPE21.index('middle_mcp')           # 9
# A hand longer than this from the wrist to the middle MCP (about 0.09 m) is not in metres.
MAX_PALM_M = 0.5
_MIN_EDGE_M = 1e-4                                     # degenerate palm below 0.1 mm

# Operator frame -> MANO frame, per side: for each MANO axis (x, y, z) the operator axis it is
# and its sign. Operator axes (see wrist_frame_points): 0 proximal (middle MCP -> wrist),
# 1 normal = axis 2 x axis 0, 2 radial (middle MCP -> index MCP). MANO: x palmar, y = z x x,
# z distal. The normal is dorsal on a right hand and palmar on a left hand (chirality), so the
# palmar MANO x is -normal on a right hand and +normal on a left one, and y (= distal x palmar)
# is radial on a right hand and ulnar (-radial) on a left one.
_MANO_AXES: Dict[str, Tuple[Tuple[int, float], ...]] = {
    'right': ((1, -1.0), (2, 1.0), (0, -1.0)),
    'left': ((1, 1.0), (2, -1.0), (0, -1.0)),
}


def _operator_to_mano(side: str) -> np.ndarray:
    """(3, 3) matrix M with mano = operator @ M (rows: operator axes, columns: MANO axes)."""
    m = np.zeros((3, 3))
    for mano_axis, (op_axis, sign) in enumerate(_MANO_AXES[side]):
        m[op_axis, mano_axis] = sign
    return m


# Equal to dex-retargeting's OPERATOR2MANO_RIGHT / OPERATOR2MANO_LEFT (test/teleop checks it).
OPERATOR_TO_MANO: Dict[str, np.ndarray] = {s: _operator_to_mano(s) for s in SIDES}


def check_joints(xyz21_m) -> np.ndarray:
    """(21, 3) float64 array of finite MediaPipe-21 joints in metres; ValueError otherwise."""
    xyz = np.asarray(xyz21_m, dtype=np.float64)
    if xyz.shape != (NUM_JOINTS, 3):
        raise ValueError(f'expected ({NUM_JOINTS}, 3) MediaPipe-21 joints (metres), found shape '
                         f'{xyz.shape}')
    if not np.isfinite(xyz).all():
        raise ValueError('the joints must be finite (found NaN or inf)')
    palm = float(np.linalg.norm(xyz[MIDDLE_MCP] - xyz[WRIST]))
    if palm > MAX_PALM_M:
        raise ValueError(f'wrist to middle MCP is {palm:.3g}: the joints must be in metres, not '
                         f'millimetres (divide by 1000)')
    return xyz


def camera_to_operator(xyz21_m) -> np.ndarray:
    """(3, 3) rotation whose columns are the operator axes (proximal, normal, radial) in the
    input frame; ValueError when the wrist and the index and middle MCPs span no plane."""
    xyz = check_joints(xyz21_m)
    proximal = xyz[WRIST] - xyz[MIDDLE_MCP]
    across = xyz[INDEX_MCP] - xyz[MIDDLE_MCP]
    length = np.linalg.norm(proximal)
    if length < _MIN_EDGE_M:
        raise ValueError('degenerate palm: the wrist and the middle MCP coincide')
    proximal = proximal / length
    radial = across - (across @ proximal) * proximal     # in the palm plane, orthogonal
    width = np.linalg.norm(radial)
    if width < _MIN_EDGE_M:
        raise ValueError('degenerate palm: the wrist, index MCP and middle MCP are collinear')
    radial = radial / width
    normal = np.cross(radial, proximal)
    return np.stack([proximal, normal, radial], axis=1)


def wrist_frame_points(xyz21_m, side: str) -> np.ndarray:
    """MediaPipe-21 joints (21, 3) in metres -> the same joints centred on the wrist and
    rotated into the MANO wrist frame that dex-retargeting's robot configs expect for ``side``.

    Three steps, each a rigid motion (lengths and angles are kept):

    1. **Centre.** Subtract the wrist (joint 0). The input frame may be any right-handed frame;
       ours is the camera optical frame of ``hand_pose_node`` (x right, y down, z forward),
       which is right-handed like MediaPipe's world-landmark frame that dex-retargeting's
       example feeds in, so a right hand stays a right hand and no axis is flipped.
    2. **Camera -> operator frame** (dex-retargeting's name for the frame estimated from the
       hand itself, so the camera's pose drops out). Its axes, from the wrist W and the index
       and middle MCPs I and M: axis 0 = unit(W - M) (proximal: from the knuckles towards the
       wrist); axis 2 = the part of I - M orthogonal to axis 0, normalised (radial: towards the
       index finger, in the palm plane); axis 1 = axis 2 x axis 0, the palm normal that makes
       the frame right-handed. For three points this is exactly the plane that
       dex-retargeting's SVD fit finds, with its sign rule (axis 2 along I - M). The rotation
       matrix R has these axes as columns: operator = centred @ R.
    3. **Operator -> MANO** (``OPERATOR_TO_MANO[side]``, a signed permutation, the same as
       dex-retargeting's ``OPERATOR2MANO_RIGHT`` / ``_LEFT``): MANO z = -axis 0 (distal:
       wrist towards the middle finger), MANO x = palmar, MANO y = z x x. The palm normal
       (axis 1) is dorsal on a right hand and palmar on a left one, so x = -axis 1 (right) or
       +axis 1 (left), and y = +axis 2 (right: towards the thumb side) or -axis 2 (left:
       towards the little finger). A right hand and a left hand in the same pose thus come
       out as mirror images across the y = 0 plane, as the left and right robot hands of
       dex-retargeting's configs are.

    Result: wrist at the origin, middle MCP on +z, index MCP in the y-z plane on the +y side
    (right) or the -y side (left), the palm's inside facing +x: fingers flex towards +x.
    ``side`` must be the hand's real side: the wrong one turns the hand 180 degrees about z
    (the fingers then flex towards -x, away from a robot hand's palm).
    """
    side = check_side(side)
    xyz = check_joints(xyz21_m)
    centred = xyz - xyz[WRIST]
    return centred @ camera_to_operator(xyz) @ OPERATOR_TO_MANO[side]
