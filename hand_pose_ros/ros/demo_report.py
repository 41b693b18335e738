"""What the demo writes: depth snapshots with predicted and true skeletons, and a summary
(summary.json for machines, summary.txt for people)."""
import json
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np

from .drawing import depth_to_bgr, draw_skeleton
from ..core.camera import Intrinsics, xyz_to_uvd
from ..core.skeleton import JointSet

TRUTH_BGR = (80, 220, 80)        # green
PREDICTION_BGR = (60, 60, 240)   # red


def _draw_both(bgr: np.ndarray, truth_uv: Optional[np.ndarray], pred_uv: np.ndarray,
               joint_set: JointSet, scale: int) -> None:
    """Ground truth (green, thicker) under the prediction (red), in place."""
    if truth_uv is not None:
        draw_skeleton(bgr, truth_uv, joint_set, TRUTH_BGR, 1 + scale, 2 + scale)
    draw_skeleton(bgr, pred_uv, joint_set, PREDICTION_BGR, max(1, scale // 2), 1 + scale)


def snapshot(depth_mm: np.ndarray, intr: Intrinsics, pred_mm: np.ndarray,
             truth_mm: Optional[np.ndarray], joint_set: JointSet, caption: str,
             zoom_px: int = 0) -> np.ndarray:
    """The depth frame (grey) with the true (green) and predicted (red) skeletons projected,
    and beside it the hand enlarged to the frame height (``zoom_px`` = 0: that height)."""
    grey = depth_to_bgr(depth_mm, 100.0, 1500.0)
    pred_uv = xyz_to_uvd(pred_mm, intr)[:, :2]
    truth_uv = xyz_to_uvd(truth_mm, intr)[:, :2] if truth_mm is not None else None
    full = grey.copy()
    _draw_both(full, truth_uv, pred_uv, joint_set, 1)
    # zoom: a square around every drawn joint, enlarged with nearest neighbours
    h, w = depth_mm.shape
    pts = pred_uv if truth_uv is None else np.concatenate([pred_uv, truth_uv])
    pts = pts[np.isfinite(pts).all(1)]
    side_out = zoom_px or h
    lo, hi = pts.min(0), pts.max(0)
    half = max(16.0, float((hi - lo).max()) * 0.7)
    cu, cv = np.clip((lo + hi) / 2, [half, half], [w - half, h - half])
    u0, v0 = int(max(0, cu - half)), int(max(0, cv - half))
    side = max(1, min(int(2 * half), w - u0, h - v0))
    scale = side_out / side
    zoom = cv2.resize(grey[v0:v0 + side, u0:u0 + side], (side_out, h),
                      interpolation=cv2.INTER_NEAREST)
    shift = np.array([u0, v0], np.float64)
    scales = np.array([side_out / side, h / side])

    def to_zoom(uv: np.ndarray) -> np.ndarray:
        return (uv - shift + 0.5) * scales - 0.5

    _draw_both(zoom, None if truth_uv is None else to_zoom(truth_uv), to_zoom(pred_uv),
               joint_set, max(1, int(round(scale))))
    out = np.concatenate([full, zoom], axis=1)
    for i, (text, color) in enumerate(((caption, (255, 255, 255)),
                                       ('ground truth', TRUTH_BGR),
                                       ('prediction', PREDICTION_BGR))):
        cv2.putText(out, text, (8, 20 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 1,
                    cv2.LINE_AA)
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


def summary_text(summary: Dict) -> str:
    """A human-readable summary of the run."""
    err, lat = summary['error_mm'], summary['latency_ms']
    lines = [
        'hand_pose_ros demo: depth_source -> hand_pose_node over DDS '
        f"(ROS_DOMAIN_ID={summary['ros_domain_id']})",
        f"model: {summary['model']}  device: {summary['device']}",
    ]
    if summary.get('model_note'):
        lines.append(f"NOTE: {summary['model_note']}")
    lines += [
        f"measured: {summary['seconds']:.1f} s with depth_source at {summary['rate_hz']:.0f} Hz: "
        f"node input {summary['input_fps']:.1f} fps, output {summary['output_fps']:.1f} fps",
        f"node totals since start: {summary['frames_in']} frames in, {summary['frames_out']} "
        f"out, {summary['dropped_frames']} dropped, rejected {summary['rejected']}",
        f"latency (stamp -> listener): p50 {lat['p50']} ms, p95 {lat['p95']} ms, "
        f"max {lat['max']} ms; estimator p50 {summary['estimator_ms_p50']} ms",
        f"mean joint error vs ground truth: {err['mean']} mm (median {err['median']} mm, "
        f"{err['frames']} frames)",
    ]
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
