"""Depth sensor model: noise growing with distance, missing pixels, 1 mm quantisation.

Applied to a clean z-buffer (+inf where nothing is hit), it imitates structured-light and
stereo depth cameras: Gaussian noise whose std grows with the square of the depth (part of it
spatially smooth, in 8-pixel blocks), silhouette edges that are missing or "flying" (a depth
between the two surfaces), surfaces seen at grazing angles that go missing, isolated dropouts,
a working range, and rounding to the sensor's depth unit. Missing depth is 0.
"""
from dataclasses import dataclass
import math
from typing import Tuple

import torch
import torch.nn.functional as F

from ..core.camera import Intrinsics

NUM_SENSOR_RANDOMS = 1  # per-frame uniforms: the noise level
_BLOCK_PX = 8


@dataclass(frozen=True)
class SensorConfig:
    """Noise and dropout parameters (mm, probabilities)."""

    noise_mm_at_1m: Tuple[float, float] = (1.0, 4.0)   # per-frame std range at 1 m (z^2 law)
    noise_floor_mm: float = 0.3                          # std added at any depth
    smooth_fraction: float = 0.5                         # share of the std in 8-px blocks
    edge_jump_mm: float = 12.0                           # neighbour step marking an edge ...
    edge_jump_per_mm: float = 0.03                       # ... plus this fraction of the depth
    edge_drop_prob: float = 0.45                         # edge pixel missing
    flying_prob: float = 0.1                             # edge pixel between the surfaces
    grazing_cos: Tuple[float, float] = (0.12, 0.3)       # |cos incidence| ramp: all -> none lost
    dropout_prob: float = 0.002                          # isolated missing pixels
    range_mm: Tuple[float, float] = (150.0, 3000.0)      # valid depth range
    quantum_mm: float = 1.0                              # depth unit

    def __post_init__(self) -> None:
        lo, hi = self.noise_mm_at_1m
        if not 0.0 <= lo <= hi:
            raise ValueError(f'noise_mm_at_1m must be (lo, hi) with 0 <= lo <= hi, found '
                             f'{self.noise_mm_at_1m}')
        if not 0.0 <= self.smooth_fraction <= 1.0:
            raise ValueError(f'smooth_fraction must be in [0, 1], found {self.smooth_fraction}')


def _neighbours(z: torch.Tensor) -> torch.Tensor:
    """The 4-neighbours (4, B, H, W) of each pixel (edge-replicated)."""
    p = F.pad(z[:, None], (1, 1, 1, 1), mode='replicate')[:, 0]
    return torch.stack([p[:, 1:-1, :-2], p[:, 1:-1, 2:], p[:, :-2, 1:-1], p[:, 2:, 1:-1]])


def incidence_cos(z: torch.Tensor, intr: Intrinsics) -> torch.Tensor:
    """|cos| of the angle between each pixel's ray and the surface normal (central diffs).

    With metric slopes gx = fx dz/du / z, gy = fy dz/dv / z the normal of the surface
    z (x, y, 1) is (-gx, -gy, 1 + gx x + gy y) and its dot product with the ray (x, y, 1) is 1.
    """
    nb = _neighbours(z)
    gx = (nb[1] - nb[0]) * (0.5 * intr.fx) / z
    gy = (nb[3] - nb[2]) * (0.5 * intr.fy) / z
    dev = z.device
    x = (torch.arange(intr.width, device=dev, dtype=z.dtype) - intr.cx) / intr.fx
    y = ((torch.arange(intr.height, device=dev, dtype=z.dtype) - intr.cy) / intr.fy)[:, None]
    nz = 1.0 + gx * x + gy * y
    return 1.0 / torch.sqrt((gx * gx + gy * gy + nz * nz) * (1.0 + x * x + y * y))


def apply_sensor(zbuf: torch.Tensor, intr: Intrinsics, frame_rand: torch.Tensor,
                 gen: torch.Generator, cfg: SensorConfig = SensorConfig()) -> torch.Tensor:
    """Sensor depth (B, H, W) float32 mm (0 = missing) from a clean z-buffer (+inf = empty).

    ``frame_rand`` (B, NUM_SENSOR_RANDOMS) uniforms pick per-frame settings; ``gen`` (on the
    z-buffer's device) draws the per-pixel noise.
    """
    n, h, w = zbuf.shape
    dev = zbuf.device
    hit = torch.isfinite(zbuf)
    far = 1.0e5
    z = torch.where(hit, zbuf, far)
    nb = _neighbours(z)
    step = (nb - z).abs().amax(0)
    edge = hit & (step > cfg.edge_jump_mm + cfg.edge_jump_per_mm * z)
    farther = torch.where(nb < far, nb, z).amax(0)                      # farther valid surface
    lo, hi = cfg.grazing_cos
    graze = ((hi - incidence_cos(z, intr)) / max(hi - lo, 1e-6)).clamp(0.0, 1.0)
    u = torch.rand(n, h, w, generator=gen, device=dev)
    flying = edge & (u >= cfg.edge_drop_prob) & (u < cfg.edge_drop_prob + cfg.flying_prob)
    t = ((u - cfg.edge_drop_prob) / max(cfg.flying_prob, 1e-6)).clamp(0.0, 1.0)
    z = torch.where(flying, z + t * (farther - z), z)
    lost = torch.where(edge, u < cfg.edge_drop_prob, u < cfg.dropout_prob + graze)
    # Noise: std = floor + level * (z / 1 m)^2, white plus 8-pixel blocks.
    level = cfg.noise_mm_at_1m[0] + (cfg.noise_mm_at_1m[1] - cfg.noise_mm_at_1m[0]) * frame_rand[
        :, 0].to(dev)
    std = cfg.noise_floor_mm + level[:, None, None] * (z * 1e-3) ** 2
    noise = torch.randn(n, h, w, generator=gen, device=dev)
    if cfg.smooth_fraction > 0.0:
        hb, wb = math.ceil(h / _BLOCK_PX), math.ceil(w / _BLOCK_PX)
        blocks = torch.randn(n, 1, hb, wb, generator=gen, device=dev)
        smooth = F.interpolate(blocks, scale_factor=_BLOCK_PX, mode='bilinear',
                               align_corners=False)[:, 0, :h, :w]
        f = cfg.smooth_fraction
        noise = math.sqrt(1.0 - f * f) * noise + f * smooth * 1.5  # bilinear shrinks the std 1.5x
    z = z + std * noise
    z = torch.round(z / cfg.quantum_mm) * cfg.quantum_mm
    keep = hit & ~lost & (z >= cfg.range_mm[0]) & (z <= cfg.range_mm[1])
    return torch.where(keep, z, 0.0).float()
