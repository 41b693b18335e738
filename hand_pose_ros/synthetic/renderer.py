"""Hand geometry from ICVL16 joints: the single path every rendered hand goes through.

Sampled training hands (HAND22 -> ICVL16) and ground-truth files are both turned into
primitives here, so a render is the same function of its ICVL16 joints in both cases. What
ICVL16 lacks is rebuilt from it: the palm frame and hand size from the palm and finger roots
(hand_model.palm_frame_icvl16, hand_scale_icvl16); wrist and thumb CMC rigidly from that frame;
each DIP from its finger's MCP, PIP and tip (:func:`infer_dip`, exact for the model because
DIP flexion = 2/3 PIP flexion). Primitives: tapered capsules for the 15 bones, a rounded palm
slab (a polygon face plus capsules along its rim), and a forearm stub (two capsules, radius
and ulna) bent at the wrist by a random angle. Random nuisances (finger thickness, forearm
bend and length) are drawn here, with the same distribution for every source.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from .hand_model import (DIP_PER_PIP, hand_scale_icvl16, HandSkeleton, ICVL16_MCP,
                         MIDDLE_SHARE, normalize, palm_frame_icvl16)
from .raster import Cones, Slab
from .raycast import sphere_pixel_box
from ..core.camera import Intrinsics

RIM_PIECES, FOREARM_PIECES = 2, 4  # long cones are split: same shape, smaller windows
NUM_HAND_CONES = 12 + 3 + 7 * RIM_PIECES + 2 * FOREARM_PIECES  # fingers, thumb, rim, forearm
NUM_HAND_RANDOMS = 4              # uniforms per hand: thickness, bend x2, forearm length


@dataclass(frozen=True)
class HandShape:
    """Flesh around the skeleton (mm at hand scale 1) and the forearm stub."""

    finger_radii_mm: Tuple[Tuple[float, float, float, float], ...] = (
        (9.5, 9.0, 8.2, 7.2),        # index: MCP, PIP, DIP, tip
        (9.8, 9.3, 8.5, 7.5),        # middle
        (9.2, 8.7, 8.0, 7.0),        # ring
        (8.2, 7.6, 7.0, 6.2))        # little
    thumb_radii_mm: Tuple[float, float, float, float] = (15.0, 10.5, 9.5, 8.0)  # CMC..tip
    palm_half_thickness_mm: float = 12.5
    wrist_half_width_mm: float = 27.0
    knuckle_setback_mm: float = 3.0   # palm rim sits this far proximal of the MCP centres
    forearm_radius_mm: Tuple[float, float] = (17.0, 21.0)   # each of two bones: wrist, far end
    forearm_offset_mm: Tuple[float, float] = (10.0, 14.0)   # bone axis from the arm axis
    forearm_length_mm: Tuple[float, float] = (200.0, 320.0)
    wrist_flex_deg: float = 25.0      # forearm bend, uniform +- (flexion / extension)
    wrist_dev_deg: float = 12.0       # forearm bend, uniform +- (radial / ulnar deviation)
    thickness_jitter: float = 0.08    # all radii scaled by U(1 - j, 1 + j) per hand


def infer_dip(mcp: torch.Tensor, pip: torch.Tensor, tip: torch.Tensor,
              share: torch.Tensor) -> torch.Tensor:
    """DIP joints (..., 3) of planar fingers whose DIP flexion is DIP_PER_PIP x PIP flexion.

    The chord PIP -> tip makes angle theta = p + atan2(b sin kp, a + b cos kp) with the
    proximal phalanx (p: PIP flexion, k = DIP_PER_PIP, a = share, b = 1 - share the phalanx
    proportions); Newton's method inverts it, then the chord length fixes the scale.
    """
    prox = normalize(pip - mcp)
    chord = tip - pip
    c = chord.norm(dim=-1)
    along = (chord * prox).sum(-1)
    theta = torch.atan2((chord - along[..., None] * prox).norm(dim=-1), along)
    a, b, k = share, 1.0 - share, DIP_PER_PIP
    p = theta / (1.0 + k * b)
    for _ in range(6):
        cos_kp = torch.cos(k * p)
        f = p + torch.atan2(b * torch.sin(k * p), a + b * cos_kp) - theta
        df = 1.0 + k * b * (b + a * cos_kp) / (a * a + b * b + 2.0 * a * b * cos_kp)
        p = (p - f / df).clamp(min=torch.zeros_like(theta), max=theta)
    perp = normalize(chord - along[..., None] * prox)
    middle_dir = torch.cos(p)[..., None] * prox + torch.sin(p)[..., None] * perp
    total = c / torch.sqrt(a * a + b * b + 2.0 * a * b * torch.cos(k * p))
    return pip + (a * total)[..., None] * middle_dir


def _lift(palm: torch.Tensor, rot: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
    """Palm-frame points (n, ..., 3) -> camera frame, for rotations (n, 3, 3)."""
    shape = local.shape
    flat = local.reshape(shape[0], -1, 3) @ rot.transpose(1, 2)
    return flat.reshape(shape) + palm.view(shape[0], *([1] * (len(shape) - 2)), 3)


def hand_primitives(xyz16: torch.Tensor, skel: HandSkeleton, shape: HandShape,
                    rand: torch.Tensor, intr: Intrinsics,
                    left: Optional[torch.Tensor] = None) -> Tuple[Cones, Slab]:
    """Cones (n, NUM_HAND_CONES) and palm slab of ICVL16 hands (n, 16, 3) mm.

    ``rand`` (n, NUM_HAND_RANDOMS) uniforms in [0, 1) pick the random nuisances; ``left``
    (n,) bool says which hands are left ones (None: told from the joints, core/handedness.py).
    """
    n, dev = xyz16.shape[0], xyz16.device
    rot = palm_frame_icvl16(xyz16, left)
    scale = hand_scale_icvl16(xyz16, skel)[:, None]                      # (n, 1)
    palm = xyz16[:, 0]
    thick = scale * (1.0 + shape.thickness_jitter * (2.0 * rand[:, :1] - 1.0))

    def vec(x):
        return torch.tensor(x, device=dev, dtype=xyz16.dtype)
    mcp_i = list(ICVL16_MCP)
    mcp = xyz16[:, mcp_i]
    pip = xyz16[:, [j + 1 for j in mcp_i]]
    tip = xyz16[:, [j + 2 for j in mcp_i]]
    dip = infer_dip(mcp, pip, tip, vec(MIDDLE_SHARE)[None])
    fingers = torch.stack([mcp, pip, dip, tip], 2)                           # (n, 4, 4, 3)
    fr = vec(shape.finger_radii_mm)[None] * thick[..., None]                 # (n, 4, 4)
    cmc = _lift(palm, rot, vec(skel.thumb_cmc_mm)[None, None] * scale[..., None])[:, 0]
    thumb = torch.stack([cmc, xyz16[:, 1], xyz16[:, 2], xyz16[:, 3]], 1)    # (n, 4, 3)
    tr = vec(shape.thumb_radii_mm)[None] * thick
    # Palm slab: polygon (palm plane) through the knuckles, wrist corners and thumb base.
    local_mcp = (mcp - palm[:, None]) @ rot                                   # (n, 4, 3)
    half = shape.palm_half_thickness_mm * thick                              # (n, 1)
    wrist_y = skel.wrist_mm[1] * scale
    wrist_x = shape.wrist_half_width_mm * scale - half
    cmc_xy = vec(skel.thumb_cmc_mm[:2])[None] * scale
    poly = torch.cat([local_mcp[..., :2] - vec((0.0, shape.knuckle_setback_mm)) * scale[..., None],
                      torch.stack([-wrist_x, wrist_y], -1), torch.stack([wrist_x, wrist_y], -1),
                      cmc_xy[:, None]], 1)                                    # (n, 7, 2)
    rim = _lift(palm, rot, torch.cat([poly, torch.zeros_like(poly[..., :1])], -1))
    # Forearm: two bones from the wrist, bent by a random flexion and deviation.
    flex = torch.deg2rad(shape.wrist_flex_deg * (2.0 * rand[:, 1] - 1.0))
    dev_ = torch.deg2rad(shape.wrist_dev_deg * (2.0 * rand[:, 2] - 1.0))
    arm_dir = torch.stack([torch.cos(flex) * torch.sin(dev_), -torch.cos(flex) * torch.cos(dev_),
                           -torch.sin(flex)], -1)
    side = torch.stack([torch.cos(dev_), torch.sin(dev_), torch.zeros_like(dev_)], -1)
    wrist = _lift(palm, rot, vec(skel.wrist_mm)[None, None] * scale[..., None])[:, 0]
    arm_cam = (rot @ arm_dir[..., None])[..., 0]
    side_cam = (rot @ side[..., None])[..., 0]
    length = shape.forearm_length_mm[0] + (shape.forearm_length_mm[1]
                                           - shape.forearm_length_mm[0]) * rand[:, 3:4]
    room = (wrist[:, 2:] - 150.0) / (-arm_cam[:, 2:]).clamp_min(1e-3)       # keep z >= 150
    length = torch.minimum(length * scale, room.clamp_min(20.0))
    off0, off1 = (o * thick for o in shape.forearm_offset_mm)
    arm_a = torch.stack([wrist + off0 * side_cam, wrist - off0 * side_cam], 1)
    end = wrist + length * arm_cam
    arm_b = torch.stack([end + off1 * side_cam, end - off1 * side_cam], 1)
    arm_r = torch.stack([r * thick for r in shape.forearm_radius_mm], -1).expand(n, 2, 2)

    bones = Cones(torch.cat([fingers[:, :, :3].reshape(n, 12, 3), thumb[:, :3]], 1),
                  torch.cat([fingers[:, :, 1:].reshape(n, 12, 3), thumb[:, 1:]], 1),
                  torch.cat([fr[..., :3].reshape(n, 12), tr[:, :3]], 1),
                  torch.cat([fr[..., 1:].reshape(n, 12), tr[:, 1:]], 1),
                  torch.ones(n, 15, dtype=torch.bool, device=dev))
    edges = Cones(rim, rim.roll(-1, 1), half.expand(n, 7), half.expand(n, 7),
                  torch.ones(n, 7, dtype=torch.bool, device=dev))
    arm = Cones(arm_a, arm_b, arm_r[..., 0], arm_r[..., 1],
                torch.ones(n, 2, dtype=torch.bool, device=dev))
    cones = Cones.cat(bones, edges.split(RIM_PIECES), arm.split(FOREARM_PIECES))
    return cones, _slab(palm, rot, poly, half[:, 0], rim, intr)


def _slab(palm: torch.Tensor, rot: torch.Tensor, poly: torch.Tensor, half: torch.Tensor,
          rim: torch.Tensor, intr: Intrinsics) -> Slab:
    """The camera-facing face of the palm slab and its polygon half-planes."""
    normal = rot[:, :, 2]
    facing = torch.where(((normal * palm).sum(-1, keepdim=True) < 0), normal, -normal)
    origin = palm + half[:, None] * facing
    edge = poly.roll(-1, 1) - poly                                            # (n, K, 2)
    area = (poly[..., 0] * poly.roll(-1, 1)[..., 1]
            - poly.roll(-1, 1)[..., 0] * poly[..., 1]).sum(-1)                # 2 x signed
    orient = torch.where(area >= 0, 1.0, -1.0)[:, None]
    hp = torch.stack([-edge[..., 1], edge[..., 0],
                      edge[..., 1] * poly[..., 0] - edge[..., 0] * poly[..., 1]], -1)
    hp = hp * orient[..., None]
    # The face origin is offset along the normal only, so in-plane coordinates are unchanged.
    box = sphere_pixel_box(rim, half[:, None].expand_as(rim[..., 0]), intr)
    box = torch.cat([box[..., :2].amin(1), box[..., 2:].amax(1)], -1)
    return Slab(origin, rot[:, :, 0], rot[:, :, 1], facing, hp, box)
