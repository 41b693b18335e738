"""Depth sensor model: noise growing with distance, missing pixels, 1 mm quantisation.

Applied to a clean z-buffer (+inf where nothing is hit), it imitates structured-light and
stereo depth cameras: Gaussian noise whose std grows with the square of the depth (part of it
spatially smooth, in 8-pixel blocks), pixels missing at silhouette edges (a depth step to a
neighbour) and on surfaces seen at grazing angles, isolated dropouts, a working range, and
rounding to the sensor's depth unit. Missing depth is 0. Per camera (config/cameras.yaml,
:func:`camera_sensor`): the projector's shadow (surfaces the projector or second imager cannot
see behind a nearer edge have no depth), disparity quantisation (depth steps growing with z^2)
and flying pixels (edge pixels between the two surfaces, as time-of-flight cameras mix them).
"""
from dataclasses import dataclass
import math
from typing import Dict, Tuple

import torch
import torch.nn.functional as F

from ..core.camera import Intrinsics

NUM_SENSOR_RANDOMS = 1  # per-frame uniforms: the noise level
_BLOCK_PX = 8           # size of the spatially smooth noise blocks (pixels)
_EMPTY_MM = 1.0e5       # stand-in depth of empty pixels while finding edges


@dataclass(frozen=True)
class SensorConfig:
    """Noise and dropout parameters (mm, probabilities)."""

    noise_mm_at_1m: Tuple[float, float] = (1.0, 4.0)   # per-frame std range at 1 m (z^2 law)
    noise_floor_mm: float = 0.3                          # std added at any depth
    smooth_fraction: float = 0.5                         # share of the std in 8-px blocks
    edge_jump_mm: float = 12.0                           # neighbour step marking an edge ...
    edge_jump_per_mm: float = 0.03                       # ... plus this fraction of the depth
    edge_drop_prob: float = 0.5                          # edge pixel missing
    grazing_cos: Tuple[float, float] = (0.12, 0.3)       # |cos incidence| ramp: all -> none lost
    dropout_prob: float = 0.002                          # isolated missing pixels
    range_mm: Tuple[float, float] = (150.0, 3000.0)      # valid depth range
    quantum_mm: float = 1.0                              # depth unit
    shadow_baseline_mm: float = 0.0                      # projector offset along x (0: none)
    disparity_step_px: float = 0.0                       # disparity quantisation (0: none)
    flying_pixel_prob: float = 0.0                       # edge pixel mixed instead of lost

    def __post_init__(self) -> None:
        lo, hi = self.noise_mm_at_1m
        if not 0.0 <= lo <= hi:
            raise ValueError(f'noise_mm_at_1m must be (lo, hi) with 0 <= lo <= hi, found '
                             f'{self.noise_mm_at_1m}')
        if not 0.0 <= self.smooth_fraction <= 1.0:
            raise ValueError(f'smooth_fraction must be in [0, 1], found {self.smooth_fraction}')


def camera_sensor(sensor: Dict, **overrides) -> SensorConfig:
    """The SensorConfig of a camera preset's ``sensor`` mapping (config/cameras.yaml)."""
    known = {'kind', 'noise_mm_at_1m', 'shadow_baseline_mm', 'disparity_step_px',
             'flying_pixel_prob', 'range_mm'}
    unknown = set(sensor) - known
    if unknown:
        raise ValueError(f'camera sensor: unknown keys {sorted(unknown)}; known: {sorted(known)}')
    args = {k: (tuple(v) if isinstance(v, list) else v) for k, v in sensor.items()
            if k != 'kind'}
    args.update(overrides)
    return SensorConfig(**args)


def projector_shadow(z: torch.Tensor, intr: Intrinsics, baseline_mm: float) -> torch.Tensor:
    """(B, H, W) bool: pixels hidden from a projector ``baseline_mm`` along x (mm, either sign).

    With the projector at -|b| on x, pixel u at depth z lands on projector column u + f|b|/z;
    a nearer surface at a column q < u that lands at or beyond it hides it, so pixel u is in
    shadow when w(u) = u + f|b|/z(u) is below max_{q < u} w(q) (by half a pixel: a surface
    is never its own shadow). A projector at +|b| is the same on the mirrored rows. The shadow
    falls beside each nearer object on the side away from the projector.
    """
    if baseline_mm == 0.0:
        return torch.zeros_like(z, dtype=torch.bool)
    zz = z.flip(-1) if baseline_mm > 0 else z
    cols = torch.arange(z.shape[-1], device=z.device, dtype=z.dtype)
    w = intr.fx * abs(baseline_mm) / zz + cols
    before = torch.cummax(w, dim=-1).values
    before = F.pad(before[..., :-1], (1, 0), value=-float('inf'))
    shadow = w < before - 0.5
    return shadow.flip(-1) if baseline_mm > 0 else shadow


def _forward_diffs(z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Depth steps to the right and lower neighbour (B, H, W), 0 on the last column / row."""
    dx = F.pad(z[:, :, 1:] - z[:, :, :-1], (0, 1))
    dy = F.pad(z[:, 1:, :] - z[:, :-1, :], (0, 0, 0, 1))
    return dx, dy


def incidence_cos(z: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor,
                  intr: Intrinsics) -> torch.Tensor:
    """|cos| of the angle between each pixel's ray and the surface normal.

    With metric slopes gx = fx dz/du / z, gy = fy dz/dv / z the normal of the surface
    z (x, y, 1) is (-gx, -gy, 1 + gx x + gy y) and its dot product with the ray (x, y, 1) is 1.
    """
    inv = 1.0 / z
    gx = dx * inv * intr.fx
    gy = dy * inv * intr.fy
    dev = z.device
    x = (torch.arange(intr.width, device=dev, dtype=z.dtype) - intr.cx) / intr.fx
    y = ((torch.arange(intr.height, device=dev, dtype=z.dtype) - intr.cy) / intr.fy)[:, None]
    nz = gx * x + gy * y + 1.0
    norm2 = torch.addcmul(torch.addcmul(nz * nz, gx, gx), gy, gy)
    return norm2.mul_(x * x + y * y + 1.0).rsqrt_()


def apply_sensor(zbuf: torch.Tensor, intr: Intrinsics, frame_rand: torch.Tensor,
                 gen: torch.Generator, cfg: SensorConfig = SensorConfig()) -> torch.Tensor:
    """Sensor depth (B, H, W) float32 mm (0 = missing) from a clean z-buffer (+inf = empty).

    ``frame_rand`` (B, NUM_SENSOR_RANDOMS) uniforms pick per-frame settings; ``gen`` (on the
    z-buffer's device) draws the per-pixel noise.
    """
    n, h, w = zbuf.shape
    dev = zbuf.device
    hit = torch.isfinite(zbuf)
    z = torch.nan_to_num(zbuf, posinf=_EMPTY_MM)
    zbuf_clean = z
    dx, dy = _forward_diffs(z)
    # A pixel is on an edge when the step to any 4-neighbour exceeds the threshold.
    limit = z * cfg.edge_jump_per_mm + cfg.edge_jump_mm
    jump_x, jump_y = dx.abs() > limit, dy.abs() > limit
    edge = jump_x | F.pad(jump_x[:, :, :-1], (1, 0)) | jump_y | F.pad(jump_y[:, :-1], (0, 0, 1, 0))
    lo, hi = cfg.grazing_cos
    p_lost = (hi - incidence_cos(z, dx, dy, intr)).mul_(1.0 / max(hi - lo, 1e-6)).clamp_(0.0, 1.0)
    p_lost = torch.where(edge, cfg.edge_drop_prob, p_lost.add_(cfg.dropout_prob))
    lost = torch.rand(n, h, w, generator=gen, device=dev) < p_lost
    # Noise: std = floor + level * (z / 1 m)^2, white plus 8-pixel blocks.
    span = cfg.noise_mm_at_1m[1] - cfg.noise_mm_at_1m[0]
    level = (cfg.noise_mm_at_1m[0] + span * frame_rand[:, 0].to(dev))[:, None, None] * 1e-6
    noise = torch.randn(n, h, w, generator=gen, device=dev)
    if cfg.smooth_fraction > 0.0:
        hb, wb = math.ceil(h / _BLOCK_PX), math.ceil(w / _BLOCK_PX)
        blocks = torch.randn(n, 1, hb, wb, generator=gen, device=dev)
        smooth = F.interpolate(blocks, scale_factor=_BLOCK_PX, mode='bilinear',
                               align_corners=False)[:, 0, :h, :w]
        f = cfg.smooth_fraction
        noise = torch.add(noise, smooth, alpha=f * 1.5 / math.sqrt(1.0 - f * f))  # bilinear:
        noise.mul_(math.sqrt(1.0 - f * f))                 # its std is 1 / 1.5 of the blocks'
    std = (z * z).mul_(level).add_(cfg.noise_floor_mm)
    z = torch.addcmul(z, std, noise).div_(cfg.quantum_mm).round_().mul_(cfg.quantum_mm)
    if cfg.disparity_step_px > 0.0 and cfg.shadow_baseline_mm != 0.0:
        fb = intr.fx * abs(cfg.shadow_baseline_mm)
        disparity = (fb / z.clamp_min(1.0) / cfg.disparity_step_px).round_()
        z = torch.where(disparity > 0, fb / (disparity.clamp_min(1.0) * cfg.disparity_step_px), z)
    if cfg.flying_pixel_prob > 0.0:
        # A flying pixel takes a value between its depth and its deepest 4-neighbour's.
        far = torch.maximum(torch.maximum(F.pad(zbuf_clean[:, :, 1:], (0, 1), value=0.0),
                                          F.pad(zbuf_clean[:, :, :-1], (1, 0), value=0.0)),
                            torch.maximum(F.pad(zbuf_clean[:, 1:], (0, 0, 0, 1), value=0.0),
                                          F.pad(zbuf_clean[:, :-1], (0, 0, 1, 0), value=0.0)))
        mix = torch.rand(n, h, w, generator=gen, device=dev)
        fly = edge & lost & hit & (mix < cfg.flying_pixel_prob) & (far < _EMPTY_MM)
        z = torch.where(fly, z + (far - z) * torch.rand(n, h, w, generator=gen, device=dev), z)
        lost = lost & ~fly
    if cfg.shadow_baseline_mm != 0.0:
        lost = lost | projector_shadow(zbuf_clean, intr, cfg.shadow_baseline_mm)
    keep = hit & ~lost & (z >= cfg.range_mm[0]) & (z <= cfg.range_mm[1])
    return torch.where(keep, z, 0.0)
