"""What the demo writes: depth snapshots with both hands' predicted skeletons (coloured by the
side they were published as) and true skeletons, and a summary (summary.json for machines,
summary.txt for people)."""
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .demo_scores import nearest_side
from .drawing import depth_to_bgr, draw_skeleton
from ..core.camera import Intrinsics, xyz_to_uvd
from ..core.handedness import SIDES
from ..core.skeleton import JointSet

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


def percentiles(values: List[float]) -> Dict[str, float]:
    """p50, p95 and max of a list (NaN when empty), rounded to 0.1."""
    if not values:
        return {'p50': float('nan'), 'p95': float('nan'), 'max': float('nan')}
    arr = np.asarray(values, np.float64)
    return {'p50': round(float(np.percentile(arr, 50)), 1),
            'p95': round(float(np.percentile(arr, 95)), 1), 'max': round(float(arr.max()), 1)}


def error_text(error_mm: Dict) -> str:
    """'mean joint error 7.2 mm (median 7.1 mm)', or 'no joint error' when none found."""
    if error_mm['mean'] is None:
        return 'no joint error'
    return f"mean joint error {error_mm['mean']} mm (median {error_mm['median']} mm)"


def hand_lines(summary: Dict) -> List[str]:
    """Per side: found in how many frames, its joint error, hands published with the wrong
    label; then the wrong labels in all."""
    total = summary['frames_scored']
    lines = [f'hands, in the {total} frames with output (matched to the ground truth by stamp):']
    for side, score in summary['hands'].items():
        other = next(s for s in SIDES if s != side)
        lines.append(
            f"  {side} hand (~/{side}/joints): found in {score['found']} of {score['frames']} "
            f"frames showing it, {error_text(score['error_mm'])}; {score['wrong_label']} of "
            f"{score['published']} hands published as {side} were the {other} hand "
            '(wrong label)')
    published = sum(score['published'] for score in summary['hands'].values())
    lines.append(f"wrong labels: {summary['wrong_label']} of {published} published hands")
    return lines


def summary_text(summary: Dict) -> str:
    """A human-readable summary of the run."""
    err, lat = summary['error_mm'], summary['latency_ms']
    lines = [
        'hand_pose_ros demo: depth_source -> hand_pose_node over DDS '
        f"(ROS_DOMAIN_ID={summary['ros_domain_id']})",
        f"model: {summary['model']}  device: {summary['device']}",
    ]
    for note in [summary.get('model_note')] + list(summary.get('notes', [])):
        if note:
            lines.append(f'NOTE: {note}')
    lines += [
        f"measured: {summary['seconds']:.1f} s with depth_source at {summary['rate_hz']:.0f} Hz: "
        f"node input {summary['input_fps']:.1f} fps, output {summary['output_fps']:.1f} fps",
        f"node totals since start: {summary['frames_in']} frames in, {summary['frames_out']} "
        f"out, {summary['dropped_frames']} dropped, rejected {summary['rejected']}",
        f"latency (stamp -> listener): p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
        f"max {lat['max']} ms; estimator p50 {summary['estimator_ms_p50']} ms",
    ]
    lines += hand_lines(summary)
    lines.append(f"correctly labelled hands vs ground truth: {error_text(err)}, "
                 f"{err['frames']} hands")
    if err.get('per_joint'):
        lines.append('per joint (mm): ' + ', '.join(
            f'{name} {value}' for name, value in err['per_joint'].items()))
    lines.append('snapshots: ' + ', '.join(summary['pngs']))
    return '\n'.join(lines) + '\n'


def write_summary(out: Path, summary: Dict) -> None:
    """summary.json and summary.txt in ``out``."""
    (out / 'summary.json').write_text(json.dumps(summary, indent=2, sort_keys=True) + '\n',
                                      encoding='utf-8')
    (out / 'summary.txt').write_text(summary_text(summary), encoding='utf-8')
