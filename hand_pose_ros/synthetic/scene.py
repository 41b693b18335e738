"""Background around the hand: wall, table, the user's body and distractor objects.

Everything is placed relative to the rendered hand (its cones, forearm included) so that, as
designed, the hand is the nearest object: wall, table and body lie behind the farthest hand
point; distractor blobs lie behind it too, except that with ``near_distractor_prob`` one
blob floats nearer than the hand but beside it in the image (a second, separate object).
"""
from dataclasses import dataclass
import math
from typing import Tuple

import torch

from .raster import Cones, draw_cones, draw_ellipsoids, draw_planes
from .raycast import sphere_pixel_box
from .renderer import FOREARM_PIECES
from ..core.camera import Intrinsics

NUM_DISTRACTORS = 3
NUM_SCENE_RANDOMS = 16 + 9 * NUM_DISTRACTORS + 4


@dataclass(frozen=True)
class SceneConfig:
    """Probabilities and ranges (mm, degrees) of the background objects."""

    wall_prob: float = 0.6
    wall_gap_mm: Tuple[float, float] = (150.0, 1500.0)    # behind the farthest hand point
    wall_tilt_deg: float = 40.0
    table_prob: float = 0.3
    table_drop_mm: Tuple[float, float] = (40.0, 300.0)   # below the lowest hand point
    table_tilt_deg: Tuple[float, float] = (10.0, 60.0)   # camera pitch towards the table
    body_prob: float = 0.5
    body_gap_mm: Tuple[float, float] = (100.0, 500.0)
    body_radius_mm: Tuple[float, float] = (130.0, 200.0)
    upper_arm_radius_mm: Tuple[float, float] = (38.0, 48.0)   # elbow, shoulder
    distractor_prob: float = 0.4                              # per slot (NUM_DISTRACTORS)
    distractor_radius_mm: Tuple[float, float] = (20.0, 120.0)
    distractor_gap_mm: Tuple[float, float] = (50.0, 900.0)
    near_distractor_prob: float = 0.05
    near_gap_mm: Tuple[float, float] = (40.0, 200.0)          # nearer than the hand by
    near_radius_mm: Tuple[float, float] = (15.0, 50.0)


def _lerp(lo_hi: Tuple[float, float], t: torch.Tensor) -> torch.Tensor:
    """lo + (hi - lo) * t."""
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * t


def _blob(centre: torch.Tensor, radius: torch.Tensor,
          r: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """Round cone around ``centre``: random direction, length and taper from uniforms r (n, 4)."""
    theta, phi = r[:, 0] * math.pi, r[:, 1] * 2.0 * math.pi
    direction = torch.stack([torch.sin(theta) * torch.cos(phi),
                             torch.sin(theta) * torch.sin(phi), torch.cos(theta)], -1)
    rb = radius * (0.7 + 0.3 * r[:, 2])
    length = (radius - rb) + 1.0 + 2.0 * radius * r[:, 3]
    half = 0.5 * length[:, None] * direction
    return centre - half, centre + half, radius, rb


def _at_pixel(u: torch.Tensor, v: torch.Tensor, z: torch.Tensor, intr: Intrinsics):
    """Camera-frame points (n, 3) at pixels (u, v) and depth z."""
    return torch.stack([(u - intr.cx) * z / intr.fx, (v - intr.cy) * z / intr.fy, z], -1)


def draw_scene(zbuf: torch.Tensor, hand: Cones, rand: torch.Tensor, intr: Intrinsics,
               cfg: SceneConfig = SceneConfig()) -> None:
    """Add the background of each frame to ``zbuf``; ``rand`` (n, NUM_SCENE_RANDOMS) in [0, 1)."""
    n, dev = zbuf.shape[0], zbuf.device
    ends = torch.cat([hand.a, hand.b], 1)
    radii = torch.cat([hand.ra, hand.rb], 1)
    far = (ends[..., 2] + radii).amax(1)                                  # (n,)
    near = (ends[..., 2] - radii).amin(1)
    low = (ends[..., 1] + radii).amax(1)                                  # lowest (y down)
    r = iter(rand.unbind(1))
    # Wall: a plane behind everything, tilted up to wall_tilt_deg.
    wall_on = next(r) < cfg.wall_prob
    gap, tilt = _lerp(cfg.wall_gap_mm, next(r)), math.radians(cfg.wall_tilt_deg) * next(r)
    azim = 2.0 * math.pi * next(r)
    normal = -torch.stack([torch.sin(tilt) * torch.cos(azim), torch.sin(tilt) * torch.sin(azim),
                           torch.cos(tilt)], -1)
    point = torch.stack([torch.zeros_like(far), torch.zeros_like(far), far + gap], -1)
    draw_planes(zbuf, point, normal, far + 30.0, wall_on, intr)
    # Table: a horizontal plane below the hand, seen from a camera pitched down.
    table_on = next(r) < cfg.table_prob
    drop = _lerp(cfg.table_drop_mm, next(r))
    pitch = torch.deg2rad(_lerp(cfg.table_tilt_deg, next(r)))
    normal = torch.stack([torch.zeros_like(pitch), -torch.cos(pitch), -torch.sin(pitch)], -1)
    point = torch.stack([torch.zeros_like(far), low + drop, 0.5 * (near + far)], -1)
    draw_planes(zbuf, point, normal, far + 30.0, table_on, intr)
    # Body: a torso behind the forearm's end, joined to the elbow by an upper arm.
    body_on = next(r) < cfg.body_prob
    radius = _lerp(cfg.body_radius_mm, next(r))
    elbow = 0.5 * (hand.b[:, -1] + hand.b[:, -1 - FOREARM_PIECES])
    centre = torch.stack([elbow[:, 0] + 200.0 * (next(r) - 0.5),
                          elbow[:, 1] + 200.0 * (next(r) - 0.5),
                          torch.maximum(far, elbow[:, 2]) + _lerp(cfg.body_gap_mm, next(r))
                          + radius], -1)
    semi = torch.stack([radius, 2.0 * radius, 0.7 * radius], -1)           # torso
    draw_ellipsoids(zbuf, centre, semi, body_on, intr)
    side = torch.sign(elbow[:, 0] - centre[:, 0] + 1e-3)
    shoulder = centre + torch.stack([0.7 * radius * side, -1.2 * radius, -0.3 * radius], -1)
    ua = torch.tensor(cfg.upper_arm_radius_mm, device=dev)
    upper_arm = Cones(elbow[:, None], shoulder[:, None], ua[0].expand(n, 1),
                      ua[1].expand(n, 1), body_on[:, None])
    for _ in range(16 - 12):                                              # reserved
        next(r)
    # Distractors behind the hand, anywhere in the image.
    parts = [upper_arm.split(3)]
    for _ in range(NUM_DISTRACTORS):
        on = next(r) < cfg.distractor_prob
        rad = _lerp(cfg.distractor_radius_mm, next(r))
        u, v = next(r) * (intr.width - 1), next(r) * (intr.height - 1)
        c = _at_pixel(u, v, far + _lerp(cfg.distractor_gap_mm, next(r)) + 2.0 * rad, intr)
        a, b, ra, rb = _blob(c, rad, torch.stack([next(r) for _ in range(4)], 1))
        parts.append(Cones(a[:, None], b[:, None], ra[:, None], rb[:, None], on[:, None]))
    # One distractor nearer than the hand, beside its image box.
    on = next(r) < cfg.near_distractor_prob
    rad = _lerp(cfg.near_radius_mm, next(r))
    z = (near - _lerp(cfg.near_gap_mm, next(r)) - rad).clamp_min(120.0 + rad)
    box = sphere_pixel_box(ends, radii, intr)
    box = torch.cat([box[..., :2].amin(1), box[..., 2:].amax(1)], -1)    # (n, 4)
    r_px = 1.2 * intr.fx * rad / z + 8.0
    pick = next(r)
    left, right = box[:, 0] - r_px, box[:, 2] + r_px
    u = torch.where(pick < 0.5, left, right)
    v = box[:, 1] + (box[:, 3] - box[:, 1]) * (2.0 * (pick % 0.5))
    parts.append(Cones(*(t[:, None] for t in (_at_pixel(u, v, z, intr),) * 2), rad[:, None],
                       rad[:, None], on[:, None]))
    draw_cones(zbuf, Cones.cat(*parts), intr)


def static_scene_randoms() -> torch.Tensor:
    """Scene uniforms (1, NUM_SCENE_RANDOMS) of a calm demo scene: a wall 0.6 m behind the
    hand and the user's body, no table, no distractors."""
    r = torch.full((1, NUM_SCENE_RANDOMS), 0.5)
    r[0, 0], r[0, 2] = 0.0, 0.1                  # wall on, slight tilt
    r[0, 4] = 1.0                                # table off
    r[0, 7] = 0.0                                # body on
    for k in range(NUM_DISTRACTORS):
        r[0, 16 + 9 * k] = 1.0                   # distractor slots off
    r[0, 16 + 9 * NUM_DISTRACTORS] = 1.0         # near distractor off
    return r
