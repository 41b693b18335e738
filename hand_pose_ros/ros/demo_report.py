"""What the demo writes besides its snapshots (core/drawing.py: snapshot): a summary
(summary.json for machines, summary.txt for people)."""
import json
from pathlib import Path
from typing import Dict, List

import numpy as np

from ..core.handedness import SIDES


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
