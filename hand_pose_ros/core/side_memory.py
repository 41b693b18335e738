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

Reading both ways doubles the pose network's work, so a hand whose side is settled is read one
way: after ``settle_after`` both-way readings in a row whose own margin agreed with the side
the hand was given, it is read only as that side for the next ``one_way_frames`` frames, then
both ways again (a check: a disagreeing reading unsettles it, and it is read both ways every
frame until it settles again, so a hand on the wrong side still turns, a few frames later).
Frames read one way add no evidence and do not fade it: the half-life counts readings.
``one_way_frames=0`` reads every frame both ways.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

DEFAULT_HALF_LIFE_FRAMES = 10.0
DEFAULT_GATE_MM = 100.0
DEFAULT_TIMEOUT_S = 1.0
SETTLE_AFTER_READINGS = 3   # agreeing both-way readings in a row that settle a hand's side
# Frames a settled hand is then read one way before a check: a check every 8th frame (0.27 s at
# 30 fps). On the held-out animated sequences (training/side_memory_eval.py, 4 x 2 hands x 32
# frames at 15 fps) 0 / 3 / 7 / 15 read 0 / 69 / 81 / 88 % of the frames one way, every hand
# on its side in each; 3 -> 7 saves about 1 ms a followed frame on a 2-core CPU.
ONE_WAY_FRAMES = 7


@dataclass
class SideTrack:
    """One followed hand: where it was last (camera xyz, mm), its evidence and when."""

    center_mm: np.ndarray
    evidence: float
    last_s: float
    left: bool = False    # the side it was given at its last frame
    agreeing: int = 0     # both-way readings in a row whose own margin agreed with that side
    one_way: int = 0      # frames read one way since its last both-way reading


class SideMemory:
    """Side evidence of the hands followed over a camera's frames (module docstring)."""

    def __init__(self, half_life_frames: float = DEFAULT_HALF_LIFE_FRAMES,
                 gate_mm: float = DEFAULT_GATE_MM, timeout_s: float = DEFAULT_TIMEOUT_S,
                 settle_after: int = SETTLE_AFTER_READINGS,
                 one_way_frames: int = ONE_WAY_FRAMES) -> None:
        if not half_life_frames > 0 or not gate_mm > 0 or not timeout_s > 0:
            raise ValueError(f'half_life_frames, gate_mm and timeout_s must be positive, found '
                             f'{half_life_frames}, {gate_mm} and {timeout_s}')
        if settle_after < 1 or one_way_frames < 0:
            raise ValueError(f'settle_after must be >= 1 and one_way_frames >= 0, found '
                             f'{settle_after} and {one_way_frames}')
        self.decay = 0.5 ** (1.0 / half_life_frames)
        self.gate_mm, self.timeout_s = float(gate_mm), float(timeout_s)
        self.settle_after, self.one_way_frames = int(settle_after), int(one_way_frames)
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

    def settled(self, tracks: List[Optional[int]]) -> np.ndarray:
        """(N,) the side each hand is read as alone this frame: +1 left, -1 right, 0 both ways
        (a new hand, an unsettled one, or a settled one due for its check)."""
        out = np.zeros(len(tracks), dtype=np.int64)
        for i, k in enumerate(tracks):
            if k is None:
                continue
            track = self.tracks[k]
            if track.agreeing >= self.settle_after and track.one_way < self.one_way_frames:
                out[i] = 1 if track.left else -1
        return out

    def read_one_way(self, t_s: float) -> int:
        """How many hands of the frame taken at ``t_s`` were read one way (side settled)."""
        return sum(1 for k in self.tracks if k.one_way > 0 and k.last_s == t_s)

    def update(self, tracks: List[Optional[int]], centers_mm: np.ndarray,
               evidence: np.ndarray, t_s: float, left: Optional[Sequence[bool]] = None,
               measured: Optional[Sequence[bool]] = None) -> None:
        """Take in this frame: each hand's track (a new one for None) moves to its centre;
        a hand read both ways (``measured``, default all) adds its evidence (N,) and counts
        whether it agreed with ``left`` (N,), the side it was given (default: the sign of
        its evidence with the prior); a hand read one way only counts the frame."""
        centers = np.asarray(centers_mm, dtype=np.float64).reshape(-1, 3)
        prior = self.priors(tracks)
        evidence = np.asarray(evidence, dtype=np.float64).reshape(-1)
        if left is None:
            left = [bool(p + e > 0) for p, e in zip(prior, evidence)]
        if measured is None:
            measured = [True] * len(tracks)
        for i, k in enumerate(tracks):
            if k is None:
                k = len(self.tracks)
                self.tracks.append(SideTrack(centers[i].copy(), 0.0, float(t_s)))
                prior[i] = 0.0
            track = self.tracks[k]
            track.center_mm, track.last_s = centers[i].copy(), float(t_s)
            if not measured[i]:
                track.one_way += 1
                continue
            agrees = evidence[i] != 0 and (evidence[i] > 0) == bool(left[i])
            track.evidence = float(prior[i] + evidence[i])
            track.agreeing = track.agreeing + 1 if agrees and track.left == bool(left[i]) \
                else int(agrees)
            track.left, track.one_way = bool(left[i]), 0
