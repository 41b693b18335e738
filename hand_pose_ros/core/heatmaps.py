"""Gaussian joint heatmaps and their decoding, shared by training (targets) and inference.

Joint positions are normalised crop coordinates in [-1, 1] (see core/crop.py); heatmap pixel j
has its centre at (2j + 1) / H - 1, whatever the resolution.
"""
from typing import Tuple

import torch


def norm_to_heatmap_px(uv_norm: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised coordinates -> heatmap pixel coordinates (centre-at-integer)."""
    return (uv_norm + 1) * (size / 2) - 0.5


def heatmap_px_to_norm(uv_px: torch.Tensor, size: int) -> torch.Tensor:
    """Heatmap pixel coordinates -> normalised coordinates."""
    return (uv_px + 0.5) * (2 / size) - 1


def gaussian_heatmaps(uv_norm: torch.Tensor, size: int, sigma_px: float) -> torch.Tensor:
    """(B, J, 2) normalised joint positions -> (B, J, size, size) Gaussians of peak 1."""
    px = norm_to_heatmap_px(uv_norm, size)                                 # (B, J, 2)
    ticks = torch.arange(size, device=uv_norm.device, dtype=uv_norm.dtype)
    gx = torch.exp(-(ticks - px[..., 0:1]) ** 2 / (2 * sigma_px ** 2))    # (B, J, W)
    gy = torch.exp(-(ticks - px[..., 1:2]) ** 2 / (2 * sigma_px ** 2))    # (B, J, H)
    return gy[..., :, None] * gx[..., None, :]                             # (B, J, H, W)


def _parabola_peak(left: torch.Tensor, mid: torch.Tensor, right: torch.Tensor):
    """Sub-pixel offset and log-height of a parabola through three log-values (Gaussian: exact)."""
    b = 0.5 * (right - left)
    c = 0.5 * (left + right) - mid
    c = torch.where(c < -1e-6, c, torch.full_like(c, -1e-6))               # must open downwards
    off = (-b / (2 * c)).clamp(-1.0, 1.0)
    return off, b * off + c * off ** 2                                       # offset, log-gain


def decode_heatmaps(heatmaps: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, J, H, W) heatmaps -> normalised (B, J, 2) positions and (B, J) confidence in [0, 1].

    The arg-max is refined by a parabola fit to the log-heatmap along each axis (exact for a
    Gaussian peak); the confidence is the fitted peak height (targets peak at 1).
    """
    b, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, j, h * w).float()
    peak, idx = flat.max(dim=-1)                                           # (B, J)
    y, x = idx // w, idx % w

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        # the log of five values per joint, not of the whole map
        v = flat.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))[..., None])[..., 0]
        return torch.log(v.clamp_min(1e-6))

    mid = at(y, x)
    inner_x = (x > 0) & (x < w - 1)
    inner_y = (y > 0) & (y < h - 1)
    dx, gx = _parabola_peak(at(y, x - 1), mid, at(y, x + 1))
    dy, gy = _parabola_peak(at(y - 1, x), mid, at(y + 1, x))
    zero = torch.zeros_like(dx)
    dx, gx = torch.where(inner_x, dx, zero), torch.where(inner_x, gx, zero)
    dy, gy = torch.where(inner_y, dy, zero), torch.where(inner_y, gy, zero)
    px = torch.stack([x.to(dx.dtype) + dx, y.to(dy.dtype) + dy], dim=-1)
    uv = torch.stack([heatmap_px_to_norm(px[..., 0], w), heatmap_px_to_norm(px[..., 1], h)], -1)
    height = torch.maximum(peak.clamp_min(0) * torch.exp(gx + gy), peak)
    return uv, height.clamp(0.0, 1.0)
