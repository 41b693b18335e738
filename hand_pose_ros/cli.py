"""The `hand-pose` command: one entry point, one module per subcommand under commands/."""
import argparse
import importlib
import sys
from typing import List, Optional

# name -> module under hand_pose_ros.commands; each module defines
#   HELP: str, add_arguments(parser) -> None, run(args) -> int
SUBCOMMANDS = ('estimate', 'eval', 'train', 'render', 'demo', 'bench', 'export')


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog='hand-pose', description='3D hand pose from depth: estimate on saved frames, '
        'evaluate, train, render, demo, benchmark and export.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f'hand_pose_ros.commands.{name}_cmd')
        except ModuleNotFoundError as exc:
            if exc.name != f'hand_pose_ros.commands.{name}_cmd':
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the command line and run one subcommand; returns its exit status."""
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == '__main__':
    sys.exit(main())
