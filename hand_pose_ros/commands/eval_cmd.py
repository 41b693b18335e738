"""`hand-pose eval`: score uvd prediction files (or the estimator on rendered poses).

File mode: each PRED file holds one frame per line, J joints x (u v d), in the order of the
ground truth (by default the dataset's file in the reference folder, see training/reference.py).
Render mode (--render): every ground-truth pose is rendered with the synthetic sensor model,
the full estimator runs on it, and its joints are scored the same way.
Exit status: 0 on success, 2 on a bad file, model or option (one message, no traceback).
"""
import argparse
import json
import logging
from pathlib import Path
import sys
import time
from typing import List, Optional, Tuple, TYPE_CHECKING

import numpy as np

from . import add_quarter_turn_option

if TYPE_CHECKING:  # annotations only: the CLI imports its heavy modules lazily
    from ..training.evaluate import EvalResult

HELP = 'evaluate uvd prediction files (or the estimator on rendered poses) against ground truth'
REFERENCE = 'reference'   # --render without a value: the dataset's reference ground truth
# Seed stream of `--synthetic` frames: apart from training (step_seed: hashed 63-bit seeds) and
# from the trainer's validation frames (train seed + 1_000_003).
SYNTHETIC_SEED = 2_000_003
LOG = logging.getLogger('hand_pose_ros.eval')
FAILURE_SCORING = ('frames without a found hand are scored with every joint at the centre of '
                   'mass of the valid depth (the principal point at mid-range depth for an '
                   'empty frame), so they count as errors')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose eval`."""
    parser.add_argument('predictions', nargs='*', metavar='PRED',
                        help='uvd text files: one frame per line, J joints x (u v d)')
    parser.add_argument('--dataset', default=None, choices=('icvl', 'nyu', 'msra'),
                        help='dataset of the frames: sets the intrinsics and the joint set '
                        '(required except with --scenes)')
    parser.add_argument('--gt', default=None, metavar='FILE',
                        help='ground-truth uvd file (default: the reference folder, '
                        '../shared/reference/hand-pose-eval or $HAND_POSE_REFERENCE_DIR)')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON object per evaluated file (one per line)')
    parser.add_argument('--plot', default=None, metavar='OUT',
                        help='draw the success-rate curves of all files to this image')
    render = parser.add_argument_group('render mode: the estimator on rendered ground truth')
    render.add_argument('--render', nargs='?', const=REFERENCE, default=None, metavar='GT_FILE',
                        help='render every pose of GT_FILE (default: the reference ground '
                        'truth) and score the estimator on the renders')
    render.add_argument('--synthetic', type=int, default=None, metavar='N',
                        help='score the estimator on N held-out synthetic hands of the '
                        "dataset's camera instead (seed stream SYNTHETIC_SEED + --seed, never a "
                        'training seed)')
    render.add_argument('--hands', default='right', choices=('right', 'left', 'both'),
                        help='with --synthetic: which hands to render (default: right)')
    render.add_argument('--scenes', type=int, default=None, metavar='N',
                        help='score the whole estimator (detector, handedness, pose) on N '
                        'held-out user scenes per viewpoint (third person, egocentric, robot) '
                        'and N hand-free frames, every camera preset of config/cameras.yaml '
                        '(training/scene_eval.py)')
    render.add_argument('--misses', action='store_true',
                        help='--scenes: also say why each missed hand was missed (no detector '
                        'peak near it, a peak under the weak threshold, a weak peak not '
                        'confirmed, returned off its centre, ...) and which found hands were '
                        'told the wrong side, by how flat the true hand is and which way its '
                        "palm faces: two more tables, or 'misses' and 'sides' in each JSON row; "
                        'one more detector pass per batch')
    render.add_argument('--detector', default=None, choices=('learned', 'nearest'),
                        help="how hands are found (default: the estimator's: learned when the "
                        'detector is shipped)')
    render.add_argument('--detector-model', default='default', metavar='PATH',
                        help="the hand detector's weights: 'default' (the model's own) or a "
                        'checkpoint / exported file (a detector you trained)')
    render.add_argument('--side-model', default='default', metavar='PATH',
                        help="the left/right classifier used under handedness auto: 'default' "
                        "(the model's own, if it has one), 'none' (the pose network reads "
                        'each crop as it is and mirrored) or a checkpoint (one you trained)')
    render.add_argument('--detection-threshold', type=float, default=None, metavar='SCORE',
                        help="lowest detector score (0..1) of a hand (default: the "
                        "estimator's)")
    render.add_argument('--weak-threshold', type=float, default=None, metavar='SCORE',
                        help='lowest detector score (0..1) of a weak peak, a hand only when '
                        "the pose network confirms it (default: the estimator's; the "
                        'detection threshold or above: none)')
    render.add_argument('--min-confidence', type=float, default=0.0, metavar='C',
                        help='--scenes: a hand whose mean joint confidence (0..1) is below C '
                        "counts as not returned, as the node's min_confidence does not publish "
                        'it (default 0: every hand the estimator returns)')
    add_quarter_turn_option(render, '--turn-scenes', '--scenes: the scenes as a camera rolled '
                            'about its optical axis sees them, each frame turned clockwise by '
                            'DEG (a camera upside down: 180)')
    add_quarter_turn_option(render, '--rotation-deg', "the node's input_rotation_deg: frames "
                            'are estimated turned clockwise by DEG (undoes --turn-scenes '
                            '360-DEG)')
    render.add_argument('--handedness', default=None, choices=('auto', 'right', 'left'),
                        help="--render/--synthetic: the dataset's declared side unless given; "
                        "--scenes: the estimator's default (auto)")
    render.add_argument('--model', default='default',
                        help='pose model: a shipped name or a checkpoint path (default: shipped)')
    render.add_argument('--localizer', default='default',
                        help="localizer: 'default', a name or path, or 'none' to switch it off")
    render.add_argument('--localizer-passes', type=int, default=None, metavar='N',
                        help="localizer runs per frame, each around the previous centre "
                        "(default: the estimator's, 2)")
    render.add_argument('--center', default='estimated', choices=('estimated', 'truth'),
                        help='--render: where each pose crop is centred: the estimator\'s '
                        '(detector or centre of mass, then the localizer) or the true hand '
                        'centre (the pose network alone, as in the ablation)')
    render.add_argument('--stride', type=int, default=1, help='use every N-th frame')
    render.add_argument('--seed', type=int, default=0, help='seed of the sensor-noise model')
    render.add_argument('--batch-size', type=int, default=32,
                        help='frames per render/estimate (--scenes draws its scenes in batches '
                        'of this size, one camera per batch: figures compare at one size)')
    render.add_argument('--device', default='auto', help='auto (CUDA when present), cpu, cuda')
    render.add_argument('--precision', default='auto', help='auto, fp32, bf16 or int8')
    render.add_argument('--optimize', default='auto',
                        help='auto, none, channels_last, freeze or compile (see bench)')
    render.add_argument('--save-predictions', default=None, metavar='FILE',
                        help='write the estimated joints as a uvd text file')


class _Fail(Exception):
    """A user error: its message is printed and the command exits with status 2."""


def _gt_path(args: argparse.Namespace, explicit: Optional[str]):
    """The ground-truth file: an explicit path, else the dataset's reference file."""
    from ..training.reference import gt_file
    if explicit is not None:
        return Path(explicit)
    try:
        return gt_file(args.dataset)
    except (FileNotFoundError, KeyError) as exc:
        raise _Fail(f'{exc.args[0]}; pass the ground truth with --gt FILE') from None


def _evaluate_files(args: argparse.Namespace, spec, gt) -> List[Tuple[str, 'EvalResult', dict]]:
    """(label, EvalResult, extra JSON fields) of every prediction file."""
    from ..training.evaluate import evaluate_files
    return [(p, evaluate_files(p, gt, spec.intrinsics, spec.joint_set), {'file': p})
            for p in args.predictions]


def _fallback_uvd(frame: np.ndarray, intr, est) -> np.ndarray:
    """Where a frame without a found hand is scored: the centre of mass of all valid depth,
    or the principal point at mid-range depth for an empty frame (uvd, pixels + mm)."""
    from ..core.crop import center_of_mass
    com = center_of_mass(frame, 1e-3, float(np.max(frame)) + 1.0, est.cube_mm, intr)
    if com is None:
        return np.array([intr.cx, intr.cy, (est.near_mm + est.far_mm) / 2])
    return np.asarray(com, dtype=np.float64)


def _estimate_rendered(args: argparse.Namespace, spec, gt_uvd):
    """Render each pose, run the estimator: (pred uvd (N, J, 3), failed (N,) bool, estimator)."""
    import torch

    from ..core.camera import uvd_to_xyz
    from ..core.crop import hand_center_uvd
    try:
        from ..synthetic import SyntheticGenerator
    except ImportError as exc:
        raise _Fail(f'--render needs the synthetic renderer, which cannot be imported: {exc}'
                    ) from None
    intr, joints = spec.intrinsics, spec.joint_set
    est = _estimator(args, spec.handedness, joints.name)
    gen = SyntheticGenerator(intr, joint_set='icvl16', device=est.device, seed=args.seed)
    xyz = uvd_to_xyz(gt_uvd, intr)                                      # (N, J, 3) mm
    pred = np.zeros_like(gt_uvd)
    failed = np.zeros(len(gt_uvd), dtype=bool)
    t0 = time.perf_counter()
    for start in range(0, len(gt_uvd), args.batch_size):
        stop = min(start + args.batch_size, len(gt_uvd))
        try:
            # the dataset's own hands (ICVL: left), as in its published figures
            depth = gen.render_joints(torch.from_numpy(xyz[start:stop]).float(),
                                      left=spec.handedness == 'left')           # (B, H, W)
        except ValueError as exc:
            raise _Fail(f'{args.render}: frames {start + 1}..{stop}: {exc}') from None
        frames = list(depth.detach().cpu().float().numpy())
        centers = None if args.center == 'estimated' else \
            hand_center_uvd(torch.from_numpy(gt_uvd[start:stop]), intr).numpy()
        for k, found in enumerate(est.estimate_batch(frames, intr, centers), start=start):
            if found.pose is None:
                failed[k] = True
                pred[k] = _fallback_uvd(frames[k - start], intr, est)[None]
            else:
                pred[k] = found.pose.uvd
        LOG.info('%d/%d frames rendered and estimated (%.1f frames/s)', stop, len(gt_uvd),
                 stop / (time.perf_counter() - t0))
    return pred, failed, est


def _estimator(args: argparse.Namespace, handedness: str, joint_order: Optional[str] = None):
    """The estimator of the command line's model options, expecting ``handedness`` hands and
    returning ``joint_order`` joints (the dataset's; a model that cannot give them fails)."""
    from ..core.checkpoint import CheckpointError
    from ..core.estimator import HandPoseEstimator
    from ..synthetic.calibration import int8_calibration
    localizer = None if args.localizer.lower() == 'none' else args.localizer
    try:
        return HandPoseEstimator.from_files(
            args.model, localizer, device=args.device, precision=args.precision,
            optimize=args.optimize, calibration=int8_calibration(args.precision),
            handedness=args.handedness or handedness, joint_order=joint_order,
            detector_model=args.detector_model, side_model=args.side_model,
            **({} if args.detector is None else {'detector': args.detector}),
            **({} if args.localizer_passes is None else
               {'localizer_passes': args.localizer_passes}),
            **({} if args.detection_threshold is None else
               {'detection_threshold': args.detection_threshold}),
            **({} if args.weak_threshold is None else
               {'weak_detection_threshold': args.weak_threshold}),
            rotation_deg=args.rotation_deg)
    except (FileNotFoundError, CheckpointError, ValueError, KeyError) as exc:
        raise _Fail(str(exc)) from None


def _evaluate_synthetic(args: argparse.Namespace, spec) -> Tuple[str, 'EvalResult', dict]:
    """(label, EvalResult, extra JSON fields) of the estimator on held-out synthetic hands."""
    from ..synthetic import SyntheticGenerator
    from ..training.evaluate import evaluate_uvd
    if args.synthetic < 1 or args.batch_size < 1:
        raise _Fail(f'--synthetic and --batch-size must be >= 1, found {args.synthetic} and '
                    f'{args.batch_size}')
    intr = spec.intrinsics
    sides = ('right', 'left') if args.hands == 'both' else (args.hands,)
    est = {side: _estimator(args, side, spec.joint_set.name) for side in sides}  # sides drawn
    gen = SyntheticGenerator(intr, joint_set=spec.joint_set.name, device='cpu',
                             seed=SYNTHETIC_SEED + args.seed, handedness=args.hands)
    gt, pred = [], []
    failures = 0
    for start in range(0, args.synthetic, args.batch_size):
        batch = gen.sample(min(args.batch_size, args.synthetic - start))
        depth = list(batch.depth_mm.numpy())
        for k, left in enumerate(batch.left.tolist()):
            found = est['left' if left else 'right'].estimate(depth[k], intr)
            failures += found is None
            pred.append(found.uvd if found is not None else
                        np.repeat(_fallback_uvd(depth[k], intr, est[sides[0]])[None],
                                  spec.joint_set.num_joints, 0))
            gt.append(batch.uvd[k].numpy())
    result = evaluate_uvd(np.stack(pred), np.stack(gt), intr, spec.joint_set)
    one = est[sides[0]]
    extra = {'file': f'synthetic:{args.synthetic}', 'gt': f'synthetic seed '
             f'{SYNTHETIC_SEED + args.seed}, {args.hands} hands', 'model': str(one.model_path),
             'localizer': str(one.localizer_path) if one.localizer_path else None,
             'localizer_passes': one.localizer_passes, 'precision': one.precision,
             'seed': args.seed, 'hands': args.hands, 'failures': failures,
             'failure_scoring': FAILURE_SCORING}
    return f'synthetic:{args.synthetic}:{args.hands}', result, extra


def _evaluate_render(args: argparse.Namespace, spec) -> Tuple[str, 'EvalResult', dict]:
    """(label, EvalResult, extra JSON fields) of the estimator on rendered ground truth."""
    from ..training.evaluate import evaluate_uvd, read_uvd, write_uvd
    if spec.joint_set.name != 'icvl16':
        raise _Fail(f'--render needs ICVL16 ground truth (the renderer poses its hand from '
                    f'ICVL16 joints); {args.dataset} has {spec.joint_set.name}')
    explicit = args.gt if args.render == REFERENCE else args.render
    gt_path = _gt_path(args, explicit)
    if args.stride < 1 or args.batch_size < 1:
        raise _Fail(f'--stride and --batch-size must be >= 1, found {args.stride} and '
                    f'{args.batch_size}')
    gt_uvd = read_uvd(gt_path, spec.joint_set.num_joints)[::args.stride]
    pred, failed, est = _estimate_rendered(args, spec, gt_uvd)
    if args.save_predictions:
        try:
            write_uvd(args.save_predictions, pred)
        except OSError as exc:
            raise _Fail(f'cannot write {args.save_predictions}: {exc.strerror}') from None
    result = evaluate_uvd(pred, gt_uvd, spec.intrinsics, spec.joint_set)
    extra = {'file': f'render:{gt_path}', 'gt': str(gt_path), 'model': str(est.model_path),
             'localizer': str(est.localizer_path) if est.localizer_path else None,
             'precision': est.precision, 'seed': args.seed, 'stride': args.stride,
             'center': args.center, 'failures': int(failed.sum()),
             'failure_scoring': FAILURE_SCORING}
    label = f'render:{gt_path.name}' + (':true-centre' if args.center == 'truth' else '')
    return label, result, extra


def _table(spec, gt, rows) -> str:
    """A readable summary table of the results."""
    from ..training.evaluate import REPORT_THRESHOLDS_MM
    i = spec.intrinsics
    head = ['file', 'frames', 'mean mm', 'median mm', 'AUC'] + [
        f'<={t} mm' for t in REPORT_THRESHOLDS_MM]
    body = [[label, str(r.frames), f'{r.mean_mm:.3f}', f'{r.median_mm:.3f}', f'{r.auc:.3f}']
            + [f'{r.success_at(t):.3f}' for t in REPORT_THRESHOLDS_MM] for label, r, _ in rows]
    widths = [max(len(row[c]) for row in [head] + body) for c in range(len(head))]
    lines = [f'dataset {spec.name}: intrinsics fx={i.fx:g} fy={i.fy:g} cx={i.cx:g} cy={i.cy:g} '
             f'({i.width}x{i.height}); ground truth {gt}',
             'success = fraction of frames whose maximum joint error is within the threshold']
    for row in [head] + body:
        lines.append('  '.join(row[0].ljust(widths[0]) if c == 0 else row[c].rjust(widths[c])
                               for c in range(len(row))))
    for label, result, extra in rows:
        if 'failures' in extra:
            lines.append(f'{label}: no hand found in {extra["failures"]} of {result.frames} '
                         f'frames; {FAILURE_SCORING}')
    return '\n'.join(lines)


def _legend_labels(labels: List[str]) -> List[str]:
    """File names without their folders, unless two of them would then look the same."""
    names = [Path(label).name for label in labels]
    return names if len(set(names)) == len(names) else labels


def run(args: argparse.Namespace) -> int:
    """Evaluate; print a table or JSON lines; exit 2 with one message on any bad input."""
    from ..core.specs import dataset_spec
    from ..training.evaluate import plot_success, UvdFileError
    if args.scenes is not None:
        return _run_scenes(args)
    if not args.predictions and args.render is None and args.synthetic is None:
        print('hand-pose eval: give prediction files (PRED ...), --render, --synthetic N or '
              '--scenes N', file=sys.stderr)
        return 2
    if args.dataset is None:
        print('hand-pose eval: --dataset is required (icvl, nyu or msra)', file=sys.stderr)
        return 2
    if args.center != 'estimated' and args.render is None:
        print('hand-pose eval: --center truth works only with --render', file=sys.stderr)
        return 2
    if args.render is not None or args.synthetic is not None:
        logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    spec = dataset_spec(args.dataset)
    try:
        rows = []
        gt = None
        if args.predictions:
            gt = _gt_path(args, args.gt)
            rows += _evaluate_files(args, spec, gt)
        if args.render is not None:
            rows.append(_evaluate_render(args, spec))
            gt = gt or rows[-1][2]['gt']
        if args.synthetic is not None:
            rows.append(_evaluate_synthetic(args, spec))
            gt = gt or rows[-1][2]['gt']
    except (_Fail, UvdFileError) as exc:
        print(f'hand-pose eval: {exc}', file=sys.stderr)
        return 2
    if args.json:
        for _, result, extra in rows:
            record = {'dataset': spec.name, 'gt': str(gt), **extra, **result.to_dict(),
                      'intrinsics': spec.intrinsics.to_dict()}
            print(json.dumps(record))
    else:
        print(_table(spec, gt, rows))
    if args.plot:
        try:
            plot_success(list(zip(_legend_labels([label for label, _, _ in rows]),
                                  [r for _, r, _ in rows])),
                         args.plot, title=f'{spec.name}: success rate')
        except (OSError, ValueError) as exc:
            print(f'hand-pose eval: cannot write the plot {args.plot}: {exc}', file=sys.stderr)
            return 2
    return 0


def _run_scenes(args: argparse.Namespace) -> int:
    """`--scenes N`: the estimator on held-out user scenes; a Markdown table or JSON."""
    from ..training.scene_eval import evaluate_scenes, miss_table, scene_table, side_table
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    if args.scenes < 1 or not 0.0 <= args.min_confidence <= 1.0:
        print(f'hand-pose eval: --scenes must be >= 1 and --min-confidence in [0, 1], found '
              f'{args.scenes} and {args.min_confidence}', file=sys.stderr)
        return 2
    try:
        est = _estimator(args, args.handedness or 'auto', 'icvl16')
    except _Fail as exc:
        print(f'hand-pose eval: {exc}', file=sys.stderr)
        return 2
    if args.misses and args.turn_scenes:
        print('hand-pose eval: --misses reads the detector on the frames as given: not with '
              '--turn-scenes', file=sys.stderr)
        return 2
    rows = evaluate_scenes(est, args.scenes, seed=args.seed, batch=args.batch_size,
                           min_confidence=args.min_confidence, misses=args.misses,
                           scenes_turned_deg=args.turn_scenes)
    if args.json:
        print(json.dumps({'scenes': rows, 'model': str(est.model_path),
                          'detector': est.detector,
                          'detector_model': str(est.detector_path or ''),
                          'side_model': str(est.side_path or ''),
                          'detection_threshold': est.detection_threshold,
                          'weak_detection_threshold': est.weak_detection_threshold,
                          'handedness': est.handedness,
                          'localizer_passes': est.localizer_passes, 'seed': args.seed,
                          'min_confidence': args.min_confidence,
                          'turn_scenes_deg': args.turn_scenes,
                          'rotation_deg': est.rotation_deg}))
    else:
        print(f'estimator: {est.model_path}, detector {est.detector} '
              f'({est.detector_path or "none"}, threshold {est.detection_threshold:.2f}, '
              f'weak {est.weak_detection_threshold:.2f}), '
              'handedness '
              f'{est.handedness} (sides told by {est.side_path or "the pose network"}), '
              f'{est.localizer_passes} localizer passes, seed {args.seed}, '
              f'hands below mean joint confidence {args.min_confidence:g} not counted' +
              (f', scenes turned {args.turn_scenes} deg' if args.turn_scenes else '') +
              (f', frames turned back {args.rotation_deg} deg' if args.rotation_deg else ''))
        print(scene_table(rows))
        if args.misses:
            print('\nWhy the missed hands were missed (training/scene_eval.py, miss_reason):')
            print(miss_table(rows))
            print('\nFound hands told the wrong side, wrong / found, by the true hand '
                  '(training/scene_eval.py, side_bins):')
            print(side_table(rows))
    return 0
