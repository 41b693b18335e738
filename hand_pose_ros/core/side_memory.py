"""Left or right over time: each tracked hand keeps the side evidence of its past frames.

Under ``handedness: auto`` the pose network reads each hand's crop as it is and mirrored, and
the hypothesis with the higher mean joint confidence names the side (core/estimator.py). One
frame's margin is noisy: on held-out user scenes 70-83 % of hands get their side right frame
by frame, so a hand seen on video flips between left and right every few frames. A real hand
does not change side, so a hand followed from frame to frame (nearest centre, within
``gate_mm``) adds each frame's margin to its track's evidence, the older evidence fading with
a half-life of ``half_life_frames``, and the side of every frame is the sign of the sum: a
single contrary frame no longer flips it, a hand that persistently reads the other way turns
after a few frames. Tracks not seen for ``timeout_s`` are dropped (a new hand starts from its
own frames).

Evidence unit: the mean joint confidence (0..1) of the left-hand hypothesis minus that of the
right-hand one; > 0 says left.
"""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

DEFAULT_HALF_LIFE_FRAMES = 10.0
DEFAULT_GATE_MM = 100.0
DEFAULT_TIMEOUT_S = 1.0


@dataclass
class SideTrack:
    """One followed hand: where it was last (camera xyz, mm), its evidence and when."""

    center_mm: np.ndarray
    evidence: float
    last_s: float


class SideMemory:
    """Side evidence of the hands followed over a camera's frames (module docstring)."""

    def __init__(self, half_life_frames: float = DEFAULT_HALF_LIFE_FRAMES,
                 gate_mm: float = DEFAULT_GATE_MM, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not half_life_frames > 0 or not gate_mm > 0 or not timeout_s > 0:
            raise ValueError(f'half_life_frames, gate_mm and timeout_s must be positive, found '
                             f'{half_life_frames}, {gate_mm} and {timeout_s}')
        self.decay = 0.5 ** (1.0 / half_life_frames)
        self.gate_mm, self.timeout_s = float(gate_mm), float(timeout_s)
        self.tracks: List[SideTrack] = []

    def reset(self) -> None:
        """Forget every hand (a new camera, a jump in time, new settings)."""
        self.tracks = []

    def match(self, centers_mm: np.ndarray, t_s: float) -> List[Optional[int]]:
        """For each hand centre (N, 3) mm, the index of its track (nearest first, each track
        at most once, within gate_mm) or None; drops tracks older than timeout_s or from the
        future (a camera restarted or time went back)."""
        self.tracks = [k for k in self.tracks if 0.0 <= t_s - k.last_s <= self.timeout_s]
        centers = np.asarray(centers_mm, dtype=np.float64).reshape(-1, 3)
        out: List[Optional[int]] = [None] * len(centers)
        if not self.tracks or not len(centers):
            return out
        old = np.stack([k.center_mm for k in self.tracks])
        dist = np.linalg.norm(centers[:, None] - old[None], axis=-1)          # (N, T)
        for flat in np.argsort(dist, axis=None):
            i, k = divmod(int(flat), len(self.tracks))
            if dist[i, k] > self.gate_mm:
                break
            if out[i] is None and k not in out:
                out[i] = k
        return out

    def priors(self, tracks: List[Optional[int]]) -> np.ndarray:
        """(N,) the faded evidence each hand brings from its track (0 for a new hand)."""
        return np.array([0.0 if k is None else self.decay * self.tracks[k].evidence
                         for k in tracks], dtype=np.float64)

    def update(self, tracks: List[Optional[int]], centers_mm: np.ndarray,
               evidence: np.ndarray, t_s: float) -> None:
        """Add this frame's evidence (N,) of each hand to its track (a new track for None)."""
        centers = np.asarray(centers_mm, dtype=np.float64).reshape(-1, 3)
        prior = self.priors(tracks)
        for i, k in enumerate(tracks):
            total = float(prior[i] + evidence[i])
            if k is None:
                self.tracks.append(SideTrack(centers[i].copy(), total, float(t_s)))
            else:
                track = self.tracks[k]
                track.center_mm, track.evidence, track.last_s = centers[i].copy(), total, t_s
