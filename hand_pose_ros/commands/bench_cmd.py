"""`hand-pose bench`: per-stage latency, FLOPs and parameters, the whole pipeline with 1 and 2
hands (learned detector), and the node over DDS.

Speed goals live in benchmark/report.py GOALS (and the README table), never in timed tests.
The JSON keys are documented in hand_pose_ros/benchmark/report.py.
"""
import argparse
import json
import sys

from .export_cmd import DETECTOR_HELP

HELP = ('time each stage of the estimator (hand detector included), the pipeline with 1 and 2 '
        'hands and the ROS node end to end (text or --json)')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose bench`."""
    parser.add_argument('--device', default='cpu', help='cpu, cuda or auto (default: cpu)')
    parser.add_argument('--model', default='default',
                        help="a shipped name, a checkpoint/.onnx/TorchScript path, or NAME-random "
                        "(random weights of config/models/NAME.yaml, e.g. paper-random)")
    parser.add_argument('--localizer', default='default',
                        help="'default' (the model's own), 'none', a name or a path")
    parser.add_argument('--detector', default='default', help=DETECTOR_HELP)
    parser.add_argument('--precision', default='auto', choices=('auto', 'fp32', 'bf16', 'int8'),
                        help='auto: bf16 on CPUs with native bf16, else fp32')
    parser.add_argument('--backend', default='auto', choices=('auto', 'torch', 'onnxruntime'),
                        help='auto: torch, or ONNX Runtime for int8')
    parser.add_argument('--optimize', default='auto',
                        choices=('auto', 'none', 'channels_last', 'freeze', 'compile'),
                        help='graph optimisation of the torch backend (auto: freeze on CPU)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch / ONNX Runtime threads (default: torch default)')
    parser.add_argument('--frames', type=int, default=8,
                        help='distinct frames per run (and per hand count)')
    parser.add_argument('--runs', type=int, default=5, help='timed runs over the frames')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs first')
    parser.add_argument('--node-frames', type=int, default=20,
                        help='frames sent to the node (after 3 warm-up frames)')
    parser.add_argument('--no-node', action='store_true',
                        help='skip the node end-to-end measurement over DDS')
    parser.add_argument('--compare', action='store_true',
                        help='also time every precision/backend/optimisation variant')
    parser.add_argument('--json', action='store_true', help='print one JSON object')


def run(args: argparse.Namespace) -> int:
    """Benchmark; exit 2 with one message on a bad model or option."""
    from ..benchmark.report import BenchOptions, format_text, run_bench
    from ..core.checkpoint import CheckpointError
    if min(args.frames, args.runs, args.node_frames) < 1 or args.warmup < 0:
        print('hand-pose bench: --frames, --runs and --node-frames must be >= 1 and --warmup '
              f'>= 0, found {args.frames}, {args.runs}, {args.node_frames}, {args.warmup}',
              file=sys.stderr)
        return 2
    opts = BenchOptions(model=args.model, localizer=args.localizer, detector=args.detector,
                        device=args.device, precision=args.precision, backend=args.backend,
                        optimize=args.optimize,
                        threads=args.threads, frames=args.frames, warmup=args.warmup,
                        runs=args.runs, node=not args.no_node, node_frames=args.node_frames,
                        compare=args.compare)
    try:
        report = run_bench(opts)
    except (CheckpointError, FileNotFoundError, ImportError, ValueError, RuntimeError) as exc:
        print(f'hand-pose bench: {exc}', file=sys.stderr)
        return 2
    print(json.dumps(report) if args.json else format_text(report))
    return 0
