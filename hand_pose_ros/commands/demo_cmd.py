"""`hand-pose demo`: the camera-free ROS 2 demo (depth_source -> hand_pose_node over DDS).

Starts both nodes as separate processes on a private ROS_DOMAIN_ID (localhost discovery),
prints input/output fps, latency and the error against the synthetic ground truth once per
second, and writes snapshots and a summary to --out. Needs only `pip install .[ros]` (the
PyPI ROS 2 wheels) or a sourced ROS 2. Exit status: 0 on success, 1 when a node failed,
2 when rclpy is missing, 130 on Ctrl-C.
"""
import argparse
from pathlib import Path

HELP = 'run the camera-free ROS 2 demo: synthetic depth -> hand_pose_node, scored live'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose demo`."""
    parser.add_argument('--seconds', type=float, default=10.0,
                        help='measured duration after the first joints arrive (s)')
    parser.add_argument('--out', type=Path, default=Path('demo_output'),
                        help='folder for the PNG snapshots, summary.json/txt and node logs')
    parser.add_argument('--model', default='default',
                        help='pose model: a shipped name or a checkpoint path')
    parser.add_argument('--device', default='auto', help='auto (CUDA when present), cpu, cuda')
    parser.add_argument('--rate', type=float, default=15.0, dest='rate_hz',
                        help='depth frames per second published by depth_source (Hz)')
    parser.add_argument('--snapshots', type=int, default=4, help='PNG snapshots to write')


def run(args: argparse.Namespace) -> int:
    """Run the demo (rclpy is imported only here, so other subcommands work without ROS)."""
    if args.seconds <= 0 or args.rate_hz <= 0 or args.snapshots < 0:
        print('hand-pose demo: --seconds and --rate must be positive, --snapshots >= 0')
        return 2
    try:
        import rclpy  # noqa: F401
    except ImportError as exc:
        print(f'hand-pose demo needs rclpy: pip install ".[ros]" or source a ROS 2 '
              f'distribution ({exc})')
        return 2
    from ..ros.demo import DemoConfig, run_demo

    return run_demo(DemoConfig(seconds=args.seconds, out=args.out, model=args.model,
                               device=args.device, rate_hz=args.rate_hz,
                               snapshots=args.snapshots), say=print)
