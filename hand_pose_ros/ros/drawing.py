"""Skeleton drawings on depth images (BGR uint8): the node's debug image and the demo PNGs.

Pure numpy/OpenCV; finger colours come from core.skeleton. Depth is shown near = bright,
missing = black.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..core.skeleton import JointSet

BGR = Tuple[int, int, int]


def _bgr(rgb: Sequence[float]) -> BGR:
    """RGB in 0..1 -> OpenCV BGR in 0..255."""
    return int(rgb[2] * 255), int(rgb[1] * 255), int(rgb[0] * 255)


def depth_to_bgr(depth_mm: np.ndarray, near_mm: float, far_mm: float) -> np.ndarray:
    """(H, W) depth in mm -> (H, W, 3) uint8 grey: near bright, far dark, missing black."""
    d = np.asarray(depth_mm, np.float32)
    span = max(far_mm - near_mm, 1e-3)
    grey = np.clip(1.0 - (d - near_mm) / span, 0.0, 1.0) * 215 + 40
    grey[(d <= 0) | ~np.isfinite(d)] = 0
    grey[d > far_mm] = 0
    return cv2.cvtColor(grey.astype(np.uint8), cv2.COLOR_GRAY2BGR)


def patch_to_bgr(patch: np.ndarray) -> np.ndarray:
    """(S, S) normalised crop in [-1, 1] (+1 = background) -> (S, S, 3) uint8 grey."""
    grey = (1.0 - (np.clip(patch, -1.0, 1.0) + 1.0) / 2.0) * 255
    return cv2.cvtColor(grey.astype(np.uint8), cv2.COLOR_GRAY2BGR)


def draw_skeleton(bgr: np.ndarray, uv: np.ndarray, joint_set: JointSet,
                  color: Optional[BGR] = None, thickness: int = 1,
                  radius: int = 2) -> np.ndarray:
    """Draw bones and joints at pixel positions ``uv`` (J, 2) in place; returns ``bgr``.

    ``color`` None colours each bone and joint by finger; a BGR tuple draws in one colour.
    """
    pts = [(int(round(u)), int(round(v))) for u, v in np.asarray(uv, np.float64)[:, :2]]
    for parent, child in joint_set.bones:
        c = color or _bgr(joint_set.color(child))
        cv2.line(bgr, pts[parent], pts[child], c, thickness, cv2.LINE_AA)
    for j, p in enumerate(pts):
        cv2.circle(bgr, p, radius, color or _bgr(joint_set.color(j)), -1, cv2.LINE_AA)
    return bgr


def debug_patch(patch: np.ndarray, patch_uv: np.ndarray, joint_set: JointSet,
                scale: int = 2) -> np.ndarray:
    """The network's crop, enlarged ``scale`` times, with the predicted skeleton drawn."""
    big = cv2.resize(patch_to_bgr(patch), None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_NEAREST)
    uv = (np.asarray(patch_uv, np.float64) + 0.5) * scale - 0.5
    return draw_skeleton(big, uv, joint_set, thickness=max(1, scale // 2), radius=scale + 1)
