"""Hand-pose evaluation: 3D joint errors, success-rate curve and AUC; uvd text I/O; plots.

All metrics are in millimetres and computed in float64, as the published tables are:

- mean error: mean over frames and joints of the Euclidean joint distance;
- per-joint error: mean over frames, one value per joint;
- median error: median over all (frame, joint) distances;
- success rate at t: fraction of frames whose *maximum* joint error is <= t (t = 0..80 mm);
- AUC: trapezoidal area under the success curve divided by the threshold span, in [0, 1].

The uvd text format (the ICVL/NYU evaluation collection): one frame per line, J joints x
(u v d), space separated; u, v in pixels of the full sensor image, d in millimetres.
"""
from dataclasses import dataclass
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..core.camera import Intrinsics, uvd_to_xyz
from ..core.skeleton import JointSet

PathLike = Union[str, Path]
ArrayLike = Union[np.ndarray, torch.Tensor]
THRESHOLDS_MM: Tuple[int, ...] = tuple(range(0, 81))   # success-curve thresholds (mm)
REPORT_THRESHOLDS_MM: Tuple[int, ...] = (10, 20, 30, 40)


class UvdFileError(ValueError):
    """A uvd text file that cannot be evaluated; the message names the file and the line."""


def _threshold_key(t_mm: float) -> str:
    """JSON key of a threshold: '10' for 10 mm, '2.5' for 2.5 mm."""
    return f'{t_mm:g}'


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one prediction set against its ground truth (millimetres)."""

    frames: int
    joint_names: Tuple[str, ...]
    mean_mm: float
    median_mm: float
    per_joint_mm: np.ndarray     # (J,) mean error of each joint
    thresholds_mm: np.ndarray    # (T,) success-curve thresholds
    success: np.ndarray          # (T,) fraction of frames with max joint error <= threshold
    auc: float                   # area under the success curve, normalised to [0, 1]
    max_error_mm: np.ndarray     # (N,) maximum joint error of each frame

    def success_at(self, t_mm: float) -> float:
        """Fraction of frames whose maximum joint error is <= ``t_mm``."""
        return float(np.mean(self.max_error_mm <= t_mm))

    def to_dict(self) -> Dict:
        """JSON-friendly mapping: mean_mm, median_mm, auc, frames, per_joint_mm, success."""
        return {
            'frames': self.frames,
            'mean_mm': self.mean_mm,
            'median_mm': self.median_mm,
            'auc': self.auc,
            'per_joint_mm': {n: float(e) for n, e in zip(self.joint_names, self.per_joint_mm)},
            'success': {_threshold_key(t): float(s)
                        for t, s in zip(self.thresholds_mm, self.success)},
        }


def _as_f64(x: ArrayLike) -> np.ndarray:
    """A numpy float64 copy of a numpy array or torch tensor."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


class EvalUtil:
    """Accumulates joint errors frame by frame (``feed``), then reports them (``result``)."""

    def __init__(self, joints: Union[JointSet, Sequence[str]],
                 thresholds_mm: Sequence[float] = THRESHOLDS_MM) -> None:
        names = joints.joint_names if isinstance(joints, JointSet) else joints
        self.joint_names: Tuple[str, ...] = tuple(names)
        self.thresholds_mm = np.asarray(thresholds_mm, dtype=np.float64)
        if self.thresholds_mm.ndim != 1 or self.thresholds_mm.size < 2:
            raise ValueError('need at least two success thresholds (mm), found '
                             f'{self.thresholds_mm.tolist()}')
        self._errors: List[np.ndarray] = []

    @property
    def frames(self) -> int:
        """Number of frames fed so far."""
        return sum(len(e) for e in self._errors)

    def reset(self) -> None:
        """Forget every frame fed so far."""
        self._errors.clear()

    def feed(self, pred_xyz: ArrayLike, gt_xyz: ArrayLike) -> None:
        """Add frames: (J, 3) or (N, J, 3) predictions and ground truth, camera mm."""
        pred, gt = _as_f64(pred_xyz), _as_f64(gt_xyz)
        if pred.shape != gt.shape:
            raise ValueError(f'prediction shape {pred.shape} != ground-truth shape {gt.shape}')
        if pred.ndim == 2:
            pred, gt = pred[None], gt[None]
        j = len(self.joint_names)
        if pred.ndim != 3 or pred.shape[1:] != (j, 3):
            raise ValueError(f'expected joints of shape (N, {j}, 3) or ({j}, 3), found '
                             f'{tuple(pred_xyz.shape)}')
        self._errors.append(np.linalg.norm(pred - gt, axis=-1))        # (N, J) mm

    def result(self) -> EvalResult:
        """Mean, median, per-joint error, success curve and AUC of every frame fed."""
        if not self._errors:
            raise ValueError('no frames to evaluate: feed() was never called')
        errors = np.concatenate(self._errors)                            # (N, J) mm
        max_error = errors.max(axis=1)                                   # (N,)
        success = (max_error[None, :] <= self.thresholds_mm[:, None]).mean(axis=1)
        span = self.thresholds_mm[-1] - self.thresholds_mm[0]
        area = np.sum((success[1:] + success[:-1]) / 2 * np.diff(self.thresholds_mm))
        return EvalResult(
            frames=len(errors), joint_names=self.joint_names, mean_mm=float(errors.mean()),
            median_mm=float(np.median(errors)), per_joint_mm=errors.mean(axis=0),
            thresholds_mm=self.thresholds_mm.copy(), success=success,
            auc=float(area / span), max_error_mm=max_error)


def evaluate_xyz(pred_xyz: ArrayLike, gt_xyz: ArrayLike, joints: Union[JointSet, Sequence[str]],
                 thresholds_mm: Sequence[float] = THRESHOLDS_MM) -> EvalResult:
    """Metrics of (N, J, 3) predicted vs ground-truth joints in camera mm."""
    util = EvalUtil(joints, thresholds_mm)
    util.feed(pred_xyz, gt_xyz)
    return util.result()


def evaluate_uvd(pred_uvd: ArrayLike, gt_uvd: ArrayLike, intr: Intrinsics,
                 joints: Union[JointSet, Sequence[str]],
                 thresholds_mm: Sequence[float] = THRESHOLDS_MM) -> EvalResult:
    """Metrics of (N, J, 3) uvd joints (pixels, mm), converted to xyz with ``intr``."""
    return evaluate_xyz(uvd_to_xyz(_as_f64(pred_uvd), intr), uvd_to_xyz(_as_f64(gt_uvd), intr),
                        joints, thresholds_mm)


def _parse_line(path: Path, number: int, line: str, columns: Optional[int]) -> np.ndarray:
    """One uvd text line -> float64 values; UvdFileError names the file, line and problem."""
    tokens = line.split()
    where = f'{path}:{number}'
    if not tokens:
        raise UvdFileError(f'{where}: empty line (expected one frame per line)')
    if columns is not None and len(tokens) != columns:
        raise UvdFileError(f'{where}: expected {columns} values ({columns // 3} joints x u v d), '
                           f'found {len(tokens)}')
    if len(tokens) % 3:
        raise UvdFileError(f'{where}: expected a multiple of 3 values (joints x u v d), found '
                           f'{len(tokens)}')
    values = np.empty(len(tokens), dtype=np.float64)
    for k, token in enumerate(tokens):
        try:
            values[k] = float(token)
        except ValueError:
            raise UvdFileError(f'{where}: non-numeric value {token!r} in column {k + 1}') from None
        if not math.isfinite(values[k]):
            raise UvdFileError(f'{where}: non-finite value {token!r} in column {k + 1}')
    return values


def read_uvd(path: PathLike, num_joints: Optional[int] = None) -> np.ndarray:
    """Read a uvd text file -> (N, J, 3) float64 (pixels, mm); UvdFileError names file and line.

    ``num_joints``: the expected J (every line must hold 3 J values); None takes J from the
    first line. Trailing blank lines are ignored; any other defect is an error.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise UvdFileError(f'{path}: file not found') from None
    except IsADirectoryError:
        raise UvdFileError(f'{path}: is a folder, expected a uvd text file') from None
    except UnicodeDecodeError:
        raise UvdFileError(f'{path}: not a text file (cannot decode as UTF-8)') from None
    except OSError as exc:
        raise UvdFileError(f'{path}: cannot read ({exc.strerror})') from None
    lines = text.rstrip().splitlines()
    if not lines:
        raise UvdFileError(f'{path}: empty file (expected one frame per line, J joints x u v d)')
    columns = None if num_joints is None else 3 * num_joints
    rows = []
    for number, line in enumerate(lines, start=1):
        rows.append(_parse_line(path, number, line, columns))
        columns = len(rows[0])
    return np.stack(rows).reshape(len(rows), -1, 3)


def write_uvd(path: PathLike, uvd: ArrayLike) -> Path:
    """Write (N, J, 3) uvd joints (pixels, mm) as text, one frame per line; returns the path."""
    values = _as_f64(uvd)
    if values.ndim != 3 or values.shape[-1] != 3:
        raise ValueError(f'expected uvd of shape (N, J, 3), found {values.shape}')
    path = Path(path)
    np.savetxt(path, values.reshape(len(values), -1), fmt='%.4f', delimiter=' ')
    return path


def evaluate_files(pred_path: PathLike, gt_path: PathLike, intr: Intrinsics,
                   joint_set: JointSet) -> EvalResult:
    """Metrics of a uvd prediction file against a uvd ground-truth file (same frame order)."""
    gt = read_uvd(gt_path, joint_set.num_joints)
    pred = read_uvd(pred_path, joint_set.num_joints)
    if len(pred) != len(gt):
        raise UvdFileError(f'{pred_path}: {len(pred)} frames, but the ground truth {gt_path} '
                           f'has {len(gt)}')
    return evaluate_uvd(pred, gt, intr, joint_set)


def plot_success(curves: Sequence[Tuple[str, EvalResult]], out_path: PathLike,
                 title: Optional[str] = None) -> Path:
    """Draw the success-rate curves of several results on one figure (PNG, PDF, ...)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg   # Agg, never a display
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError('nothing to plot: no results given')
    fig = Figure(figsize=(7.0, 5.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for label, result in curves:
        ax.plot(result.thresholds_mm, result.success, linewidth=2,
                label=f'{label} (mean {result.mean_mm:.2f} mm)')
    first = curves[0][1].thresholds_mm
    ax.set_xlim(float(first[0]), float(first[-1]))
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel('max joint error threshold (mm)')
    ax.set_ylabel('fraction of frames')
    ax.grid(True, alpha=0.3)
    ax.legend(loc='lower right', fontsize='small')
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(out_path)
    fig.savefig(out)
    return out
