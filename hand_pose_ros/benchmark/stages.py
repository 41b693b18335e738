"""Timing the estimator per stage and the node's message conversions, as medians of warm runs."""
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..core.camera import Intrinsics
from ..core.estimator import HandPoseEstimator
from ..core.specs import dataset_spec

# How hands are found: the learned detector's stage, or the nearest blob's centre of mass.
FINDER_STAGES = ('detector', 'com')
# 'verify': the pose network on weak detector peaks (0 when a frame has none); 'side': the
# left/right classifier on the crops (0 when it does not run).
ESTIMATOR_STAGES = FINDER_STAGES + ('localizer', 'verify', 'side', 'crop', 'pose_net', 'decode')
STAGES = ('image_conversion',) + ESTIMATOR_STAGES + ('message_building',)


def _disc_hand(intr: Intrinsics, center_uv: Tuple[float, float], depth_mm: float) -> np.ndarray:
    """A crude hand silhouette (palm disc and five finger bars, mm) when no renderer exists."""
    vv, uu = np.mgrid[0:intr.height, 0:intr.width].astype(np.float32)
    px_per_mm = intr.fx / depth_mm
    du, dv = (uu - center_uv[0]) / px_per_mm, (vv - center_uv[1]) / px_per_mm   # mm
    hand = du ** 2 + dv ** 2 <= 45.0 ** 2
    for angle in np.linspace(-0.9, 0.9, 5):
        along = -dv * np.cos(angle) + du * np.sin(angle)
        across = du * np.cos(angle) + dv * np.sin(angle)
        hand |= (along > 30) & (along < 110) & (np.abs(across) < 8)
    return np.where(hand, np.float32(depth_mm) - 0.05 * (du ** 2 + dv ** 2) ** 0.5,
                    np.float32(0)).astype(np.float32)


def bench_frames(count: int = 8, seed: int = 0) -> Tuple[List[np.ndarray], Intrinsics, str]:
    """(frames in mm, ICVL intrinsics, source): synthetic renders, else crude silhouettes."""
    intr = dataset_spec('icvl').intrinsics
    try:
        from ..synthetic import SyntheticGenerator
        depth = SyntheticGenerator(intr, joint_set='icvl16', seed=seed).sample(count).depth_mm
        return [np.ascontiguousarray(d, np.float32) for d in depth.cpu().numpy()], intr, \
            'synthetic renders (hand_pose_ros.synthetic)'
    except ImportError:
        rng = np.random.default_rng(seed)
        frames = [_disc_hand(intr, (rng.uniform(120, 200), rng.uniform(90, 150)),
                             rng.uniform(350, 600)) for _ in range(count)]
        return frames, intr, 'hand silhouettes (the synthetic renderer is not importable)'


def median_ms(fn: Callable[[], object], warmup: int, runs: int) -> float:
    """Median wall time of ``fn`` in ms after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_estimator(est: HandPoseEstimator, frames: List[np.ndarray], intr: Intrinsics,
                   warmup: int = 2, runs: int = 5) -> dict:
    """Per-stage medians (ms) over frames x runs, the whole call per frame (all its hands) and
    ``hands``, the mean number of hands estimated per frame.

    Frames without a found hand are left out (their stages would be missing); the finder
    stage the estimator does not use (FINDER_STAGES) is None.
    """
    found = [f for f in frames if est.estimate_hands(f, intr)]
    if not found:
        raise RuntimeError(f'the estimator found no hand in any of the {len(frames)} frames')
    for _ in range(warmup):
        for f in found:
            est.estimate_hands(f, intr)
    per_stage: Dict[str, List[float]] = {}
    wall, counts = [], []
    for _ in range(runs):
        for f in found:
            t0 = time.perf_counter()
            hands = est.estimate_hands(f, intr)
            wall.append((time.perf_counter() - t0) * 1e3)
            counts.append(len(hands))
            for k, v in (hands[0].timings if hands else {}).items():
                per_stage.setdefault(k, []).append(v)
    return {'stages_ms': {k: statistics.median(per_stage[k]) if k in per_stage else None
                          for k in ESTIMATOR_STAGES},
            'estimator_ms': statistics.median(wall),
            'estimator_internal_ms': statistics.median(per_stage['total']),
            'hands': statistics.mean(counts),
            'frames': len(found), 'runs': runs, 'warmup': warmup}


def _conversions():
    """(conversions module, markers module or None, Header class), or the ImportError text."""
    try:
        from std_msgs.msg import Header
        from ..ros import conversions
    except ImportError as exc:
        return None, f'hand_pose_ros.ros.conversions is not importable ({exc})'
    try:
        from ..ros import markers
    except ImportError:
        markers = None
    return (conversions, markers, Header), None


def time_conversions(est: HandPoseEstimator, frames: List[np.ndarray], intr: Intrinsics,
                     warmup: int = 2, runs: int = 5) -> Tuple[dict, dict]:
    """Medians (ms) of the node's per-frame conversions: ({stage: ms or None}, {stage: why}).

    image_conversion: ``conversions.depth_frame`` (validated Image + CameraInfo -> mm);
    message_building: the messages the node builds per frame with a hand, for every hand
    found (PoseArray, PointCloud2 and, when importable, the MarkerArray skeleton).
    """
    mods, reason = _conversions()
    if mods is None:
        return ({'image_conversion': None, 'message_building': None},
                {'image_conversion': reason, 'message_building': reason})
    conv, markers, header_cls = mods
    header = header_cls(frame_id='bench_depth')
    images = [conv.depth_image(f, header) for f in frames]
    info = conv.camera_info(intr, header)
    per_frame = [hands for hands in (est.estimate_hands(f, intr) for f in frames) if hands]
    poses = [p for hands in per_frame for p in hands]
    n = max(1, len(images))
    image_ms = median_ms(lambda: [conv.depth_frame(m, info) for m in images], warmup, runs) / n

    def build() -> None:
        for p in poses:
            conv.pose_array(p.xyz, header)
            conv.point_cloud(p.xyz, p.confidence, header)
            if markers is not None:
                markers.skeleton_markers(p.xyz, est.joint_set, header)
    message_ms = (median_ms(build, warmup, runs) / len(per_frame)) if poses else None
    why = {} if markers is not None else {
        'message_building': 'markers not importable: PoseArray + PointCloud2 only'}
    return {'image_conversion': image_ms, 'message_building': message_ms}, why


def frame_budget(stages_ms: Dict[str, Optional[float]]) -> float:
    """Sum of the known per-stage medians (ms)."""
    return float(sum(v for v in stages_ms.values() if v is not None))
