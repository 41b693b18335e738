"""Following hands from frame to frame, so the whole-frame detector need not run on every frame.

On video a hand moves little between frames (at 30 fps a hand moving at 1 m/s moves 33 mm),
and the localizer was trained to pull a crop centre that far off back onto the hand
(training/augment.py: detector errors of 20 mm per axis, 50 mm for a quarter). So, as hand
trackers do (MediaPipe Hands runs its palm detector only when it has no hand to follow), a
hand found on one frame starts its crop on the next at the centre the localizer gave it, and
the detector, the costliest stage before the pose network, runs:

- on every frame while no hand is followed (nothing in view, or every hand lost);
- on one frame in ``redetect_every`` while hands are followed, to find hands that came into
  view (up to ``max_hands``) and to let a better-scoring hand displace one: the hands it finds
  join the followed ones not within ``MIN_HAND_SEPARATION_MM`` of a detection (a followed
  hand the detector missed this frame is kept, a detected one takes the detection's centre);
- after a gap of more than ``max_gap_s`` between frames (dropped frames, a paused bag: the
  hand may have moved beyond the localizer's reach) or a change of camera intrinsics.

A followed hand is lost, and the detector looks again on the next frame, when the pose
network's mean joint confidence on it falls below ``min_confidence`` (the node's own
publishing gate), when its start leaves the depth range or its crop holds almost no depth
inside the cube (``estimator.MIN_FOLLOW_SUPPORT``: the hand left the range or the view); of
two followed hands that come within ``MIN_HAND_SEPARATION_MM`` of each other the
lower-scoring one is dropped (both on one hand).
A followed hand keeps the detection score it was found with. ``redetect_every`` 1 runs the
detector on every frame (each frame alone, as without a tracker).

The estimator does the work (``HandPoseEstimator.estimate_batch(..., tracker=...)``); this
class only keeps the hands and decides, one camera, one frame at a time.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .camera import Intrinsics
from .detection import MIN_HAND_SEPARATION_MM

# The detector runs on one frame in this many while hands are followed (30 fps: 6 times a
# second, so a hand coming into view waits at most 5 frames, 0.17 s). Chosen on held-out
# animated sequences (training/tracking_eval.py, validation seeds): docs/experiments.md,
# *Following hands on video*, has the table.
DEFAULT_REDETECT_EVERY = 5
MAX_REDETECT_EVERY = 300
# Localizer passes of a followed hand: its start, last frame's centre, is already near.
DEFAULT_FOLLOW_PASSES = 1
# Frames further apart than this (s) start from the detector again.
DEFAULT_MAX_GAP_S = 0.15
# The mean joint confidence (0..1) below which a hand is not published by the node (its
# min_confidence) and not followed to the next frame. Chosen on the validation user scenes
# (seed 1, 160 frames per view; never the test seed) for the pose network of stage 6, which is
# taught to fit only its own side and so reads lower confidences: 0.1 loses 1 of 624 found
# hands against 0.05 and cuts egocentric false hands per frame from 0.175 to 0.156; 0.15
# would lose 8 more (third person 99.1 -> 96.7 %). (Stage 4 read higher: 0.15 was chosen then.)
# Stage 8 (hand-pose eval --scenes 160 --seed 1 --min-confidence 0.1): 1 egocentric hand of
# 590 lost, false hands per frame 0.037 / 0.106 / 0.031 -> 0.031 / 0.106 / 0.025.
DEFAULT_MIN_CONFIDENCE = 0.1


@dataclass(frozen=True)
class FollowedHand:
    """A hand to crop on the next frame: its centre (u, v pixels, d mm) and detection score."""

    center_uvd: np.ndarray
    score: float


def distinct_hands(centers_mm: np.ndarray, scores: Sequence[float]) -> List[bool]:
    """Which hands to keep (N,) when two centres (N, 3) mm lie within MIN_HAND_SEPARATION_MM
    of each other (one hand found twice): the higher-scoring one of each such pair."""
    centers_mm = np.asarray(centers_mm, np.float64).reshape(-1, 3)
    keep = [False] * len(scores)
    kept: List[int] = []
    for k in sorted(range(len(scores)), key=lambda i: -float(scores[i])):
        if all(np.linalg.norm(centers_mm[k] - centers_mm[j]) >= MIN_HAND_SEPARATION_MM
               for j in kept):
            keep[k] = True
            kept.append(k)
    return keep


class HandTracker:
    """The hands followed on one camera's frames (module docstring)."""

    def __init__(self, redetect_every: int = DEFAULT_REDETECT_EVERY,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 passes: int = DEFAULT_FOLLOW_PASSES,
                 max_gap_s: float = DEFAULT_MAX_GAP_S) -> None:
        if not 1 <= int(redetect_every) <= MAX_REDETECT_EVERY:
            raise ValueError(f'redetect_every must be 1..{MAX_REDETECT_EVERY}, found '
                             f'{redetect_every}')
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise ValueError(f'min_confidence must be in [0, 1], found {min_confidence}')
        if int(passes) < 1 or not float(max_gap_s) > 0:
            raise ValueError(f'passes must be >= 1 and max_gap_s positive, found {passes} and '
                             f'{max_gap_s}')
        self.redetect_every, self.min_confidence = int(redetect_every), float(min_confidence)
        self.passes, self.max_gap_s = int(passes), float(max_gap_s)
        self.hands: List[FollowedHand] = []
        self.detector_frames = 0     # frames on which the detector ran
        self.followed_frames = 0     # frames whose hands were all followed (no detector)
        self._since_detection = 0
        self._last_s: Optional[float] = None
        self._camera: Optional[Tuple] = None

    def reset(self) -> None:
        """Forget every hand (new settings, a new camera)."""
        self.hands, self._since_detection, self._last_s, self._camera = [], 0, None, None

    def plan(self, t_s: float, intr: Intrinsics) -> Tuple[bool, List[FollowedHand]]:
        """For the frame taken at ``t_s`` (s): whether the detector runs, and the hands to
        follow (crop at their last centre) besides its detections."""
        camera = (intr.fx, intr.fy, intr.cx, intr.cy, intr.width, intr.height)
        gap = None if self._last_s is None else float(t_s) - self._last_s
        if camera != self._camera or gap is None or not 0.0 <= gap <= self.max_gap_s:
            self.hands, self._camera = [], camera
        if self.redetect_every == 1:          # no following: every frame alone
            return True, []
        detect = not self.hands or self._since_detection + 1 >= self.redetect_every
        return detect, list(self.hands)

    def update(self, t_s: float, detected: bool, centers_uvd: np.ndarray,
               centers_mm: np.ndarray, scores: Sequence[float],
               confidences: Sequence[float]) -> np.ndarray:
        """Take in the hands estimated on the frame taken at ``t_s``: their refined centres
        (N, 3) (pixels + mm, and camera xyz mm), detection scores and mean joint confidences;
        ``detected``: whether the detector ran. Returns the (N,) flags of the hands followed
        to the next frame."""
        self._last_s = float(t_s)
        if detected:
            self.detector_frames += 1
            self._since_detection = 0
        else:
            self.followed_frames += 1
            self._since_detection += 1
        centers_uvd = np.asarray(centers_uvd, np.float32).reshape(-1, 3)
        centers_mm = np.asarray(centers_mm, np.float64).reshape(-1, 3)
        confident = [float(c) >= self.min_confidence for c in confidences]
        index = np.flatnonzero(confident)
        distinct = distinct_hands(centers_mm[index], [scores[k] for k in index])
        keep = np.zeros(len(confident), bool)
        keep[index[np.asarray(distinct, bool)]] = True
        kept = [int(k) for k in np.flatnonzero(keep)]
        self.hands = [FollowedHand(centers_uvd[k].copy(), float(scores[k])) for k in kept]
        return keep
