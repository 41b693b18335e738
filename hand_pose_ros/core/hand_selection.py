"""Which estimated hands are published: at most one per side, each confident enough.

The node, and `hand-pose estimate` on files, publish the same hands from an estimate.
"""
from typing import Dict, Sequence, Tuple

import numpy as np

from .estimator import HandPose


def mean_confidence(pose: HandPose) -> float:
    """Mean joint confidence of a hand (0..1)."""
    return float(np.mean(pose.confidence))


def best_per_side(poses: Sequence[HandPose], min_confidence: float) -> Tuple[HandPose, ...]:
    """The highest-scoring hand of each side among those whose mean joint confidence reaches
    ``min_confidence``, best score first."""
    ranked = sorted(poses, key=lambda p: p.score, reverse=True)
    chosen: Dict[str, HandPose] = {}
    for pose in ranked:
        if pose.handedness not in chosen and mean_confidence(pose) >= min_confidence:
            chosen[pose.handedness] = pose
    return tuple(chosen.values())
