"""Following hands on video (core/hand_tracker.py) against the detector on every frame.

Held-out sequences of the demo's animated user (synthetic/user_scene.py ``animate``: both hands
raised, opening and closing, swaying and tilting; noise seeds and start times never used in
training), each seen three ways: both hands, and each hand alone (the other image half
blanked); at ``fps`` (30: the node's rate; 10: three times the motion between frames). Plus
hand-free user scenes, each held still for the sequence's length (a false detection a tracker
would keep). Per setting: hands found (crop centre within 40 mm of the true one, as on the
held-out scenes), called the right side, mean joint error of the found hands (ICVL16, mm),
false hands per frame, the share of frames the detector ran on, and the estimator's mean time
per frame (ms; only comparable within one run: the machine's other load counts). The node's
settings otherwise (``handedness: auto`` with the left/right memory; a hand below
``min_confidence`` is not published).

    python -m hand_pose_ros.training.tracking_eval [--sequences 3] [--frames 30] [--fps 30]
        [--split validation|test]

With ``--views``: videos of the held-out user scenes instead (synthetic/user_scene.py
``video``: a random scene of each viewpoint — third person, egocentric, robot — on a camera
preset in turn, whose hands turn, move and bend at constant speed from one random pose to
another over the video, hidden hands counted as in ``hand-pose eval --scenes``), per viewpoint
each frame alone (as ``hand-pose eval --scenes``), with the left/right memory, and as the node
runs (memory and following): what single-frame figures leave open, how a user on video fares.

    python -m hand_pose_ros.training.tracking_eval --views --sequences 20 --frames 45
        [--viewpoints robot,...] [--redetect-every N] [--follow-passes N]
        [--follow-min-confidence C] [--split validation|test]

Validation seeds choose the defaults (core/hand_tracker.py); the test seeds report them.
"""
import argparse
from dataclasses import dataclass
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .scene_eval import (_score_frame, error_cell, percent_cell, scene_truth, SceneScore,
                         Truth)
from ..core.estimator import HandPoseEstimator
from ..core.hand_tracker import (DEFAULT_FOLLOW_PASSES, DEFAULT_MIN_CONFIDENCE,
                                 DEFAULT_REDETECT_EVERY, HandTracker)
from ..core.side_memory import DEFAULT_HALF_LIFE_FRAMES, SideMemory
from ..synthetic.user_scene import one_hand_frame, SCENE_TYPES, UserSceneGenerator

SPLIT_SEEDS = {'validation': 9_300_000, 'test': 9_400_000}   # + sequence index
# user-scene videos (--views): + 1000 x viewpoint index + sequence index
VIEW_SEEDS = {'validation': 9_500_000, 'test': 9_600_000}
SPLIT_START_S = {'validation': 0.0, 'test': 100.0}          # + 3.7 s per sequence
CAMERA = 'realsense_d435_640x480'
HAND_FREE_SCENES = 2         # hand-free scenes per sequence count, each held for the length

TrackerFactory = Optional[Callable[[], HandTracker]]


@dataclass
class TrackCounts(SceneScore):
    """Frames of one setting: the held-out scenes' counts (hands, found, right side, joint
    error, false hands), and hand-free frames, detector runs and timing."""

    free_frames: int = 0
    free_false: int = 0
    detector_frames: int = 0
    ms_sum: float = 0.0

    def as_dict(self) -> Dict[str, float]:
        """Rates and means of the setting."""
        return {**self.row(),
                'hand_free_false_per_frame': self.free_false / max(self.free_frames, 1),
                'detector_share': self.detector_frames / max(self.frames + self.free_frames, 1),
                'ms_per_frame': self.ms_sum / max(self.frames + self.free_frames, 1)}


def settings_table(min_confidence: float) -> Dict[str, TrackerFactory]:
    """The compared settings: the detector on every frame, and following with several
    re-detection intervals and localizer passes."""
    return {
        'detector every frame': None,
        'follow, redetect every 3': lambda: HandTracker(3, min_confidence),
        'follow, redetect every 5': lambda: HandTracker(5, min_confidence),
        'follow, redetect every 10': lambda: HandTracker(10, min_confidence),
        'follow, redetect every 5, 2 passes': lambda: HandTracker(5, min_confidence, passes=2),
    }


def sequences(split: str, count: int, frames: int, fps: float
              ) -> List[Tuple[List[np.ndarray], List[List[Tuple[np.ndarray, str]]], object]]:
    """``count`` x 3 sequences: (depth frames mm, true hands per frame [(ICVL16 xyz mm,
    side)], intrinsics); both hands, then the right alone, then the left alone."""
    out = []
    for s in range(count):
        gen = UserSceneGenerator(seed=SPLIT_SEEDS[split] + s, full_resolution=True)
        intr = gen.camera(CAMERA)[0]
        start = SPLIT_START_S[split] + 3.7 * s
        shots = [gen.animate(start + f / fps, CAMERA) for f in range(frames)]
        out.append(([d for d, _ in shots], [h for _, h in shots], intr))
        for side in ('right', 'left'):
            out.append(([one_hand_frame(d, intr.cx, side) for d, _ in shots],
                        [[x for x in h if x[1] == side] for _, h in shots], intr))
    return out


def scene_videos(split: str, view: str, count: int, frames: int
                 ) -> List[Tuple[List[np.ndarray], List[List[Truth]], object]]:
    """``count`` videos of user scenes of viewpoint ``view`` (UserSceneGenerator.video), the
    camera presets in turn: (depth frames mm, true hands per frame, intrinsics)."""
    gen = UserSceneGenerator(full_resolution=True)
    k = SCENE_TYPES.index(view)
    out = []
    for s in range(count):
        camera = gen.cameras[s % len(gen.cameras)]
        shots = gen.video(VIEW_SEEDS[split] + 1000 * k + s, frames, k, camera)
        out.append(([np.ascontiguousarray(b.depth_mm[0].numpy(), np.float32) for b in shots],
                    [scene_truth(b, 0) for b in shots], shots[0].intrinsics))
    return out


def view_settings(redetect_every: int = DEFAULT_REDETECT_EVERY,
                  follow_passes: int = DEFAULT_FOLLOW_PASSES,
                  follow_min_confidence: float = DEFAULT_MIN_CONFIDENCE
                  ) -> Dict[str, Tuple[bool, TrackerFactory]]:
    """(left/right memory, tracker factory) per setting of --views: each frame alone, with the
    memory, and as the node runs (memory and following; its tracker's settings given)."""
    follow = f'redetect every {redetect_every}'
    if follow_passes != DEFAULT_FOLLOW_PASSES:
        follow += f', {follow_passes} localizer passes'
    if follow_min_confidence != DEFAULT_MIN_CONFIDENCE:
        follow += f', kept from confidence {follow_min_confidence:g}'
    return {
        'each frame alone': (False, None),
        'left/right memory, detector every frame': (True, None),
        f'the node: memory, following ({follow})':
            (True, lambda: HandTracker(redetect_every, follow_min_confidence, follow_passes)),
    }


VIEW_SETTINGS = view_settings()


def evaluate_scene_videos(est: HandPoseEstimator, split: str, count: int, frames: int,
                          fps: float, settings: Dict[str, Tuple[bool, TrackerFactory]],
                          min_confidence: float, views: Sequence[str] = SCENE_TYPES
                          ) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Per viewpoint of ``views``, TrackCounts.as_dict() per named setting over ``count``
    user-scene videos of ``frames`` frames (module docstring)."""
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    for view in views:
        videos = scene_videos(split, view, count, frames)
        out[view] = {}
        for name, (memory, make) in settings.items():
            c = TrackCounts()
            for depths, truths, intr in videos:
                def seen(f, poses, ms, truths=truths):
                    _score_frame(c, list(poses), truths[f])
                    c.ms_sum += ms
                c.detector_frames += _run(est, depths, intr, fps, make, min_confidence, seen,
                                          memory)
            out[view][name] = c.as_dict()
    return out


def hand_free(split: str, count: int) -> Tuple[List[np.ndarray], object]:
    """``count`` hand-free user scenes (mm) of CAMERA and their intrinsics."""
    gen = UserSceneGenerator(cameras=[CAMERA], seed=SPLIT_SEEDS[split] + 50_000,
                             full_resolution=True)
    batch = gen.sample(count, camera=CAMERA, hands=0, min_hands=0)
    return [np.ascontiguousarray(d, np.float32) for d in batch.depth_mm.numpy()], \
        batch.intrinsics


def _score(c: TrackCounts, poses, truth: List[Tuple[np.ndarray, str]]) -> None:
    """Match one frame's hands to the true ones (ICVL16 xyz mm, side), as on the held-out
    scenes (training/scene_eval.py: nearest centre within FOUND_WITHIN_MM, the centre of the
    joints' 3D box); every hand of the animated user counts as seen."""
    _score_frame(c, poses, [(xyz, 0.5 * (xyz.max(0) + xyz.min(0)), side == 'left', True)
                            for xyz, side in truth])


def _run(est: HandPoseEstimator, frames: List[np.ndarray], intr, fps: float,
         make: TrackerFactory, min_confidence: float, on_frame: Callable,
         with_memory: bool = True) -> int:
    """One sequence with a fresh memory (unless not ``with_memory``) and tracker (a node
    starting), the hands below ``min_confidence`` not published (as the node); returns the
    frames the detector ran on."""
    memory = SideMemory(DEFAULT_HALF_LIFE_FRAMES) if with_memory else None
    tracker = make() if make else None
    for f, depth in enumerate(frames):
        t0 = time.perf_counter()
        poses = est.estimate_batch([depth], intr, side_memory=memory, tracker=tracker,
                                   t_s=f / fps)[0].hands
        ms = (time.perf_counter() - t0) * 1e3
        on_frame(f, [p for p in poses if float(p.confidence.mean()) >= min_confidence], ms)
    return tracker.detector_frames if tracker else len(frames)


def evaluate_tracking(est: HandPoseEstimator, split: str, count: int, frames: int, fps: float,
                      settings: Dict[str, TrackerFactory], min_confidence: float
                      ) -> Dict[str, Dict[str, float]]:
    """TrackCounts.as_dict() per named setting (module docstring)."""
    counts = {name: TrackCounts() for name in settings}
    videos = sequences(split, count, frames, fps)
    free, free_intr = hand_free(split, HAND_FREE_SCENES * count)
    for name, make in settings.items():
        c = counts[name]
        for depths, truths, intr in videos:
            def seen(f, poses, ms, truths=truths):
                _score(c, list(poses), truths[f])
                c.ms_sum += ms
            c.detector_frames += _run(est, depths, intr, fps, make, min_confidence, seen)
        for scene in free:
            def seen_free(f, poses, ms):
                c.free_frames += 1
                c.free_false += len(poses)
                c.ms_sum += ms
            c.detector_frames += _run(est, [scene] * frames, free_intr, fps, make, min_confidence,
                                      seen_free)
    return {name: c.as_dict() for name, c in counts.items()}


def tracking_table(rows: Dict[str, Dict[str, float]]) -> str:
    """A Markdown table of evaluate_tracking()."""
    lines = ['| setting | found (<= 40 mm) | handedness | mean joint error | false hands / '
             'frame | hand-free: false / frame | detector on | estimator ms / frame |',
             '|---|---|---|---|---|---|---|---|']
    for name, r in rows.items():
        lines.append(f"| {name} | {100 * r['found']:.1f} % | {100 * r['handedness']:.1f} % | "
                     f"{r['joint_error_mm']:.1f} mm | {r['false_per_frame']:.3f} | "
                     f"{r['hand_free_false_per_frame']:.3f} | "
                     f"{100 * r['detector_share']:.0f} % | {r['ms_per_frame']:.1f} |")
    return '\n'.join(lines)


def views_table(rows: Dict[str, Dict[str, Dict[str, float]]]) -> str:
    """A Markdown table of evaluate_scene_videos()."""
    lines = ['| viewpoint | setting | frames | hands (+ hidden) | found (<= 40 mm) | handedness '
             '| mean joint error | false hands / frame | detector on |',
             '|---|---|---|---|---|---|---|---|---|']
    for view, by_setting in rows.items():
        for name, r in by_setting.items():
            lines.append(f"| {view} | {name} | {r['frames']} | {r['hands']} (+ {r['hidden']}) | "
                         f"{percent_cell(r['found'])} | {percent_cell(r['handedness'])} | "
                         f"{error_cell(r['joint_error_mm'])} | {r['false_per_frame']:.3f} | "
                         f"{100 * r['detector_share']:.0f} % |")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sequences', type=int, default=3)
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--fps', type=float, default=30.0)
    parser.add_argument('--split', choices=tuple(SPLIT_SEEDS), default='validation')
    parser.add_argument('--min-confidence', type=float, default=None,
                        help="a followed hand below this mean joint confidence is lost "
                        "(default: the node's min_confidence)")
    parser.add_argument('--model', default='default')
    parser.add_argument('--views', action='store_true',
                        help='videos of the held-out user scenes, per viewpoint (module '
                        'docstring)')
    parser.add_argument('--viewpoints', default=','.join(SCENE_TYPES),
                        help='--views: the viewpoints, comma-separated (default: all)')
    parser.add_argument('--redetect-every', type=int, default=DEFAULT_REDETECT_EVERY,
                        help="--views: the node row's tracker re-detects every N frames")
    parser.add_argument('--follow-passes', type=int, default=DEFAULT_FOLLOW_PASSES,
                        help="--views: localizer passes of the node row's followed hands")
    parser.add_argument('--follow-min-confidence', type=float, default=None,
                        help="--views: the node row keeps following a hand from this mean "
                        "joint confidence (default: --min-confidence)")
    args = parser.parse_args(argv)
    if args.sequences < 1 or args.frames < 1 or not args.fps > 0:
        parser.error('--sequences and --frames must be >= 1 and --fps positive')
    views = [v for v in args.viewpoints.split(',') if v]
    if not views or any(v not in SCENE_TYPES for v in views):
        parser.error(f'--viewpoints: a comma-separated choice of {", ".join(SCENE_TYPES)}, '
                     f'found {args.viewpoints!r}')
    if args.min_confidence is None:
        args.min_confidence = DEFAULT_MIN_CONFIDENCE
    follow_min = (args.min_confidence if args.follow_min_confidence is None
                  else args.follow_min_confidence)
    try:                                  # the tracker refuses bad settings
        HandTracker(args.redetect_every, follow_min, args.follow_passes)
    except ValueError as err:
        parser.error(str(err))
    settings = view_settings(args.redetect_every, args.follow_passes, follow_min)
    est = HandPoseEstimator.from_files(args.model, device='cpu', handedness='auto',
                                       joint_order='icvl16')
    if args.views:
        rows = evaluate_scene_videos(est, args.split, args.sequences, args.frames, args.fps,
                                     settings, args.min_confidence, views)
        print(f'{args.split}: {args.sequences} user-scene videos per viewpoint x {args.frames} '
              f'frames at {args.fps:g} fps (seeds {VIEW_SEEDS[args.split]} + 1000 x viewpoint '
              f'+ video; camera presets in turn); hands below mean joint confidence '
              f'{args.min_confidence:g} not published')
        print(views_table(rows))
        return 0
    rows = evaluate_tracking(est, args.split, args.sequences, args.frames, args.fps,
                             settings_table(args.min_confidence), args.min_confidence)
    print(f'{args.split}: {args.sequences} sequences x 3 (both hands, each alone) x '
          f'{args.frames} frames at {args.fps:g} fps and {HAND_FREE_SCENES * args.sequences} '
          f'hand-free scenes held {args.frames} frames ({CAMERA}); followed hands lost below '
          f'mean joint confidence {args.min_confidence:g}')
    print(tracking_table(rows))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
