"""`hand-pose estimate`: the estimator on saved depth frames and recorded bags, no camera and no
ROS.

What the node would publish for each frame (at most one hand per side, each at or above
``--min-confidence``), as text or JSON lines, and optionally a drawing of each frame with the
hands labelled by side and their thumb tips marked: the quickest check of a camera's frames
(is the thumb on the thumb? is the depth unit right?). Files are frames of their own unless
``--video``, which follows the hands from file to file as the node does on a stream. A ROS 2
bag (core/bag_frames.py) is a stream: its depth topic's frames, each with the bag's CameraInfo
of its frame_id, hands followed by header stamp, as the node would on its playback.
"""
import argparse
import json
from pathlib import Path
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import add_quarter_turn_option

HELP = 'estimate the hands of saved depth frames (16-bit PNG / TIFF, .npy, NYU PNG, ROS bags)'
UNIT_HELP = ('millimetres per stored count: 1 (default) for millimetres, 0.125 for an SR300 '
             "/ SR305's 1/8 mm counts, 1000 for float metres")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose estimate`."""
    from ..core.depth_files import DEPTH_PACKINGS
    from ..core.estimator import (DEFAULT_FAR_MM, DEFAULT_MAX_HANDS, DEFAULT_NEAR_MM, DETECTORS,
                                  HANDEDNESS_MODES)
    from ..core.hand_tracker import DEFAULT_MIN_CONFIDENCE
    parser.add_argument('depth', nargs='+', metavar='DEPTH',
                        help='depth frames: 16-bit PNG / TIFF, float TIFF, .npy (2-D), or NYU '
                        'RGB-packed PNG with --packing nyu; 0 = missing depth. Or bags: ROS 2 '
                        '(a folder with metadata.yaml, .db3, .mcap) or ROS 1 (.bag); needs '
                        'rosbags')
    parser.add_argument('--topic', default=None,
                        help="a bag's depth topic (sensor_msgs/Image, or a compressedDepth "
                        'CompressedImage); default: the one topic named depth (an Image '
                        'beside its own compressedDepth: the Image)')
    camera = parser.add_argument_group(
        "camera (one of; files need one, a bag's own CameraInfo is used unless one is given)")
    which = camera.add_mutually_exclusive_group()
    which.add_argument('--camera-info', metavar='YAML',
                       help="the camera's camera_info: a calibration file, or a CameraInfo as "
                       '`ros2 topic echo --once <camera>/depth/camera_info` prints it')
    which.add_argument('--intrinsics', nargs=4, type=float, metavar=('FX', 'FY', 'CX', 'CY'),
                       help='pinhole intrinsics in pixels of the (rectified) frames')
    which.add_argument('--camera', metavar='PRESET',
                       help='a preset of config/cameras.yaml (e.g. kinect_v1_640x480): '
                       'nominal intrinsics, not your camera\'s calibration')
    camera.add_argument('--no-undistort', action='store_true',
                        help='take frames of a camera_info with a lens distortion as '
                        'rectified (intrinsics from P) instead of undistorting them (K)')
    frames = parser.add_argument_group('frames')
    frames.add_argument('--depth-unit-mm', type=float, default=1.0, metavar='MM',
                        help=UNIT_HELP)
    frames.add_argument('--packing', default='gray', choices=DEPTH_PACKINGS,
                        help='gray: one depth channel (default); nyu: the NYU hand dataset\'s '
                        'RGB PNG, depth mm = G << 8 | B')
    frames.add_argument('--start-offset', type=float, default=0.0, metavar='S',
                        help="a bag's frames from S seconds after its start on (as ros2 bag "
                        'play --start-offset)')
    frames.add_argument('--frames', type=int, default=None, metavar='N',
                        help='at most N frames of each bag (default: all)')
    frames.add_argument('--mirrored', action='store_true',
                        help='the frames are mirrored left-right (a selfie-style SDK setting, '
                        'an image flip): flipped back before anything else, as the node\'s '
                        'input_mirrored does, so hands keep their true sides')
    add_quarter_turn_option(frames, '--rotation-deg', 'a camera mounted rolled about its '
                            'optical axis (upside down: 180): frames are estimated turned '
                            "clockwise by DEG, hands reported in the camera's own frame and "
                            "pixels, as the node's input_rotation_deg")
    frames.add_argument('--video', type=float, default=None, metavar='FPS',
                        help='the files, in the order given, are frames of one stream at FPS: '
                        'hands are followed from frame to frame as the node follows them')
    est = parser.add_argument_group('estimator (the node parameters of the same names)')
    est.add_argument('--model', default='default', help='a shipped name or a checkpoint path')
    est.add_argument('--localizer', default='default',
                     help="'default' (the model's own), 'none', a name or a path")
    est.add_argument('--detector-model', default='default', metavar='PATH',
                     help="hand detector network: 'default' (the model's own) or a path")
    est.add_argument('--detector', default='learned', choices=DETECTORS,
                     help='learned: the detector network; nearest: the nearest region in range')
    est.add_argument('--handedness', default='auto', choices=HANDEDNESS_MODES)
    est.add_argument('--max-hands', type=int, default=DEFAULT_MAX_HANDS, metavar='N')
    est.add_argument('--near-m', type=float, default=DEFAULT_NEAR_MM / 1000.0, metavar='M',
                     help='nearest depth of a hand (m)')
    est.add_argument('--far-m', type=float, default=DEFAULT_FAR_MM / 1000.0, metavar='M',
                     help='farthest depth of a hand (m)')
    est.add_argument('--min-confidence', type=float, default=DEFAULT_MIN_CONFIDENCE,
                     metavar='C', help='report a hand only at or above this mean joint '
                     'confidence (0..1), as the node publishes')
    est.add_argument('--joint-order', default='auto',
                     help="'auto' (mediapipe21 from the shipped model), 'icvl16', 'hand22', ...")
    est.add_argument('--device', default='auto', help="'auto' (CUDA when present), 'cpu', 'cuda'")
    est.add_argument('--threads', type=int, default=None, metavar='N',
                     help='CPU threads (default: torch\'s)')
    out = parser.add_argument_group('output')
    out.add_argument('--json', action='store_true',
                     help='one JSON object per frame: every hand with its joints (mm, camera '
                     'optical frame: x right, y down, z forward) and pixels; a bag\'s frame '
                     'also with its bag, topic, index, header stamp_s and frame_id')
    out.add_argument('--draw', default=None, metavar='DIR',
                     help='write DIR/<frame stem>_hands.png: the frame with each hand labelled '
                     'by side and its thumb tip marked')


def _calibration(args: argparse.Namespace, shape: Tuple[int, int]):
    """The CameraCalibration the options name, for frames of ``shape`` (H, W)."""
    from ..core.camera import Intrinsics
    from ..core.depth_files import CameraCalibration, read_camera_info_yaml
    from ..core.specs import camera_spec
    if args.camera_info:
        return read_camera_info_yaml(args.camera_info)
    if args.camera:
        return CameraCalibration(camera_spec(args.camera).intrinsics)
    fx, fy, cx, cy = args.intrinsics
    return CameraCalibration(Intrinsics(fx, fy, cx, cy, shape[1], shape[0]))


def _hand_record(pose, joint_names: List[str]) -> Dict:
    """A JSON-ready description of one published hand."""
    from ..core.hand_selection import mean_confidence
    return {'side': pose.handedness, 'score': round(float(pose.score), 4),
            'confidence': round(mean_confidence(pose), 4), 'followed': bool(pose.followed),
            'joints': joint_names,
            'xyz_mm': np.round(pose.xyz.astype(np.float64), 2).tolist(),
            'uv_px': np.round(pose.uvd[:, :2].astype(np.float64), 2).tolist(),
            'joint_confidence': np.round(pose.confidence.astype(np.float64), 4).tolist()}


def _hand_line(pose) -> str:
    """One line of text about a published hand."""
    from ..core.hand_selection import mean_confidence
    names = list(pose.joint_set.joint_names)
    at = names.index('wrist') if 'wrist' in names else 0
    x, y, z = (float(v) for v in pose.xyz[at])
    line = (f'  {pose.handedness:<5}  score {pose.score:.2f}  confidence '
            f'{mean_confidence(pose):.2f}  {names[at]} ({x:.0f}, {y:.0f}, {z:.0f}) mm')
    if 'thumb_tip' in names:
        u, v = (float(c) for c in pose.uvd[names.index('thumb_tip'), :2])
        line += f'  thumb tip at ({u:.0f}, {v:.0f}) px'
    return line


def _drawing(depth_mm: np.ndarray, intr, hands, joint_set, caption: str) -> np.ndarray:
    """The frame with each hand's skeleton labelled by side and 'thumb' at its thumb tip."""
    import cv2

    from ..core.drawing import SIDE_BGR, snapshot
    image = snapshot(depth_mm, intr, [(p.handedness, p.xyz) for p in hands], {}, joint_set,
                     caption)
    for pose in hands:
        names = list(pose.joint_set.joint_names)
        if 'thumb_tip' in names:
            u, v = (int(round(float(c))) for c in pose.uvd[names.index('thumb_tip'), :2])
            cv2.circle(image, (u, v), 5, SIDE_BGR[pose.handedness], 1, cv2.LINE_AA)
            cv2.putText(image, 'thumb', (u + 7, v + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        SIDE_BGR[pose.handedness], 1, cv2.LINE_AA)
    return image


def _estimator(args: argparse.Namespace):
    """The estimator the options describe (ValueError / CheckpointError when it cannot be)."""
    from ..core.estimator import HandPoseEstimator
    return HandPoseEstimator.from_files(
        args.model, None if args.localizer == 'none' else args.localizer, device=args.device,
        detector_model=args.detector_model, detector=args.detector,
        handedness=args.handedness, max_hands=args.max_hands, near_mm=args.near_m * 1e3,
        far_mm=args.far_m * 1e3, joint_order=args.joint_order, threads=args.threads,
        rotation_deg=args.rotation_deg)


def _check(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with the options, or None."""
    if not 0 <= args.near_m < args.far_m:
        return f'need 0 <= --near-m < --far-m, found {args.near_m} and {args.far_m}'
    if not 0.0 <= args.min_confidence <= 1.0:
        return f'--min-confidence must be in [0, 1], found {args.min_confidence}'
    if not (np.isfinite(args.depth_unit_mm) and args.depth_unit_mm > 0):
        return f'--depth-unit-mm must be positive, found {args.depth_unit_mm}'
    from ..core.bag_frames import is_bag
    if not (args.camera_info or args.intrinsics or args.camera) and \
            not all(is_bag(name) for name in args.depth):
        return ('depth files need --camera-info, --intrinsics or --camera (a bag carries its '
                'own CameraInfo)')
    if not (np.isfinite(args.start_offset) and args.start_offset >= 0):
        return f'--start-offset must be >= 0 s, found {args.start_offset}'
    if args.frames is not None and args.frames < 1:
        return f'--frames must be >= 1, found {args.frames}'
    if (args.start_offset or args.frames is not None) and \
            not any(is_bag(name) for name in args.depth):
        return '--start-offset and --frames select frames of a bag; no bag was given'
    if args.video is not None and not args.video > 0:
        return f'--video needs frames per second > 0, found {args.video}'
    from ..core.specs import camera_names
    if args.camera and args.camera not in camera_names():
        return f'unknown --camera {args.camera!r}; known: {", ".join(camera_names())}'
    return None


def _stream(args: argparse.Namespace, video: bool) -> Tuple:
    """(HandTracker, SideMemory) following hands from frame to frame as the node does, or
    (None, None) for frames of their own."""
    from ..core.hand_tracker import HandTracker
    from ..core.side_memory import DEFAULT_HALF_LIFE_FRAMES, SideMemory
    if not video:
        return None, None
    return (HandTracker(min_confidence=args.min_confidence),
            SideMemory(DEFAULT_HALF_LIFE_FRAMES) if args.handedness == 'auto' else None)


def _estimate_frame(args: argparse.Namespace, est, name: str, stem: str, depth: np.ndarray,
                    intr, stream: Tuple, t_s: float, fields: Optional[Dict] = None) -> bool:
    """Estimate one frame and report it as ``name`` (drawing ``stem``; ``fields`` added to its
    JSON record); False when the estimator refuses it (said on stderr)."""
    from ..core.estimator import with_range_settings
    from ..core.hand_selection import best_per_side, mean_confidence
    tracker, memory = stream
    try:
        estimate = est.estimate_batch([depth], intr, side_memory=memory, tracker=tracker,
                                      t_s=t_s)[0]
    except ValueError as exc:
        print(f'hand-pose estimate: {name}: the estimator refused it: {exc}', file=sys.stderr)
        return False
    hands = best_per_side(estimate.hands, args.min_confidence)
    reason = None
    if not estimate.hands:
        reason = with_range_settings(
            estimate.reason, f'options --near-m {args.near_m:g}, --far-m {args.far_m:g}, '
            f'--depth-unit-mm {args.depth_unit_mm:g}')
    elif not hands:
        reason = (f'no hand reaches --min-confidence {args.min_confidence:g} (best '
                  f'{max(mean_confidence(p) for p in estimate.hands):.2f})')
    _report(args, name, stem, depth, intr, hands, reason, est.joint_set, fields or {})
    return True


def _estimate_bag(args: argparse.Namespace, est, bag: str) -> int:
    """Estimate every depth frame of a recorded bag as the node would on its playback
    (hands followed from frame to frame by header stamp); the number of frames that failed."""
    from ..core.bag_frames import read_bag
    from ..core.depth_files import DepthFileError
    from ..core.depth_messages import COMPRESSED_DEPTH, undistorts
    from ..core.lens_distortion import DepthRectifier
    topic, frames = read_bag(bag, args.topic, args.depth_unit_mm, args.start_offset,
                             args.frames)
    # as the node's undistort 'auto': by the image topic's name (compressedDepth's base topic)
    undistort = not args.no_undistort and undistorts(
        'auto', topic.removesuffix('/' + COMPRESSED_DEPTH))
    rectifier, stream = DepthRectifier(), _stream(args, True)
    fixed = None if args.intrinsics or not (args.camera_info or args.camera) else \
        _calibration(args, (0, 0))
    failed, skipped, first_s, read = 0, {}, None, 0
    for frame in frames:
        read += 1
        name = f'{bag}@{frame.stamp_s:.3f}'
        if frame.depth_mm is None:
            print(f'hand-pose estimate: {name}: {frame.problem}', file=sys.stderr)
            failed += 1
            continue
        calibration = fixed or (_calibration(args, frame.depth_mm.shape) if args.intrinsics
                                else frame.calibration)
        if calibration is None:                  # as the node: no CameraInfo yet
            skipped[frame.problem] = skipped.get(frame.problem, 0) + 1
            continue
        try:
            depth, intr = calibration.pinhole(frame.depth_mm, undistort, rectifier,
                                              args.mirrored)
        except DepthFileError as exc:
            print(f'hand-pose estimate: {name}: {exc}', file=sys.stderr)
            failed += 1
            continue
        first_s = frame.stamp_s if first_s is None else first_s
        stem = f'{Path(bag).stem}_{frame.index:05d}'
        failed += not _estimate_frame(
            args, est, name, stem, depth, intr, stream, frame.stamp_s - first_s,
            {'bag': str(bag), 'topic': topic, 'index': frame.index, 'stamp_s': frame.stamp_s,
             'frame_id': frame.frame_id})
    for problem, count in skipped.items():
        print(f'hand-pose estimate: {bag} ({topic}): {count} frame'
              f'{"" if count == 1 else "s"} skipped: {problem}', file=sys.stderr)
    if first_s is None:
        why = (f'no frame recorded {args.start_offset:g} s or more after its start'
               if not read and args.start_offset else 'no frame could be estimated')
        if skipped and read == sum(skipped.values()):
            why += ('; none had a CameraInfo: give the camera with --camera-info, '
                    '--intrinsics or --camera')
        print(f'hand-pose estimate: {bag} ({topic}): {why}', file=sys.stderr)
        failed = max(failed, 1)
    return failed


def run(args: argparse.Namespace) -> int:
    """Estimate every file and bag; exit 2 on bad options or a model that does not load, 1
    when a file or a bag's frame is not a depth frame of the camera (the others are still
    estimated)."""
    from ..core.bag_frames import BagError, is_bag
    from ..core.checkpoint import CheckpointError
    from ..core.depth_files import DepthFileError, read_depth_file
    from ..core.lens_distortion import DepthRectifier
    problem = _check(args)
    if problem:
        print(f'hand-pose estimate: {problem}', file=sys.stderr)
        return 2
    try:
        est = _estimator(args)
    except (ValueError, KeyError, FileNotFoundError, CheckpointError) as exc:
        print(f'hand-pose estimate: {exc}', file=sys.stderr)
        return 2
    rectifier = DepthRectifier()          # one undistortion map for all frames of the camera
    stream = _stream(args, args.video is not None)
    failed, calibration = 0, None
    for k, name in enumerate(args.depth):
        if is_bag(name):
            try:
                failed += _estimate_bag(args, est, name)
            except BagError as exc:
                print(f'hand-pose estimate: {name}: {exc}', file=sys.stderr)
                failed += 1
            continue
        try:
            depth = read_depth_file(name, args.depth_unit_mm, args.packing)
            if calibration is None or args.intrinsics:   # a file or preset is read once
                calibration = _calibration(args, depth.shape)
            depth, intr = calibration.pinhole(depth, not args.no_undistort, rectifier,
                                              args.mirrored)
        except (DepthFileError, ValueError) as exc:
            print(f'hand-pose estimate: {name}: {exc}', file=sys.stderr)
            failed += 1
            continue
        t_s = k / args.video if args.video else 0.0
        failed += not _estimate_frame(args, est, name, Path(name).stem, depth, intr, stream, t_s)
    return 1 if failed else 0


def _report(args: argparse.Namespace, name: str, stem: str, depth: np.ndarray, intr, hands,
            reason: Optional[str], joint_set, fields: Dict) -> None:
    """Print one frame's result (``fields`` added to its JSON record) and write its drawing
    (``stem``_hands.png, hands in ``joint_set``) when asked."""
    valid = depth[depth > 0]
    span = f'{valid.min():.0f}-{valid.max():.0f} mm' if valid.size else 'no depth'
    if args.json:
        names = list(joint_set.joint_names)
        print(json.dumps({'file': str(name), **fields, 'width': intr.width, 'height': intr.height,
                          'intrinsics': intr.to_dict(), 'hands':
                          [_hand_record(p, names) for p in hands], 'reason': reason}))
    else:
        count = f'{len(hands)} hand' + ('' if len(hands) == 1 else 's')
        print(f'{name} ({intr.width}x{intr.height}, depth {span}): {count}'
              + (f' ({reason})' if reason else ''))
        for pose in hands:
            print(_hand_line(pose))
    if args.draw:
        from ..core.drawing import write_png
        caption = f'{Path(name).name}: ' + (', '.join(p.handedness for p in hands) or 'no hand')
        path = write_png(Path(args.draw) / f'{stem}_hands.png',
                         _drawing(depth, intr, hands, joint_set, caption))
        if not args.json:
            print(f'  drawn: {path}')
