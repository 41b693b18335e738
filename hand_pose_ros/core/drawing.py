"""Skeleton drawings on depth images (BGR uint8): the node's debug image, the demo's PNGs and
`hand-pose estimate --draw`.

Pure numpy/OpenCV (no ROS); finger colours come from core.skeleton. Depth is shown near =
bright, missing = black. ``snapshot`` draws a whole frame with its hands labelled by side.
"""
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from .camera import Intrinsics, xyz_to_uvd
from .handedness import nearest_side, SIDES
from .skeleton import JointSet

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


TRUTH_BGR = (80, 220, 80)                                 # green
SIDE_BGR = {'right': (60, 60, 240), 'left': (240, 140, 40)}   # predictions by label: red, blue
TEXT_BGR = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _put_text(bgr: np.ndarray, text: str, u_px: float, v_px: float, color) -> None:
    """Small anti-aliased text with its baseline at (u, v), kept inside the image, in place."""
    h, w = bgr.shape[:2]
    width_px = cv2.getTextSize(text, FONT, 0.45, 1)[0][0]
    u = int(np.clip(u_px, 2, max(2, w - width_px - 2)))
    v = int(np.clip(v_px, 14, h - 4))
    cv2.putText(bgr, text, (u, v), FONT, 0.45, color, 1, cv2.LINE_AA)


def _label_hand(bgr: np.ndarray, uv: np.ndarray, text: str, color, below: bool) -> None:
    """Write ``text`` just above (or below) a drawn hand's joints ``uv`` (J, 2), in place."""
    pts = uv[np.isfinite(uv).all(1)]
    if len(pts):
        v_px = pts[:, 1].max() + 16 if below else pts[:, 1].min() - 8
        _put_text(bgr, text, pts[:, 0].min(), v_px, color)


def _draw_hands(bgr: np.ndarray, truths_uv: Dict[str, np.ndarray],
                preds_uv: Sequence[Tuple[str, np.ndarray]], joint_set: JointSet, scale: int,
                labels: bool) -> None:
    """True hands (green, thicker) under the predicted ones (coloured by label), each with
    its side written beside it when ``labels``, in place."""
    for side, uv in truths_uv.items():
        draw_skeleton(bgr, uv, joint_set, TRUTH_BGR, 1 + scale, 2 + scale)
        if labels:
            _label_hand(bgr, uv, f'true {side}', TRUTH_BGR, below=True)
    for side, uv in preds_uv:
        draw_skeleton(bgr, uv, joint_set, SIDE_BGR[side], max(1, scale // 2), 1 + scale)
        if labels:
            _label_hand(bgr, uv, side, SIDE_BGR[side], below=False)


def _zoom_window(pts_uv: np.ndarray, w: int, h: int) -> Tuple[int, int, int]:
    """(u0, v0, side) of a square window of the image around the points (pixels)."""
    pts = pts_uv[np.isfinite(pts_uv).all(1)]
    if not len(pts):
        pts = np.array([[w / 2, h / 2]])
    lo, hi = pts.min(0), pts.max(0)
    half = min(max(16.0, float((hi - lo).max()) * 0.7), min(w, h) / 2)
    cu, cv = np.clip((lo + hi) / 2, [half, half], [w - half, h - half])
    u0, v0 = int(max(0, cu - half)), int(max(0, cv - half))
    return u0, v0, max(1, min(int(2 * half), w - u0, h - v0))


def _zoom_panel(grey: np.ndarray, truths_uv: Dict[str, np.ndarray],
                preds_uv: Sequence[Tuple[str, np.ndarray]], joint_set: JointSet,
                side_px: int, title: str) -> np.ndarray:
    """A (side_px, side_px) panel: the image around these hands enlarged (nearest
    neighbours), the hands drawn on it, ``title`` in its corner and below it every prediction
    labelled with a side other than the true hand's."""
    h, w = grey.shape[:2]
    pts = np.concatenate([uv for uv in truths_uv.values()] + [uv for _, uv in preds_uv])
    u0, v0, side = _zoom_window(pts, w, h)
    factor = side_px / side
    panel = cv2.resize(grey[v0:v0 + side, u0:u0 + side], (side_px, side_px),
                       interpolation=cv2.INTER_NEAREST)

    def to_panel(uv: np.ndarray) -> np.ndarray:
        return (uv - np.array([u0, v0], np.float64) + 0.5) * factor - 0.5

    _draw_hands(panel, {k: to_panel(uv) for k, uv in truths_uv.items()},
                [(k, to_panel(uv)) for k, uv in preds_uv], joint_set,
                max(1, int(round(factor))), labels=False)
    _put_text(panel, title, 4, 16, TRUTH_BGR if truths_uv else TEXT_BGR)
    wrong = [side for side, _ in preds_uv if truths_uv and side not in truths_uv]
    for k, side in enumerate(wrong):
        _put_text(panel, f'WRONG LABEL: {side}', 4, 34 + 18 * k, SIDE_BGR[side])
    return panel


def snapshot(depth_mm: np.ndarray, intr: Intrinsics, hands_mm: Sequence[Tuple[str, np.ndarray]],
             truths_mm: Dict[str, np.ndarray], joint_set: JointSet,
             caption: str) -> np.ndarray:
    """The depth frame (grey) with every true hand (green, 'true <side>' below it) and every
    published hand ((side, (J, 3) mm): red right, blue left, its label above it) projected,
    and beside it each true hand enlarged with the predictions nearest it: one square panel
    per true hand (right first), stacked to the frame height; without true hands, one panel
    around the published ones; with no hand at all, the frame alone."""
    grey = depth_to_bgr(depth_mm, 100.0, 1500.0)
    h = depth_mm.shape[0]

    def uv(xyz_mm: np.ndarray) -> np.ndarray:
        return xyz_to_uvd(np.asarray(xyz_mm, np.float64), intr)[:, :2]

    truths_uv = {side: uv(truths_mm[side]) for side in SIDES if side in truths_mm}
    preds_uv = [(side, uv(xyz)) for side, xyz in hands_mm]
    full = grey.copy()
    _draw_hands(full, truths_uv, preds_uv, joint_set, 1, labels=True)
    if truths_uv:
        near = [nearest_side(xyz, truths_mm) for _, xyz in hands_mm]
        groups = [({side: t_uv}, [p for p, n in zip(preds_uv, near) if n == side],
                   f"user's {side} hand") for side, t_uv in truths_uv.items()]
    else:
        groups = [({}, preds_uv, 'prediction')] if preds_uv else []
    out = full
    if groups:
        side_px = h // len(groups)
        column = np.zeros((h, side_px, 3), np.uint8)
        for k, (t_uv, p_uv, title) in enumerate(groups):
            column[k * side_px:(k + 1) * side_px] = _zoom_panel(grey, t_uv, p_uv, joint_set,
                                                                side_px, title)
        out = np.concatenate([full, column], axis=1)
    legend = ([(caption, TEXT_BGR)] + ([('ground truth', TRUTH_BGR)] if truths_uv else [])
              + [('published right', SIDE_BGR['right']), ('published left', SIDE_BGR['left'])])
    for i, (text, color) in enumerate(legend):
        _put_text(out, text, 8, 20 + 18 * i, color)
    return out


def write_png(path: Path, bgr: np.ndarray) -> Path:
    """Write a PNG (creating its folder); OSError when OpenCV cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), bgr):
        raise OSError(f'cannot write {path}')
    return path
