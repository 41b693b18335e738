"""The demo's scores, per hand side: each predicted hand against the true hand of the side it
was published as (~/right/joints, ~/left/joints), and how often a hand came out with the wrong
label (published as one side, nearest the other side's true hand). Pure numpy, no ROS."""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..core.handedness import nearest_side, SIDES


@dataclass
class MatchedHand:
    """A predicted hand, the side the node labelled it, the ground truth of every hand of its
    frame (mm, by side; the frame's own dict, so a truth arriving later is seen too) and its
    end-to-end latency."""

    stamp_ns: int
    side: str                         # the node's label: the topic it came on
    pred_mm: np.ndarray               # (J, 3)
    truths_mm: Dict[str, np.ndarray]  # side -> (J, 3)
    latency_ms: float                 # stamp -> received by the listener
    received_s: float                 # monotonic time of reception

    @property
    def true_side(self) -> Optional[str]:
        """The side of the true hand this prediction lies nearest (the hand it found)."""
        return nearest_side(self.pred_mm, self.truths_mm)

    @property
    def label_ok(self) -> bool:
        """True when the hand came out on its own side's topic."""
        return self.true_side == self.side

    @property
    def truth_mm(self) -> Optional[np.ndarray]:
        """(J, 3) ground truth of the labelled side, None when the frame has no such hand."""
        truth = self.truths_mm.get(self.side)
        return truth if truth is not None and truth.shape == self.pred_mm.shape else None

    @property
    def error_mm(self) -> Optional[np.ndarray]:
        """(J,) Euclidean error per joint against the labelled side's truth, or None."""
        truth = self.truth_mm
        return None if truth is None else np.linalg.norm(self.pred_mm - truth, axis=-1)


def found_hands(hands: Sequence[MatchedHand], side: Optional[str] = None) -> List[MatchedHand]:
    """The hands published with their true side (of ``side`` only, unless None)."""
    return [h for h in hands if h.label_ok and side in (None, h.side)]


def error_stats(hands: Sequence[MatchedHand], joint_names: Sequence[str]) -> Dict:
    """Mean, median (of per-hand means) and per-joint error (mm, 0.1) of correctly labelled
    hands; None / {} when there are none."""
    errors_mm = np.array([h.error_mm for h in found_hands(hands)])
    if not len(errors_mm):
        return {'mean': None, 'median': None, 'frames': 0, 'per_joint': {}}
    return {'mean': round(float(errors_mm.mean()), 1),
            'median': round(float(np.median(errors_mm.mean(1))), 1),
            'frames': len(errors_mm),
            'per_joint': {n: round(float(e), 1) for n, e in zip(joint_names, errors_mm.mean(0))}}


def side_score(hands: Sequence[MatchedHand], side: str, joint_names: Sequence[str]) -> Dict:
    """One side: frames with output showing that hand, hands published as that side, those
    that were that hand (found) and those that were the other hand (wrong label), and the
    joint error of the found ones."""
    frames = {h.stamp_ns for h in hands if side in h.truths_mm}
    published = [h for h in hands if h.side == side]
    found = found_hands(published)
    return {'frames': len(frames), 'published': len(published), 'found': len(found),
            'wrong_label': len(published) - len(found),
            'error_mm': error_stats(found, joint_names)}


def scores(hands: Sequence[MatchedHand], joint_names: Sequence[str]) -> Dict:
    """Frames with output, wrong labels, the error of every correctly labelled hand and each
    side's score (``side_score``), JSON-ready."""
    per_side = {side: side_score(hands, side, joint_names) for side in SIDES}
    return {'frames_scored': len({h.stamp_ns for h in hands}),
            'wrong_label': sum(s['wrong_label'] for s in per_side.values()),
            'error_mm': error_stats(hands, joint_names), 'hands': per_side}


def status_text(hands: Sequence[MatchedHand]) -> str:
    """One status-line part per side ('right  9/10  12.3 mm') and the wrong labels."""
    frames = {h.stamp_ns for h in hands}
    parts = []
    for side in SIDES:
        found = found_hands(hands, side)
        errors = [float(h.error_mm.mean()) for h in found]
        error = f'{np.median(errors):6.1f}' if errors else '     -'
        parts.append(f'{side} {len(found):3d}/{len(frames):<3d} {error} mm')
    wrong = sum(not h.label_ok for h in hands)
    return ' | '.join(parts) + f' | wrong label {wrong:3d}'
