"""Draw docs/wrist_frame.png: the wrist frame (hand_pose_ros/core/wrist.py) on the synthetic
right hand, seen from the palm side and from the little-finger side.

Regenerate from the repository root: ``python docs/wrist_frame.py`` (``--out PATH`` to write
elsewhere). Needs the package installed (``make demo`` or ``pip install .``) and matplotlib.
"""
import argparse
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg   # Agg, never a display
from matplotlib.figure import Figure
import numpy as np

from hand_pose_ros.core.skeleton import FINGER_COLORS, HAND22
from hand_pose_ros.core.wrist import wrist_frame
from hand_pose_ros.synthetic.hand_model import default_skeleton, forward_kinematics
from hand_pose_ros.synthetic.poses import animated_angles

OUT = Path(__file__).resolve().parent / 'wrist_frame.png'
AXIS_MM = 45.0                       # drawn length of each axis arrow
PALM_OUTLINE = [HAND22.index(n) for n in (
    'wrist', 'thumb_cmc', 'index_mcp', 'middle_mcp', 'ring_mcp', 'little_mcp')]
AXIS_COLORS = {'x': '#d62728', 'y': '#2ca02c', 'z': '#1f77b4'}   # RViz: x red, y green, z blue


def hand_in_wrist_frame(t_s: float = 0.8) -> np.ndarray:
    """HAND22 joints (22, 3) mm of the animated synthetic right hand in its own wrist frame."""
    xyz = forward_kinematics(animated_angles(t_s), default_skeleton())[0].double().numpy()
    position_mm, rotation = wrist_frame(xyz, HAND22, 'right')
    return (xyz - position_mm) @ rotation


def draw_view(ax, pts: np.ndarray, axes: dict, title: str, out_of_page: str) -> None:
    """One 2D view: bones coloured by finger, the wrist axes as arrows (``axes``: name ->
    2D direction) and ``out_of_page`` as a dot-in-circle."""
    ax.fill(*pts[PALM_OUTLINE].T, color=FINGER_COLORS[0], alpha=0.5, lw=0)
    for parent, child in HAND22.bones:
        color = FINGER_COLORS[HAND22.fingers[child]]
        ax.plot(*pts[[parent, child]].T, color=color, lw=3, solid_capstyle='round')
    ax.scatter(*pts.T, s=14, color='k', zorder=3)
    for name, direction in axes.items():
        tip = AXIS_MM * np.asarray(direction, float)
        ax.plot(*np.stack([tip * 1.3, -tip * 0.3]).T, alpha=0)   # keep the arrow in view
        ax.annotate('', xy=tip, xytext=(0, 0), annotation_clip=False, arrowprops=dict(
            arrowstyle='-|>', lw=2.5, color=AXIS_COLORS[name], mutation_scale=18))
        ax.text(*(1.15 * tip + [3, 0]), name, color=AXIS_COLORS[name], fontsize=14,
                fontweight='bold')
    ax.scatter([0], [0], s=160, facecolors='white', edgecolors=AXIS_COLORS[out_of_page],
               linewidths=2, zorder=4)
    ax.scatter([0], [0], s=18, color=AXIS_COLORS[out_of_page], zorder=5)
    ax.text(-14, -12, f'{out_of_page} (out of page)', color=AXIS_COLORS[out_of_page],
            fontsize=9, ha='right')
    ax.set_title(title, fontsize=11)
    ax.set_aspect('equal')
    ax.axis('off')


def draw(out: Path = OUT) -> Path:
    """Write the two-view picture to ``out``; returns the path."""
    p = hand_in_wrist_frame()                     # columns: x distal, y, z palmar (mm)
    fig = Figure(figsize=(9.0, 5.6), dpi=110)
    FigureCanvasAgg(fig)
    palm, side = fig.subplots(1, 2, gridspec_kw={'width_ratios': [1.25, 1.0]})
    # palm side: z towards the viewer, x up, so y (to the little finger) points left
    draw_view(palm, np.stack([-p[:, 1], p[:, 0]], -1), {'x': (0, 1), 'y': (-1, 0)},
              'right hand, seen from the palm side', 'z')
    # little-finger side: y towards the viewer, x up, so z (out of the palm) points right
    draw_view(side, np.stack([p[:, 2], p[:, 0]], -1), {'x': (0, 1), 'z': (1, 0)},
              'the same hand, seen from the little finger', 'y')
    fig.suptitle('Wrist frame (~/right/wrist, ~/left/wrist): origin at the wrist joint; '
                 'x to the middle MCP, z out of the palm, y = z × x\n'
                 'a left hand: the mirror image, with y towards the thumb', fontsize=10)
    fig.tight_layout()
    fig.savefig(out)
    return out


def main() -> None:
    """Command line: ``python docs/wrist_frame.py [--out PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=OUT, help=f'PNG to write ({OUT.name})')
    print(draw(parser.parse_args().out))


if __name__ == '__main__':
    main()
