"""One frame through the node: messages -> validated depth -> estimator -> confidence gate ->
One-Euro smoothing. No publishing and no spinning, so every branch is testable directly."""
from dataclasses import dataclass
import threading
from typing import Optional, Tuple

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from .conversions import ConversionError, depth_frame, stamp_to_s
from .node_params import NodeParams
from ..core.camera import Intrinsics
from ..core.estimator import HandPose, HandPoseEstimator
from ..core.filters import OneEuroFilter

NO_HAND = 'no_hand'
LOW_CONFIDENCE = 'low_confidence'
ESTIMATOR_ERROR = 'estimator_error'


@dataclass(frozen=True)
class FrameResult:
    """The outcome of one frame: joints to publish, or the reason there are none."""

    pose: Optional[HandPose] = None       # the estimate (xyz unsmoothed)
    xyz_mm: Optional[np.ndarray] = None   # (J, 3) joints to publish (smoothed when enabled)
    reason: Optional[str] = None          # rejection key (diagnostics counter) when no output
    message: str = ''                     # human-readable detail of the rejection
    notes: Tuple[Tuple[str, str], ...] = ()  # (condition key, message) handled without rejecting

    @property
    def ok(self) -> bool:
        """True when there are joints to publish."""
        return self.xyz_mm is not None


def warm_up(estimator: HandPoseEstimator, runs: int = 3) -> float:
    """Run the whole estimator on a synthetic hand-sized disc ``runs`` times (the first calls
    of a traced network compile it); returns the last run's time in ms (0 if no hand found)."""
    intr = Intrinsics(385.0, 385.0, 159.5, 119.5, 320, 240)
    depth_mm = float(np.clip((estimator.near_mm + estimator.far_mm) / 2, estimator.near_mm,
                             estimator.near_mm + 400.0))
    vv, uu = np.mgrid[0:intr.height, 0:intr.width]
    frame = np.where((uu - 160) ** 2 + (vv - 120) ** 2 <= 30 ** 2, depth_mm, 0.0)
    pose = None
    for _ in range(runs):
        pose = estimator.estimate(frame.astype(np.float32), intr)
    return pose.timings['total'] if pose is not None else 0.0


def estimator_settings(params: NodeParams, model_cube_mm: float) -> dict:
    """Keyword arguments of HandPoseEstimator.configure for a parameter set (m -> mm)."""
    return {'near_mm': params.near_m * 1e3, 'far_mm': params.far_m * 1e3,
            'cube_mm': params.cube_mm or model_cube_mm, 'handedness': params.handedness,
            'localizer_passes': params.localizer_passes}


class FramePipeline:
    """Holds the estimator, the current parameters and the smoothing state."""

    def __init__(self, estimator: HandPoseEstimator, params: NodeParams) -> None:
        self.estimator = estimator
        self._lock = threading.Lock()
        self._params = params
        self._filter: Optional[OneEuroFilter] = None
        self.configure(params)

    @property
    def params(self) -> NodeParams:
        """The parameters in use."""
        with self._lock:
            return self._params

    def configure(self, params: NodeParams) -> None:
        """Apply new (already validated) parameters; safe while ``process`` runs elsewhere."""
        self.estimator.configure(**estimator_settings(params, self.estimator.config.cube_mm))
        filt = OneEuroFilter(params.smoothing_min_cutoff, params.smoothing_beta,
                             params.smoothing_d_cutoff) if params.smoothing else None
        with self._lock:
            self._params, self._filter = params, filt

    def process(self, image: Image, info: Optional[CameraInfo]) -> FrameResult:
        """Run one Image + CameraInfo pair; never raises for bad input (returns a reason)."""
        with self._lock:
            params, filt = self._params, self._filter
        try:
            frame = depth_frame(image, info, params.max_image_pixels, params.reject_nonfinite)
        except ConversionError as exc:
            return self._lost(filt, exc.reason, str(exc))
        notes = []
        if frame.stride > 1:
            notes.append(('downscaled', f'{image.width}x{image.height} depth image is over '
                          f'max_image_pixels={params.max_image_pixels}: processed at '
                          f'{frame.intrinsics.width}x{frame.intrinsics.height} '
                          f'(every {frame.stride}th pixel)'))
        if frame.big_endian:
            notes.append(('big_endian', 'big-endian depth image converted to host byte order'))
        if frame.nonfinite:
            notes.append(('nonfinite_as_missing', f'{frame.nonfinite} NaN/inf depth pixels '
                          'treated as missing (reject_nonfinite is false)'))
        try:
            estimate = self.estimator.estimate_detailed(frame.depth_mm, frame.intrinsics)
        except ValueError as exc:
            return self._lost(filt, ESTIMATOR_ERROR, f'estimator refused the frame: {exc}',
                              notes)
        pose = estimate.pose
        if pose is None:
            return self._lost(filt, NO_HAND, estimate.reason or 'no hand found', notes)
        mean_conf = float(np.mean(pose.confidence))
        if mean_conf < params.min_confidence:
            return self._lost(filt, LOW_CONFIDENCE, f'mean joint confidence {mean_conf:.2f} is '
                              f'below min_confidence={params.min_confidence:.2f}', notes)
        xyz = pose.xyz
        if filt is not None:
            xyz = filt(stamp_to_s(image.header.stamp), xyz).astype(np.float32)
        return FrameResult(pose=pose, xyz_mm=xyz, notes=tuple(notes))

    @staticmethod
    def _lost(filt: Optional[OneEuroFilter], reason: str, message: str,
              notes=()) -> FrameResult:
        """A rejection; the smoothing restarts with the next hand."""
        if filt is not None:
            filt.reset()
        return FrameResult(reason=reason, message=message, notes=tuple(notes))
