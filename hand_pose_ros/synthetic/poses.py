"""Pose sampler: correlated finger curls, joint limits, camera-facing rotations, placement.

Finger curls share a "grasp" latent (open hand ... fist) plus per-finger noise; some fingers
ignore it (pointing, counting). Global rotations mix two modes: "frontal" (palm towards the
camera, fingers upwards within +-frontal_roll_deg, tilt up to frontal_tilt_deg: a user raising
a hand in front of a camera, the setting of ICVL and of a robot's teleoperator) and "any"
(palm or back towards the camera, in-plane rotation all around, tilt up to any_tilt_deg).
In both, the fingers point away from the camera by at most away_max_deg, so the forearm does
not reach towards the camera (a user faces the camera; the arm comes from behind the hand).
These ranges are priors chosen by hand, not fitted to any test set.
"""
from dataclasses import dataclass, field
import math
from typing import Tuple

import torch

from .hand_model import HandAngles
from ..core.camera import Intrinsics

# Model frame -> camera (hand_model.py): palm towards the camera, fingers up; the thumb on
# the image's right for a right hand (its model frame is mirrored), on its left for a left one.
_FACING_CAMERA = ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))
_BACK_TO_CAMERA = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))


@dataclass(frozen=True)
class JointLimits:
    """Joint-angle limits (degrees) enforced by the sampler; DIP = 2/3 PIP."""

    mcp_flex_deg: Tuple[float, float] = (-20.0, 90.0)
    pip_flex_deg: Tuple[float, float] = (0.0, 110.0)
    abduction_deg: Tuple[float, float, float, float] = (20.0, 10.0, 15.0, 25.0)  # +- per finger
    thumb_cmc_flex_deg: Tuple[float, float] = (-15.0, 40.0)
    thumb_cmc_abd_deg: Tuple[float, float] = (-10.0, 50.0)
    thumb_mcp_flex_deg: Tuple[float, float] = (-10.0, 60.0)
    thumb_ip_flex_deg: Tuple[float, float] = (-15.0, 80.0)
    scale: Tuple[float, float] = (0.85, 1.15)          # hand size factor


@dataclass(frozen=True)
class PoseConfig:
    """Distribution of sampled hand poses and placements."""

    limits: JointLimits = field(default_factory=JointLimits)
    open_prob: float = 0.3              # grasp latent near 0 (open hand)
    fist_prob: float = 0.25             # grasp latent near 1 (fist)
    curl_noise: float = 0.2             # per-finger std around the grasp latent (curl units)
    independent_prob: float = 0.2       # chance a finger ignores the grasp latent
    angle_noise_deg: float = 8.0        # std added to every joint angle
    scale_std: float = 0.06             # hand size factor std (clipped to limits.scale)
    distance_mm: Tuple[float, float] = (250.0, 600.0)  # palm centre depth
    frontal_prob: float = 0.5           # share of "frontal" rotations (module docstring)
    frontal_roll_deg: float = 90.0
    frontal_tilt_deg: float = 60.0
    any_tilt_deg: float = 70.0
    away_max_deg: float = 20.0          # max. fingers-away-from-camera angle (arm behind hand)
    margin_px: float = 4.0              # joints kept this far inside the image


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    """n samples of U(lo, hi) (CPU, float32)."""
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _clip_deg(x_deg: torch.Tensor, lim: Tuple[float, float]) -> torch.Tensor:
    """Clamp degrees to limits and convert to radians."""
    return torch.deg2rad(x_deg.clamp(lim[0], lim[1]))


def sample_angles(n: int, gen: torch.Generator, cfg: PoseConfig = PoseConfig()) -> HandAngles:
    """Joint angles of n hands (CPU tensors) drawn with ``gen``."""
    lim = cfg.limits
    pick = torch.rand(n, generator=gen)
    grasp = torch.where(pick < cfg.open_prob, _uniform(n, 0.0, 0.25, gen),
                        torch.where(pick < cfg.open_prob + cfg.fist_prob,
                                    _uniform(n, 0.75, 1.0, gen), torch.rand(n, generator=gen)))
    curl = grasp[:, None] + cfg.curl_noise * torch.randn(n, 5, generator=gen)  # thumb..little
    own = torch.rand(n, 5, generator=gen) < cfg.independent_prob
    curl = torch.where(own, torch.rand(n, 5, generator=gen), curl).clamp(0.0, 1.0)
    noise = cfg.angle_noise_deg * torch.randn(n, 12, generator=gen)
    c = curl[:, 1:]
    mcp = _clip_deg(-10.0 + 100.0 * c + noise[:, 0:4], lim.mcp_flex_deg)
    pip = _clip_deg(110.0 * c + noise[:, 4:8], lim.pip_flex_deg)
    spread = torch.rand(n, 1, generator=gen) * (1.0 - c.mean(-1, keepdim=True))
    abd_max = torch.tensor(lim.abduction_deg)
    abd = spread * 0.8 * abd_max * torch.tensor([1.0, 0.0, 1.0, 1.0])
    abd = abd + 0.4 * cfg.angle_noise_deg * torch.randn(n, 4, generator=gen)
    abd = torch.deg2rad(torch.maximum(torch.minimum(abd, abd_max), -abd_max))
    oppose = (0.5 * grasp + 0.5 * torch.rand(n, generator=gen)).clamp(0.0, 1.0)
    ct = curl[:, 0]
    scale = (1.0 + cfg.scale_std * torch.randn(n, generator=gen)).clamp(*lim.scale)
    return HandAngles(
        finger_abd=abd, finger_mcp=mcp, finger_pip=pip,
        thumb_cmc_flex=_clip_deg(-10.0 + 45.0 * oppose + noise[:, 8], lim.thumb_cmc_flex_deg),
        thumb_cmc_abd=_clip_deg(45.0 * oppose + noise[:, 9], lim.thumb_cmc_abd_deg),
        thumb_mcp=_clip_deg(50.0 * ct + noise[:, 10], lim.thumb_mcp_flex_deg),
        thumb_ip=_clip_deg(-10.0 + 80.0 * ct + noise[:, 11], lim.thumb_ip_flex_deg),
        scale=scale)


def axis_angle_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (n, 3, 3) about unit axes (n, 3) by angles (n,) radians (Rodrigues)."""
    k = axis / axis.norm(dim=-1, keepdim=True)
    kx, ky, kz = k.unbind(-1)
    zero = torch.zeros_like(kx)
    cross = torch.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).view(-1, 3, 3)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    eye = torch.eye(3, dtype=axis.dtype).expand_as(cross)
    return eye + s * cross + (1.0 - c) * (cross @ cross)


def sample_rotation(n: int, gen: torch.Generator, cfg: PoseConfig = PoseConfig()) -> torch.Tensor:
    """Palm-frame -> camera rotations (n, 3, 3) (module docstring), CPU float32."""
    frontal = torch.rand(n, generator=gen) < cfg.frontal_prob
    back = (torch.rand(n, generator=gen) < 0.5) & ~frontal
    base = torch.where(back[:, None, None], torch.tensor(_BACK_TO_CAMERA),
                       torch.tensor(_FACING_CAMERA))
    roll_any = _uniform(n, -math.pi, math.pi, gen)
    roll_front = math.radians(cfg.frontal_roll_deg) * (2.0 * torch.rand(n, generator=gen) - 1.0)
    roll = torch.where(frontal, roll_front, roll_any)
    max_tilt = torch.where(frontal, torch.tensor(math.radians(cfg.frontal_tilt_deg)),
                           torch.tensor(math.radians(cfg.any_tilt_deg)))
    cos_tilt = 1.0 - torch.rand(n, generator=gen) * (1.0 - torch.cos(max_tilt))
    tilt = torch.acos(cos_tilt)                     # uniform on the spherical cap
    azim = _uniform(n, -math.pi, math.pi, gen)
    z_axis = torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3)
    rolled = axis_angle_matrix(z_axis, roll) @ base
    rot = []
    for az in (azim, azim + math.pi):       # the opposite tilt turns the fingers to the camera
        tilt_axis = torch.stack([torch.cos(az), torch.sin(az), torch.zeros(n)], -1)
        rot.append(axis_angle_matrix(tilt_axis, tilt) @ rolled)
    away = rot[0][:, 2, 1] > math.sin(math.radians(cfg.away_max_deg))
    return torch.where(away[:, None, None], rot[1], rot[0])


def place_in_view(local: torch.Tensor, rot: torch.Tensor, gen: torch.Generator, intr: Intrinsics,
                  cfg: PoseConfig = PoseConfig()) -> torch.Tensor:
    """Translations (n, 3) mm putting the palm (joint 1 of ``local``) at a random depth and
    image position, shifted so every joint projects inside the image (centred if too big)."""
    n = local.shape[0]
    depth = _uniform(n, *cfg.distance_mm, gen)
    u = _uniform(n, 0.2 * intr.width, 0.8 * intr.width, gen)
    v = _uniform(n, 0.2 * intr.height, 0.8 * intr.height, gen)
    trans = torch.stack([(u - intr.cx) * depth / intr.fx, (v - intr.cy) * depth / intr.fy,
                         depth], -1) - (rot @ local[:, 1, :, None])[..., 0]
    cam = local @ rot.transpose(1, 2)                                  # (n, J, 3)
    for _ in range(3):                                                 # perspective: iterate
        xyz = cam + trans[:, None]
        z = xyz[..., 2].clamp_min(50.0)
        shift = []
        for axis, f, c, size in ((0, intr.fx, intr.cx, intr.width),
                                 (1, intr.fy, intr.cy, intr.height)):
            p = xyz[..., axis] * f / z + c
            lo, hi = cfg.margin_px, size - 1 - cfg.margin_px
            pmin, pmax = p.amin(-1), p.amax(-1)
            d = torch.where(pmin < lo, lo - pmin, torch.where(pmax > hi, hi - pmax, 0.0 * pmin))
            d = torch.where(pmax - pmin > hi - lo, (lo + hi - pmin - pmax) / 2.0, d)
            shift.append(d * xyz[:, 1, 2] / f)
        trans = trans + torch.stack(shift + [torch.zeros(n)], -1)
    return trans


def animated_angles(t_s: float) -> HandAngles:
    """A smooth open/close cycle (4 s period, fingers slightly out of phase), one hand."""
    phase = torch.tensor([0.0, 0.15, 0.3, 0.45, 0.6])                  # thumb..little
    curl = 0.5 - 0.5 * torch.cos(2.0 * math.pi * (t_s / 4.0 - 0.1 * phase))
    c = curl[1:]
    spread = 0.7 * (1.0 - c.mean())
    deg = torch.deg2rad
    return HandAngles(
        finger_abd=deg(spread * torch.tensor([15.0, 0.0, 10.0, 18.0]))[None],
        finger_mcp=deg(-5.0 + 85.0 * c)[None], finger_pip=deg(100.0 * c)[None],
        thumb_cmc_flex=deg(-5.0 + 35.0 * curl[:1]), thumb_cmc_abd=deg(5.0 + 35.0 * curl[:1]),
        thumb_mcp=deg(40.0 * curl[:1]), thumb_ip=deg(60.0 * curl[:1]),
        scale=torch.ones(1))


def animated_placement(t_s: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rotation (1, 3, 3) and palm position (1, 3) mm of the animated hand: palm towards the
    camera, slow in-plane sway (10 s) and tilt (7 s), palm centre about 0.45 m away."""
    roll = torch.tensor([math.radians(25.0) * math.sin(2.0 * math.pi * t_s / 10.0)])
    tilt = torch.tensor([math.radians(20.0) * math.sin(2.0 * math.pi * t_s / 7.0)])
    rot = (axis_angle_matrix(torch.tensor([[1.0, 0.0, 0.0]]), tilt)
           @ axis_angle_matrix(torch.tensor([[0.0, 0.0, 1.0]]), roll)
           @ torch.tensor(_FACING_CAMERA)[None])
    palm = torch.tensor([[30.0 * math.sin(2.0 * math.pi * t_s / 13.0), -20.0,
                          450.0 + 40.0 * math.sin(2.0 * math.pi * t_s / 9.0)]])
    return rot, palm
