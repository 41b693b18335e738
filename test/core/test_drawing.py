"""Drawings on depth frames (core/drawing.py, no ROS): the node's debug crop, and snapshots of a
frame with each hand drawn in the colour of the side it was published as."""
import numpy as np

from hand_pose_ros.core.camera import Intrinsics
from hand_pose_ros.core.drawing import (debug_patch, depth_to_bgr, draw_skeleton, SIDE_BGR,
                                        snapshot, TRUTH_BGR)
from hand_pose_ros.core.skeleton import ICVL16

INTR = Intrinsics(300.0, 300.0, 79.5, 59.5, 160, 120)


def two_hands(depth_value: float = 400.0):
    """A 160x120 frame with two square 'hands' and their joints (the user's right hand on
    the image's left)."""
    depth = np.zeros((120, 160), np.float32)
    depth[40:80, 20:60] = depth_value
    depth[40:80, 100:140] = depth_value
    grid = np.column_stack([np.linspace(-15, 15, 16), np.linspace(-15, 15, 16),
                            np.full(16, 400.0)])
    right = grid + [-50.0 * 400 / 300, 0.0, 0.0]     # u 29.5 +- 11 px
    left = grid + [50.0 * 400 / 300, 0.0, 0.0]       # u 129.5 +- 11 px
    return depth, {'right': right, 'left': left}


def test_drawings_are_bgr_with_the_skeleton():
    depth = np.zeros((48, 64), np.float32)
    depth[10:30, 20:40] = 400
    bgr = depth_to_bgr(depth, 100, 1500)
    assert bgr.shape == (48, 64, 3) and bgr.dtype == np.uint8 and bgr[0, 0].sum() == 0
    uv = np.stack([np.linspace(5, 60, 16), np.linspace(5, 40, 16)], -1)
    before = bgr.copy()
    draw_skeleton(bgr, uv, ICVL16)
    assert (bgr != before).any()
    patch = np.ones((32, 32), np.float32)
    out = debug_patch(patch, uv / 2, ICVL16, scale=2)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8 and out.any()


def mean_u_of(img: np.ndarray, bgr: tuple, width: int) -> float:
    """Mean column of the pixels of exactly colour ``bgr`` in the left ``width`` columns."""
    ys, xs = np.nonzero((img[:, :width] == bgr).all(-1))
    assert len(xs), f'no pixel of colour {bgr}'
    return float(xs.mean())


def test_snapshot_shows_both_hands_coloured_by_their_label():
    depth, truths = two_hands()
    img = snapshot(depth, INTR, [('right', truths['right'] + 2), ('left', truths['left'] + 2)],
                   truths, ICVL16, 'right 2 mm, left 2 mm')
    # the frame, and beside it each true hand enlarged: two squares stacked to its height
    assert img.shape == (120, 160 + 60, 3) and img.dtype == np.uint8
    # predictions coloured by label where their hand is: right (red) on the image's left
    assert mean_u_of(img, SIDE_BGR['right'], 160) < 60 < 100 < mean_u_of(
        img, SIDE_BGR['left'], 160)
    # a swapped label is drawn in the other side's colour
    swapped = snapshot(depth, INTR, [('left', truths['right'])], truths, ICVL16, '')
    assert mean_u_of(swapped, SIDE_BGR['left'], 160) < 60
    assert mean_u_of(swapped, TRUTH_BGR, 160) > 0
    # one true hand (a one-hand source): the zoom is a square of the frame height
    one = snapshot(depth, INTR, [('right', truths['right'])], {'right': truths['right']},
                   ICVL16, '')
    assert one.shape == (120, 160 + 120, 3)
