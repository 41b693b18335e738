"""Cameras mounted rolled about their optical axis (upside down under a shelf or on a robot,
on their side): each image turned clockwise by a multiple of 90 degrees so that people and
hands stand upright, as the networks were trained on them, and what the estimator finds in
the turned image turned back into the camera's own optical frame.

Turning is exact, a permutation of pixels: the turned image is the one a camera with the same
centre, rolled, would take. Per clockwise quarter turn, pixel (u, v) of a W x H image goes to
(H - 1 - v, u) of the H x W turned one, and a point (x, y, z) of the camera frame (mm, x
right, y down, z forward) to (-y, x, z) of the turned camera's: its intrinsics (fx, fy, cx,
cy) are (fy, fx, H - 1 - cy, cx), so they project the turned points onto the turned pixels.
"""
from typing import List

import numpy as np

from .camera import Intrinsics

ROTATIONS_DEG = (0, 90, 180, 270)


def quarter_turns(rotation_deg: int) -> int:
    """Clockwise quarter turns of ``rotation_deg`` (one of ROTATIONS_DEG); ValueError else."""
    if rotation_deg not in ROTATIONS_DEG:
        raise ValueError(f'the image rotation must be one of {ROTATIONS_DEG} degrees '
                         f'(clockwise), found {rotation_deg}')
    return int(rotation_deg) // 90


def turned_depth(depth: np.ndarray, rotation_deg: int) -> np.ndarray:
    """(H, W) image turned clockwise by ``rotation_deg``: a contiguous copy, (W, H) for 90 and
    270."""
    return np.ascontiguousarray(np.rot90(depth, -quarter_turns(rotation_deg)))


def _float_copy(values: np.ndarray) -> np.ndarray:
    """A float copy of ``values`` to turn in place: float64 kept, anything else float32."""
    kind = np.float64 if np.asarray(values).dtype == np.float64 else np.float32
    return np.array(values, dtype=kind)


def _chain(intr: Intrinsics, turns: int) -> List[Intrinsics]:
    """The intrinsics after 0, 1, ..., ``turns`` clockwise quarter turns."""
    out = [intr]
    for _ in range(turns):
        i = out[-1]
        out.append(Intrinsics(i.fy, i.fx, i.height - 1 - i.cy, i.cx, i.height, i.width))
    return out


def turned_intrinsics(intr: Intrinsics, rotation_deg: int) -> Intrinsics:
    """The intrinsics of images turned clockwise by ``rotation_deg`` (pixels)."""
    return _chain(intr, quarter_turns(rotation_deg))[-1]


def turned_uv(uv: np.ndarray, intr: Intrinsics, rotation_deg: int) -> np.ndarray:
    """(..., 2+) pixels of images of ``intr`` -> the same pixels of the turned images (columns
    past the second, such as depth, are kept)."""
    out = _float_copy(uv)
    for i in _chain(intr, quarter_turns(rotation_deg))[:-1]:
        u, v = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0], out[..., 1] = i.height - 1 - v, u
    return out


def uv_turned_back(uv: np.ndarray, intr: Intrinsics, rotation_deg: int) -> np.ndarray:
    """(..., 2+) pixels of the turned images -> pixels of the camera's images (of ``intr``,
    the camera's own intrinsics); columns past the second are kept."""
    out = _float_copy(uv)
    for i in reversed(_chain(intr, quarter_turns(rotation_deg))[:-1]):
        u, v = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0], out[..., 1] = v, i.height - 1 - u
    return out


def turned_xyz(xyz: np.ndarray, rotation_deg: int) -> np.ndarray:
    """(..., 3) points (mm) of the camera's optical frame -> the turned camera's frame."""
    return xyz_turned_back(xyz, (4 - quarter_turns(rotation_deg)) % 4 * 90)


def xyz_turned_back(xyz: np.ndarray, rotation_deg: int) -> np.ndarray:
    """(..., 3) points (mm) of the turned camera's frame -> the camera's own optical frame."""
    out = _float_copy(xyz)
    for _ in range(quarter_turns(rotation_deg)):
        x, y = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0], out[..., 1] = y, -x
    return out
