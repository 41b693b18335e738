"""One frame through the node: messages -> validated depth -> estimator (up to ``max_hands``
hands) -> confidence gate per hand -> one hand per side -> One-Euro smoothing per side. No
publishing and no spinning, so every branch is testable directly."""
from dataclasses import dataclass
import threading
from typing import Dict, Optional, Tuple

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from .conversions import (COMPRESSED_DEPTH, ConversionError, decompressed_image, depth_frame,
                          stamp_to_s, undistorts)
from .node_params import NodeParams
from ..core.camera import Intrinsics
from ..core.estimator import HandPose, HandPoseEstimator, with_range_settings
from ..core.filters import OneEuroFilter
from ..core.hand_selection import best_per_side, mean_confidence
from ..core.hand_tracker import HandTracker
from ..core.handedness import SIDES
from ..core.lens_distortion import DepthRectifier
from ..core.side_memory import SideMemory

NO_HAND = 'no_hand'
LOW_CONFIDENCE = 'low_confidence'
ESTIMATOR_ERROR = 'estimator_error'
UNDISTORTED = 'undistorted'     # a note worth one info line, not a warning (normal operation)
INFO_NOTES = frozenset({UNDISTORTED})


@dataclass(frozen=True)
class HandOutput:
    """One accepted hand: its estimate and the joints to publish."""

    pose: HandPose           # the estimate (xyz unsmoothed), with its score and side
    xyz_mm: np.ndarray       # (J, 3) joints to publish (smoothed when enabled)

    @property
    def side(self) -> str:
        """'right' or 'left'."""
        return self.pose.handedness


@dataclass(frozen=True)
class FrameResult:
    """The outcome of one frame: the hands to publish, or the reason there are none."""

    hands: Tuple[HandOutput, ...] = ()    # accepted, at most one per side, best score first
    reason: Optional[str] = None          # rejection key (diagnostics counter) when no output
    message: str = ''                     # human-readable detail of the rejection
    notes: Tuple[Tuple[str, str], ...] = ()  # (condition key, message) handled without rejecting

    @property
    def ok(self) -> bool:
        """True when there are joints to publish."""
        return bool(self.hands)

    @property
    def pose(self) -> Optional[HandPose]:
        """The highest-scoring accepted hand's estimate (what ~/joints publishes), or None."""
        return self.hands[0].pose if self.hands else None

    @property
    def xyz_mm(self) -> Optional[np.ndarray]:
        """(J, 3) joints of the highest-scoring accepted hand (mm), or None."""
        return self.hands[0].xyz_mm if self.hands else None


def smoothing_filters(params: NodeParams) -> Optional[Dict[str, OneEuroFilter]]:
    """One One-Euro filter per side when smoothing is on, else None."""
    if not params.smoothing:
        return None
    return {side: OneEuroFilter(params.smoothing_min_cutoff, params.smoothing_beta,
                                params.smoothing_d_cutoff) for side in SIDES}


def side_memory(params: NodeParams) -> Optional[SideMemory]:
    """A fresh left/right memory of the followed hands under 'auto' handedness with a
    positive handedness_memory_frames, else None (every frame decides alone)."""
    if params.handedness != 'auto' or params.handedness_memory_frames <= 0:
        return None
    return SideMemory(params.handedness_memory_frames)


def hand_tracker(params: NodeParams) -> HandTracker:
    """A fresh follower of the hands (core/hand_tracker.py): the detector on one frame in
    redetect_every while hands are followed; hands below min_confidence are lost."""
    return HandTracker(params.redetect_every, params.min_confidence)


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
            'localizer_passes': params.localizer_passes, 'max_hands': params.max_hands,
            'detector': params.detector, 'detection_threshold': params.detection_threshold,
            'weak_detection_threshold': params.weak_detection_threshold,
            'rotation_deg': params.input_rotation_deg}


class FramePipeline:
    """Holds the estimator, the current parameters and the smoothing state (per side)."""

    def __init__(self, estimator: HandPoseEstimator, params: NodeParams,
                 image_topic: str = '') -> None:
        self.estimator = estimator
        self.image_topic = image_topic   # the resolved depth topic ('undistort: auto' reads it)
        self._rectifier = DepthRectifier()
        self._lock = threading.Lock()
        self._params = params
        self._filters: Optional[Dict[str, OneEuroFilter]] = None
        self._memory: Optional[SideMemory] = None
        self._tracker: Optional[HandTracker] = None
        self.configure(params)

    @property
    def params(self) -> NodeParams:
        """The parameters in use."""
        with self._lock:
            return self._params

    def configure(self, params: NodeParams) -> None:
        """Apply new (already validated) parameters; safe while ``process`` runs elsewhere."""
        self.estimator.configure(**estimator_settings(params, self.estimator.config.cube_mm))
        filters = smoothing_filters(params)
        memory, tracker = side_memory(params), hand_tracker(params)
        with self._lock:
            self._params, self._filters, self._memory = params, filters, memory
            self._tracker = tracker

    def process(self, image: Image, info: Optional[CameraInfo]) -> FrameResult:
        """Run one Image + CameraInfo pair; never raises for bad input (returns a reason)."""
        with self._lock:
            params, filters, memory = self._params, self._filters, self._memory
            tracker = self._tracker
        rectifier = self._rectifier if undistorts(params.undistort, self.image_topic) else None
        try:
            if params.input_transport == COMPRESSED_DEPTH:   # decoded here, off the callback
                image = decompressed_image(image)
            frame = depth_frame(image, info, params.max_image_pixels, params.reject_nonfinite,
                                rectifier, params.depth_unit_mm, params.input_mirrored)
        except ConversionError as exc:
            return self._lost(filters, exc.reason, str(exc))
        notes = []
        if frame.undistorted:
            notes.append((UNDISTORTED, f'{frame.undistorted} lens distortion of CameraInfo '
                          f'removed from the depth images of {self.image_topic or "the input"} '
                          f'(undistort: {params.undistort}; never: take them as rectified)'))
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
            estimate = self.estimator.estimate_batch(
                [frame.depth_mm], frame.intrinsics, side_memory=memory, tracker=tracker,
                t_s=stamp_to_s(image.header.stamp))[0]
        except ValueError as exc:
            return self._lost(filters, ESTIMATOR_ERROR, f'estimator refused the frame: {exc}',
                              notes)
        if not estimate.hands:
            return self._lost(filters, NO_HAND, no_hand_message(estimate.reason, image.encoding,
                                                                params), notes)
        accepted = best_per_side(estimate.hands, params.min_confidence)
        if not accepted:
            best = max(mean_confidence(p) for p in estimate.hands)
            return self._lost(filters, LOW_CONFIDENCE, f'mean joint confidence {best:.2f} is '
                              f'below min_confidence={params.min_confidence:.2f}', notes)
        hands = self._smoothed(filters, stamp_to_s(image.header.stamp), accepted)
        return FrameResult(hands=hands, notes=tuple(notes))

    @staticmethod
    def _smoothed(filters: Optional[Dict[str, OneEuroFilter]], t_s: float,
                  poses: Tuple[HandPose, ...]) -> Tuple[HandOutput, ...]:
        """Each side's hand through that side's filter; a side without a hand restarts."""
        if filters is None:
            return tuple(HandOutput(p, p.xyz) for p in poses)
        present = {p.handedness for p in poses}
        for side, filt in filters.items():
            if side not in present:
                filt.reset()
        return tuple(HandOutput(p, filters[p.handedness](t_s, p.xyz).astype(np.float32))
                     for p in poses)

    @staticmethod
    def _lost(filters: Optional[Dict[str, OneEuroFilter]], reason: str, message: str,
              notes=()) -> FrameResult:
        """A rejection; the smoothing of both sides restarts with the next hand."""
        for filt in (filters or {}).values():
            filt.reset()
        return FrameResult(reason=reason, message=message, notes=tuple(notes))


def no_hand_message(reason: Optional[str], encoding: str, params: NodeParams) -> str:
    """The estimator's no-hand reason; when it says no depth lies in range at all, followed by
    the node parameters that set the range and the unit."""
    unit = ('' if encoding == '32FC1' else
            f', depth_unit_mm={params.depth_unit_mm:g} (millimetres per {encoding} count)')
    return with_range_settings(reason, f'node parameters near_m={params.near_m:g}, '
                                       f'far_m={params.far_m:g}{unit}')
