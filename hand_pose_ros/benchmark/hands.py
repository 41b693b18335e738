"""The whole pipeline per frame with 1 and 2 hands: the learned detector on user scenes.

Frames are full-resolution user scenes (synthetic/user_scene.py: SCENE viewpoint, the
SCENE_CAMERA preset, body, arms and surroundings) with exactly 1 or 2 hands. The hand count
is pinned (``pin_hands``): the estimator takes its N highest detector peaks as the hands
(threshold 0, max_hands N), so a row times N hands whatever the weights, random ones
included; ``hands`` in a row says how many were estimated per frame. The handedness is the
estimator's own: under 'auto' each frame alone reads every hand both ways (a hand seen for
the first time).

The ``followed`` row times what the node does on video: one hand of the demo's animated user
(``animate`` at FOLLOWED_FPS, the other image half blanked; pinned to 1 hand) followed from
frame to frame with the node's tracker (core/hand_tracker.py: the detector on one frame in
DEFAULT_REDETECT_EVERY, the other frames crop the hand where it was, one localizer pass) and
its left/right memory, so a hand whose side has settled is read one way
(core/side_memory.py); per frame its mean (the throughput: stages are means, the detector's
spread over the frames it skipped), median, the share of frames read one way and the share
the detector ran on.
"""
import statistics
import time
from typing import Dict, List, Tuple

import numpy as np

from .stages import time_conversions, time_estimator
from ..core.camera import Intrinsics
from ..core.estimator import HandPoseEstimator
from ..core.hand_tracker import HandTracker
from ..core.side_memory import DEFAULT_HALF_LIFE_FRAMES, SideMemory
from ..synthetic.user_scene import one_hand_frame, UserSceneGenerator

HAND_COUNTS = (1, 2)
SCENE_CAMERA = 'realsense_d435_640x480'
SCENE = 'third_person'
PINNED = 'the N highest detector peaks are the hands (detection threshold 0, max_hands N)'
FOLLOWED_FPS = 30.0
FOLLOWED_SIDE = 'right'
# Frames of the followed row at least: 2 s of a 30 fps stream, so that its start (the first
# frame's detection, the 3 frames a side takes to settle) weighs as on a camera left running.
FOLLOWED_LENGTH_MIN = 60


def scene_frames(hands: int, count: int, seed: int = 0) -> Tuple[List[np.ndarray], Intrinsics]:
    """``count`` full-resolution SCENE_CAMERA scenes (mm) with exactly ``hands`` hands."""
    gen = UserSceneGenerator(cameras=[SCENE_CAMERA], seed=seed, full_resolution=True)
    batch = gen.sample(count, scene=SCENE, camera=SCENE_CAMERA, hands=hands)
    return [np.ascontiguousarray(d, np.float32) for d in batch.depth_mm.numpy()], \
        batch.intrinsics


def pin_hands(est: HandPoseEstimator, hands: int) -> Dict[str, object]:
    """Make the learned detector's ``hands`` highest peaks the hands (PINNED); returns the
    settings it replaced, for ``est.configure(**previous)``."""
    previous = {'max_hands': est.max_hands, 'detection_threshold': est.detection_threshold}
    est.configure(max_hands=hands, detection_threshold=0.0)
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


def followed_frames(count: int, seed: int = 0) -> Tuple[List[np.ndarray], Intrinsics]:
    """``count`` consecutive frames (mm) of the animated user at FOLLOWED_FPS with only its
    FOLLOWED_SIDE hand."""
    gen = UserSceneGenerator(cameras=[SCENE_CAMERA], seed=seed, full_resolution=True)
    intr = gen.camera(SCENE_CAMERA)[0]
    frames = [one_hand_frame(gen.animate(i / FOLLOWED_FPS, SCENE_CAMERA)[0], intr.cx,
                             FOLLOWED_SIDE) for i in range(count)]
    return [np.ascontiguousarray(f, np.float32) for f in frames], intr


def time_followed(est: HandPoseEstimator, frames: List[np.ndarray], intr: Intrinsics,
                  warmup: int, runs: int) -> dict:
    """One hand followed over ``frames`` (a fresh memory and tracker per run, as a node
    starting): ms per frame (mean, median), mean stages, the share of frames read one way and
    the share the detector ran on."""
    walls, one_way, found, detector = [], 0, 0, 0
    per_stage: Dict[str, List[float]] = {}
    for r in range(warmup + runs):
        memory, tracker = SideMemory(DEFAULT_HALF_LIFE_FRAMES), HandTracker()
        for i, f in enumerate(frames):
            t_s = i / FOLLOWED_FPS
            ran = tracker.detector_frames
            t0 = time.perf_counter()
            hands = est.estimate_batch([f], intr, side_memory=memory, tracker=tracker,
                                       t_s=t_s)[0].hands
            wall = (time.perf_counter() - t0) * 1e3
            if r < warmup or not hands:
                continue
            walls.append(wall)
            found += 1
            one_way += memory.read_one_way(t_s) > 0
            detector += tracker.detector_frames > ran
            for k, v in hands[0].timings.items():
                per_stage.setdefault(k, []).append(v)
    if not walls:
        return {'hands': 1, 'frames': len(frames), 'found': 0}
    return {'hands': 1, 'frames': len(frames), 'found': found // max(runs, 1),
            'fps': FOLLOWED_FPS, 'side': FOLLOWED_SIDE,
            'stages_ms': {k: statistics.mean(v) for k, v in per_stage.items() if k != 'total'},
            'estimator_ms': statistics.mean(walls), 'estimator_median_ms':
            statistics.median(walls), 'one_way_share': one_way / len(walls),
            'detector_share': detector / len(walls)}


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
    followed = None
    if est.handedness == 'auto' and est.side_classifier is None:
        video, intr = followed_frames(max(frames, FOLLOWED_LENGTH_MIN), seed)
        previous = pin_hands(est, 1)
        try:
            conv_ms, _ = time_conversions(est, video[:1], intr, warmup, runs)
            followed = time_followed(est, video, intr, warmup, runs)
        finally:
            est.configure(**previous)
        if 'estimator_ms' in followed:
            followed['pipeline_ms'] = followed['estimator_ms'] + sum(
                v or 0.0 for v in conv_ms.values())
    return {'status': 'ok', 'reason': None, 'camera': SCENE_CAMERA, 'scene': SCENE,
            'frame_size': size, 'pinned': PINNED, 'rows': rows, 'followed': followed}
