"""Run the benchmark and report it as text or as one JSON object.

JSON keys (``hand-pose bench --json``; times in ms, medians over warm runs):

- ``model``: the ``--model`` argument; ``model_files``: {``pose``, ``localizer``,
  ``detector``} paths or null (random weights, or none);
- ``networks``: {``pose``, ``localizer``, ``detector``}: each {``gflops`` per frame at batch 1
  (torch.utils.flop_counter, 2 FLOPs per multiply-add), ``params``, ``input_size`` (crop edge;
  the detector's [H, W] input for the frames below)} or null; ``gflops``: their sum;
- ``finder``: how hands are found, 'learned' (the detector network) or 'nearest' (centre of
  mass); with 'learned' the timed estimator is pinned to one hand (``hands.pinned``);
- ``device``, ``threads`` (torch intra-op threads), ``cpu``: {``name``, ``native_bf16``,
  ``flags``: the speed-relevant flags present, ``steal_share``: the share of CPU time the
  hypervisor gave to other machines while the bench ran (/proc/stat; null where unknown): on
  a shared virtual machine every figure is slower by about that much, and varies with it};
- ``precision``, ``backend``, ``optimize``: what the estimator chose (core/precision.py);
  ``startup_s``: building the estimator (loading, tracing, int8 calibration);
- ``frames_source``, ``frames``, ``runs``, ``warmup``;
- ``stages_ms``: {``image_conversion``, ``detector``, ``com``, ``localizer``, ``side``
  (left/right classifier; 0 when it does not run), ``crop``, ``pose_net``, ``decode``,
  ``message_building``}; a value is null when it could not be measured or is not used
  (``detector`` or ``com``, by ``finder``) and ``notes`` [stage] says why;
- ``estimator_ms``: one ``estimate`` call per frame (wall time, all stages); ``estimator_fps``;
  ``estimator_internal_ms``: the estimator's own 'total' timing;
- ``pipeline_ms``: image_conversion + estimator_ms + message_building (what the node computes);
- ``node``: {``status``: ok | skipped | failed, ``reason``, and when ok ``end_to_end_ms``,
  ``end_to_end_p90_ms``, ``frames``, ``lost``, ``threads`` (the node's network threads:
  ``--threads``, else the node's default, the cores minus one), ``estimator_ms`` (the estimator
  timed at those threads), ``ratio`` (end_to_end_ms / that estimator_ms: what the node adds),
  ``inside_estimator_ms`` (the estimator's time inside the node: the median of its
  /diagnostics ``estimator_p50_ms`` windows; end_to_end_ms minus it is transport and hand-off),
  ``domain_id``, ``parameters``, ``parameters_not_declared``};
- ``hands`` (benchmark/hands.py): {``status``: ok | skipped, ``reason``, and when ok ``camera``,
  ``scene``, ``frame_size`` [W, H], ``pinned`` (how the hand count is fixed), ``rows``: per
  hand count (1, 2) {``hands``, ``estimated_hands`` (mean per frame), ``frames``,
  ``stages_ms`` (``detector``, ``localizer``, ``side``, ``crop``, ``pose_net``, ``decode``,
  ``image_conversion``, ``message_building``: all per frame, all its hands), ``estimator_ms``,
  ``estimator_fps``, ``pipeline_ms`` (estimator + conversions)}, ``followed`` (under 'auto'
  handedness, else null): one hand followed over video with the node's tracker and
  left/right memory {``hands``, ``frames``, ``found``, ``fps``, ``side``, ``stages_ms``
  (means over the frames: the detector's includes the frames it skipped), ``estimator_ms``
  (mean per frame), ``estimator_median_ms``, ``one_way_share`` (frames whose hand was read
  one way: its side settled), ``detector_share`` (frames the detector ran on),
  ``pipeline_ms`` (mean + conversions)}};
- ``goals``: {name: {``limit``, ``value``, ``met``}} for GOALS (value and met null when not
  measured): ``one_hand_pipeline_ms`` (the followed row when there is one: what a camera
  stream costs the node; else the 1-hand row) and ``node_ratio``;
- with ``--compare``: ``variants``: a list of {``name``, ``precision``, ``backend``,
  ``optimize``, ``startup_s``, ``stages_ms``, ``estimator_ms``, ``estimator_fps``} or
  {``name``, ``skipped``: reason}.
"""
from dataclasses import dataclass
from pathlib import Path
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import torch

from .dds import measure_node
from .hands import pin_hands, time_hands
from .models import build_estimator, model_files, network_stats
from .stages import bench_frames, FINDER_STAGES, STAGES, time_conversions, time_estimator
from ..core.detection import detector_input, sample_frames
from ..core.precision import cpu_flags, native_bf16, network_threads

SPEED_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_int8')
# Speed goals (issue 11), checked here, never in timed tests: one hand through the whole
# pipeline at 30 fps on 2 cores, and the node end to end within 1.15x the estimator.
GOALS = {'one_hand_pipeline_ms': 1e3 / 30, 'node_ratio': 1.15}
# --compare: (name, estimator keyword arguments)
VARIANTS: Tuple[Tuple[str, Dict[str, str]], ...] = (
    ('fp32 eager NCHW', {'precision': 'fp32', 'backend': 'torch', 'optimize': 'none'}),
    ('fp32 channels_last', {'precision': 'fp32', 'backend': 'torch',
                            'optimize': 'channels_last'}),
    ('fp32 frozen', {'precision': 'fp32', 'backend': 'torch', 'optimize': 'freeze'}),
    ('bf16 channels_last', {'precision': 'bf16', 'backend': 'torch',
                            'optimize': 'channels_last'}),
    ('bf16 frozen', {'precision': 'bf16', 'backend': 'torch', 'optimize': 'freeze'}),
    ('bf16 compiled', {'precision': 'bf16', 'backend': 'torch', 'optimize': 'compile'}),
    ('fp32 onnxruntime', {'precision': 'fp32', 'backend': 'onnxruntime'}),
    ('int8 onnxruntime', {'precision': 'int8', 'backend': 'onnxruntime'}),
)


@dataclass
class BenchOptions:
    """What to measure (the command-line options of `hand-pose bench`)."""

    model: str = 'default'
    localizer: Optional[str] = 'default'
    detector: Optional[str] = 'default'
    device: str = 'cpu'
    precision: str = 'auto'
    backend: str = 'auto'
    optimize: str = 'auto'
    threads: Optional[int] = None
    frames: int = 8
    warmup: int = 2
    runs: int = 5
    node: bool = True
    node_frames: int = 20
    compare: bool = False


def _cpu() -> dict:
    name = ''
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            name = next((ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')),
                        '')
    except OSError:
        pass
    flags = cpu_flags()
    return {'name': name, 'native_bf16': native_bf16(),
            'flags': [f for f in SPEED_FLAGS if f in flags]}


def _cpu_times() -> Optional[Tuple[int, int]]:
    """(steal, total) CPU ticks since boot from /proc/stat, or None where unreadable."""
    try:
        with open('/proc/stat', encoding='ascii') as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(ticks) < 8:
        return None
    return ticks[7], sum(ticks[:8])          # user nice system idle iowait irq softirq steal


def steal_share(before: Optional[Tuple[int, int]],
                after: Optional[Tuple[int, int]]) -> Optional[float]:
    """The share (0..1) of CPU ticks stolen by the hypervisor between two _cpu_times()."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def _measure(opts: BenchOptions, frames, intr, **runtime) -> dict:
    """Build one estimator (pinned to one hand with the learned detector) and time it; the
    estimator is returned under '_est'."""
    t0 = time.perf_counter()
    est = build_estimator(opts.model, opts.localizer, opts.detector, device=opts.device,
                          threads=opts.threads, **runtime)
    startup = time.perf_counter() - t0
    if est.detector == 'learned':
        pin_hands(est, 1)
    timed = time_estimator(est, frames, intr, opts.warmup, opts.runs)
    return {'precision': est.precision, 'backend': est.backend,
            'optimize': est.runtime.optimize, 'startup_s': startup, **timed,
            'estimator_fps': 1e3 / timed['estimator_ms'], '_est': est}


def run_bench(opts: BenchOptions) -> dict:
    """Every figure of the report (see the module docstring for the keys)."""
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    ticks = _cpu_times()
    frames, intr, source = bench_frames(opts.frames)
    main = _measure(opts, frames, intr, precision=opts.precision, backend=opts.backend,
                    optimize=opts.optimize)
    est = main.pop('_est')
    conv_ms, notes = time_conversions(est, frames, intr, opts.warmup, opts.runs)
    stages = {k: conv_ms.get(k, main['stages_ms'].get(k)) for k in STAGES}
    for key in ('image_conversion', 'message_building'):
        if stages[key] is None:
            notes.setdefault(key, notes.get(key, 'not measured'))
    for key in FINDER_STAGES:
        if stages[key] is None:
            notes[key] = f'not used: hands are found by detector {est.detector!r}'
    if not stages['verify']:
        notes['verify'] = ('no weak detector peak in these frames (each costs a pose pass)'
                           if est.detector == 'learned' else 'not run: no learned detector')
    if not stages['side']:
        notes['side'] = 'not run: no left/right classifier, or the handedness is declared'
    nets = {'pose': network_stats(est.model),
            'localizer': network_stats(est.localizer) if est.localizer is not None else None,
            'detector': _detector_stats(est, frames[0], intr)}
    report = {
        'model': opts.model, 'model_files': None, 'networks': nets,
        'gflops': sum(n['gflops'] for n in nets.values() if n),
        'finder': est.detector,
        'device': str(est.device), 'threads': torch.get_num_threads(), 'cpu': _cpu(),
        **{k: main[k] for k in ('precision', 'backend', 'optimize', 'startup_s')},
        'frames_source': source, **{k: main[k] for k in ('frames', 'runs', 'warmup')},
        'stages_ms': stages, 'notes': notes,
        **{k: main[k] for k in ('estimator_ms', 'estimator_fps', 'estimator_internal_ms')},
        'pipeline_ms': main['estimator_ms'] + sum(
            stages[k] or 0.0 for k in ('image_conversion', 'message_building')),
        'node': {'status': 'skipped', 'reason': '--no-node'},
    }
    with tempfile.TemporaryDirectory(prefix='hand_pose_bench_models_') as tmp:
        pose_path, loc_path = model_files(est, Path(tmp))
        det_path = getattr(est, 'detector_path', None)
        report['model_files'] = {'pose': str(est.model_path) if est.model_path else None,
                                 'localizer': str(loc_path) if est.localizer_path else None,
                                 'detector': str(det_path) if det_path else None}
        if opts.node:
            threads = _node_threads(opts.threads)
            node = measure_node(pose_path, loc_path, frames, intr,
                                _node_settings(est, opts.precision, threads),
                                runs=opts.node_frames)
            if node.get('status') == 'ok':
                node['threads'] = threads
                node['estimator_ms'] = (report['estimator_ms'] if threads == report['threads']
                                        else _estimator_ms_at(est, frames, intr, threads, opts))
                node['ratio'] = node['end_to_end_ms'] / node['estimator_ms']
            report['node'] = node
    report['hands'] = time_hands(est, opts.frames, opts.warmup, opts.runs)
    report['goals'] = _goals(report)
    if opts.compare:
        report['variants'] = _variants(opts, frames, intr)
    report['cpu']['steal_share'] = steal_share(ticks, _cpu_times())
    return report


def _detector_stats(est, frame, intr) -> Optional[dict]:
    """network_stats of the estimator's detector on the input it makes of ``frame``."""
    det = est.hand_detector
    if det is None:
        return None
    small = sample_frames(torch.from_numpy(frame[None]), intr, det.config)[0]
    return network_stats(det, detector_input(small, det.config))


def _node_threads(requested: Optional[int]) -> int:
    """The node's network threads: --threads when given, else the node's own default (its
    ``threads`` parameter 0: the cores minus one, which leaves a core to its DDS and executor
    threads; on 2 cores with 2 network threads the node ran 100 ms against 69 ms)."""
    return network_threads(requested or 0)


def _estimator_ms_at(est, frames, intr, threads: int, opts: BenchOptions) -> float:
    """The estimator's per-frame time (ms) at ``threads`` torch threads (then restored)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return time_estimator(est, frames, intr, opts.warmup, opts.runs)['estimator_ms']
    finally:
        torch.set_num_threads(before)


def _node_settings(est, precision: str, threads: int) -> Dict[str, str]:
    """Node parameters that make the node run as the timed estimator does."""
    return {'precision': precision, 'threads': str(threads), 'detector': est.detector,
            'handedness': est.handedness, 'max_hands': str(est.max_hands),
            'detection_threshold': str(est.detection_threshold),
            # every frame read as the timed estimator reads it (no left/right memory), and
            # alone: the bench cycles through unrelated scenes, so a node following hands
            # would crop each frame where the last scene's hands were before detecting
            'handedness_memory_frames': '0.0', 'redetect_every': '1'}


def _goals(r: dict) -> Dict[str, dict]:
    """GOALS with the measured values: {name: {limit, value, met}} (null when not measured)."""
    one = next((row['pipeline_ms'] for row in r['hands'].get('rows', ())
                if row['hands'] == 1), None)
    followed = r['hands'].get('followed') or {}
    one = followed.get('pipeline_ms', one)
    values = {'one_hand_pipeline_ms': one, 'node_ratio': r['node'].get('ratio')}
    return {k: {'limit': limit, 'value': values[k],
                'met': None if values[k] is None else values[k] <= limit}
            for k, limit in GOALS.items()}


def _variants(opts: BenchOptions, frames, intr) -> List[dict]:
    """Every runtime of VARIANTS, or why it was skipped."""
    rows = []
    for name, runtime in VARIANTS:
        try:
            row = _measure(opts, frames, intr, **runtime)
        except (ImportError, RuntimeError, ValueError) as exc:
            rows.append({'name': name, 'skipped': f'{exc.__class__.__name__}: {exc}'})
            continue
        row.pop('_est')
        rows.append({'name': name, **{k: row[k] for k in (
            'precision', 'backend', 'optimize', 'startup_s', 'stages_ms', 'estimator_ms',
            'estimator_fps')}})
    return rows


def _input_text(size) -> str:
    """'128x128' for a crop edge, 'HxW' for the detector's [H, W]."""
    return 'x'.join(str(v) for v in size) if isinstance(size, list) else f'{size}x{size}'


def format_text(r: dict) -> str:
    """The report as aligned text lines."""
    nets = r['networks']
    lines = [f"model {r['model']}: " + '; '.join(
        f"{k} {v['gflops']:.2f} GFLOP, {v['params'] / 1e6:.2f} M parameters "
        f"({_input_text(v['input_size'])} input)" for k, v in nets.items() if v),
        f"cpu {r['cpu']['name'] or '?'} ({', '.join(r['cpu']['flags']) or 'no listed flags'}); "
        f"device {r['device']}, {r['threads']} threads"
        + ('' if r['cpu'].get('steal_share') is None else
           f"; {100 * r['cpu']['steal_share']:.0f} % of CPU time stolen by the hypervisor "
           "during the bench (figures slower by about that)"),
        f"runtime: precision {r['precision']}, backend {r['backend']}, optimize "
        f"{r['optimize']} (start-up {r['startup_s']:.1f} s)",
        f"frames: {r['frames']} x {r['runs']} runs after {r['warmup']} warm-up "
        f"({r['frames_source']})", '', 'stage                  ms (median)']
    for k, v in r['stages_ms'].items():
        note = f"  ({r['notes'][k]})" if k in r['notes'] else ''
        lines.append(f"{k:<20} {'-' if v is None else f'{v:8.2f}'}{note}")
    lines += ['', f"estimator per frame  {r['estimator_ms']:8.2f}  ({r['estimator_fps']:.1f} fps)",
              f"with conversions     {r['pipeline_ms']:8.2f}"]
    node = r['node']
    if node['status'] == 'ok':
        lines.append(f"node end to end      {node['end_to_end_ms']:8.2f}  (ratio "
                     f"{node['ratio']:.2f} x the estimator's {node['estimator_ms']:.2f} ms at the "
                     f"node's {node['threads']} thread(s); p90 {node['end_to_end_p90_ms']:.1f} "
                     f"ms; {node['frames']} frames, {node['lost']} lost)")
        if node.get('inside_estimator_ms') is not None:
            lines.append(f"  estimator inside   {node['inside_estimator_ms']:8.2f}  (the node's "
                         f"/diagnostics; the rest is transport and hand-off)")
    else:
        lines.append(f"node end to end      {node['status']}: {node['reason']}")
    lines += _hands_text(r['hands']) + _goals_text(r['goals'])
    for row in r.get('variants', []):
        if 'skipped' in row:
            lines.append(f"{row['name']:<22} skipped: {row['skipped']}")
        else:
            lines.append(f"{row['name']:<22} {row['estimator_ms']:8.2f} ms "
                         f"({row['estimator_fps']:5.1f} fps)  pose_net "
                         f"{row['stages_ms']['pose_net']:7.2f}  localizer "
                         f"{row['stages_ms']['localizer']:6.2f}  start-up "
                         f"{row['startup_s']:.1f} s")
    return '\n'.join(lines)


HANDS_COLUMNS = ('detector', 'localizer', 'side', 'crop', 'pose_net', 'decode',
                 'image_conversion', 'message_building')


def _hands_text(h: dict) -> List[str]:
    """The rows of the 1- and 2-hand frames as text lines."""
    if h['status'] != 'ok':
        return ['', f"hands per frame      {h['status']}: {h['reason']}"]
    width, height = h['frame_size']
    lines = ['', f"hands per frame: {h['camera']} {width}x{height} {h['scene']} scenes, "
             f"{h['pinned']}; ms (median)",
             'hands  ' + ' '.join(f'{k[:10]:>10}' for k in HANDS_COLUMNS)
             + '  estimator   pipeline    fps']
    for row in h['rows']:
        cells = ' '.join('         -' if row['stages_ms'].get(k) is None
                         else f"{row['stages_ms'][k]:10.2f}" for k in HANDS_COLUMNS)
        lines.append(f"{row['hands']:<5}  {cells} {row['estimator_ms']:10.2f} "
                     f"{row['pipeline_ms']:10.2f} {1e3 / row['pipeline_ms']:6.1f}"
                     + (f"  ({row['estimated_hands']:.2f} hands estimated)"
                        if row['estimated_hands'] != row['hands'] else ''))
    f = h.get('followed')
    if f and 'estimator_ms' in f:
        cells = ' '.join('         -' if f['stages_ms'].get(k) is None
                         else f"{f['stages_ms'][k]:10.2f}" for k in HANDS_COLUMNS)
        lines.append(f"1 fol  {cells} {f['estimator_ms']:10.2f} {f['pipeline_ms']:10.2f} "
                     f"{1e3 / f['pipeline_ms']:6.1f}  (followed: mean of {f['frames']} frames "
                     f"at {f['fps']:g} fps, median {f['estimator_median_ms']:.2f}; "
                     f"{100 * f['one_way_share']:.0f} % read one way, detector on "
                     f"{100 * f.get('detector_share', 1.0):.0f} %)")
    elif f is not None:
        lines.append(f"1 fol  the followed hand was not found in its {f['frames']} frames")
    return lines


def _goals_text(goals: Dict[str, dict]) -> List[str]:
    """One line per speed goal: limit, value, met."""
    words = {True: 'met', False: 'MISSED', None: 'not measured'}
    return [''] + [f"goal {k:<21} <= {g['limit']:.2f}: "
                   + ('-' if g['value'] is None else f"{g['value']:.2f}")
                   + f" ({words[g['met']]})" for k, g in goals.items()]
