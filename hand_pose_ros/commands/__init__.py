"""Subcommands of the `hand-pose` CLI, one module each (HELP, add_arguments, run)."""
import argparse
from typing import Union

Group = Union[argparse.ArgumentParser, argparse._ArgumentGroup]


def add_quarter_turn_option(group: Group, flag: str, help_text: str) -> None:
    """A ``flag DEG`` option taking a clockwise quarter turn (core/image_rotation.py), 0 by
    default: how `estimate` and `eval` name a camera mounted rolled."""
    from ..core.image_rotation import ROTATIONS_DEG
    group.add_argument(flag, type=int, default=0, choices=ROTATIONS_DEG, metavar='DEG',
                       help=help_text + f' ({", ".join(map(str, ROTATIONS_DEG))})')
