"""The whole pipeline per frame with 1 and 2 hands: the learned detector on user scenes.

Frames are full-resolution user scenes (synthetic/user_scene.py: SCENE viewpoint, the
SCENE_CAMERA preset, body, arms and surroundings) with exactly 1 or 2 hands. The hand count
is pinned (``pin_hands``): the estimator takes its N highest detector peaks as the hands
(threshold 0, max_hands N; handedness 'auto' only when the left/right classifier decides the
sides, else the pose network's side, so that "one hand per side" by the detector's side map
cannot drop one), so a row times N hands whatever the weights, random ones included;
``hands`` in a row says how many were estimated per frame.
"""
from typing import Dict, List, Tuple

import numpy as np

from .stages import time_conversions, time_estimator
from ..core.camera import Intrinsics
from ..core.estimator import HandPoseEstimator
from ..synthetic.user_scene import UserSceneGenerator

HAND_COUNTS = (1, 2)
SCENE_CAMERA = 'realsense_d435_640x480'
SCENE = 'third_person'
PINNED = ('the N highest detector peaks are the hands (detection threshold 0, max_hands N; '
          "handedness 'auto' only with the left/right classifier)")


def scene_frames(hands: int, count: int, seed: int = 0) -> Tuple[List[np.ndarray], Intrinsics]:
    """``count`` full-resolution SCENE_CAMERA scenes (mm) with exactly ``hands`` hands."""
    gen = UserSceneGenerator(cameras=[SCENE_CAMERA], seed=seed, full_resolution=True)
    batch = gen.sample(count, scene=SCENE, camera=SCENE_CAMERA, hands=hands)
    return [np.ascontiguousarray(d, np.float32) for d in batch.depth_mm.numpy()], \
        batch.intrinsics


def pin_hands(est: HandPoseEstimator, hands: int) -> Dict[str, object]:
    """Make the learned detector's ``hands`` highest peaks the hands (PINNED); returns the
    settings it replaced, for ``est.configure(**previous)``."""
    previous = {'max_hands': est.max_hands, 'detection_threshold': est.detection_threshold,
                'handedness': est.handedness}
    by_detector = est.handedness == 'auto' and est.side_classifier is None
    est.configure(max_hands=hands, detection_threshold=0.0,
                  handedness=est.config.handedness if by_detector else est.handedness)
    return previous


def _row(est: HandPoseEstimator, hands: int, frames: List[np.ndarray], intr: Intrinsics,
         warmup: int, runs: int) -> dict:
    """Stages, estimator and pipeline ms per frame of ``hands``-hand frames (pinned)."""
    previous = pin_hands(est, hands)
    try:
        timed = time_estimator(est, frames, intr, warmup, runs)
        conv_ms, _ = time_conversions(est, frames, intr, warmup, runs)
    finally:
        est.configure(**previous)
    stages = {k: v for k, v in timed['stages_ms'].items() if v is not None}
    return {'hands': hands, 'estimated_hands': timed['hands'], 'frames': timed['frames'],
            'stages_ms': {**stages, **conv_ms}, 'estimator_ms': timed['estimator_ms'],
            'estimator_fps': 1e3 / timed['estimator_ms'],
            'pipeline_ms': timed['estimator_ms'] + sum(v or 0.0 for v in conv_ms.values())}


def time_hands(est: HandPoseEstimator, frames: int, warmup: int, runs: int,
               seed: int = 0) -> dict:
    """One row per HAND_COUNTS on ``frames`` scenes each, or why there are none (report.py
    documents the keys)."""
    if est.hand_detector is None:
        return {'status': 'skipped', 'reason': 'no hand detector network (the model has none; '
                '--detector random times one with random weights)'}
    rows, size = [], None
    for n in HAND_COUNTS:
        scenes, intr = scene_frames(n, frames, seed + n)
        size = [intr.width, intr.height]
        rows.append(_row(est, n, scenes, intr, warmup, runs))
    return {'status': 'ok', 'reason': None, 'camera': SCENE_CAMERA, 'scene': SCENE,
            'frame_size': size, 'pinned': PINNED, 'rows': rows}
