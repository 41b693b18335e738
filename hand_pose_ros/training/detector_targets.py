"""Targets and loss of the hand detector (core/nets/detector.py), from scene labels.

Cell k of the output covers sampled pixels [4k, 4k + 3] (core/detection.py), so a centre at
pixel u lies at cell coordinate (u - 1.5) / 4. Per hand: a Gaussian heat bump (peak exactly 1
at the nearest cell; std ``sigma_mm`` on the hand, in cells at its depth, at least
MIN_SIGMA_CELLS); in the cells where the bump is above one half (and that hand's is the
largest) the side, the sub-cell offset to the centre and its depth are regressed, so the cell
next to the true peak also gives a good centre when it wins.

A hidden hand (synthetic/user_scene.py: the camera sees less than SEEN_FRACTION of it) gets
no bump: the cells where its bump would exceed IGNORE_ABOVE, outside every seen hand's bump,
teach neither "hand" nor "nothing here" (the camera may see a fingertip or none of it).

Heat: the penalty-reduced focal loss of CenterNet (Zhou et al. 2019: alpha 2, beta 4) divided
by the number of seen hands (at least 1), so hand-free frames teach "nothing here" without
vanishing. Side: binary cross-entropy; offset and depth: L1 (offset in cells, depth in the
input's normalised units).
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..core.camera import Intrinsics
from ..core.config import DetectorConfig
from ..core.nets.detector import split

MIN_SIGMA_CELLS = 0.8
REGRESS_AT = 0.5  # regression cells: heat target above this
IGNORE_ABOVE = 0.1  # a hidden hand's cells: its bump above this, every seen hand's below


def detector_targets(center_uvd: torch.Tensor, present: torch.Tensor, left: torch.Tensor,
                     intr: Intrinsics, shape: Tuple[int, int], cfg: DetectorConfig,
                     hidden: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Target maps (B, h, w) for hands at ``center_uvd`` (B, K, 3) sampled px / mm, ``present``
    (the hands to find) and ``left`` (B, K) bool; ``hidden`` (B, K) bool: hands there but
    hidden, whose cells are ignored; ``shape`` (h, w) of the output grid."""
    b, k, _ = center_uvd.shape
    h, w = shape
    dev = center_uvd.device
    cell = float(cfg.cell_px)
    cu = (center_uvd[..., 0] - (cell - 1) / 2) / cell                  # (B, K) cells
    cv = (center_uvd[..., 1] - (cell - 1) / 2) / cell
    z = center_uvd[..., 2].clamp_min(1.0)
    sigma = (cfg.sigma_mm * intr.fx / z / cell).clamp_min(MIN_SIGMA_CELLS)
    jj = torch.arange(w, device=dev, dtype=torch.float32)
    ii = torch.arange(h, device=dev, dtype=torch.float32)
    d2 = ((jj[None, None, None, :] - cu.round()[..., None, None]) ** 2
          + (ii[None, None, :, None] - cv.round()[..., None, None]) ** 2)   # (B, K, h, w)
    bump = torch.exp(-d2 / (2 * sigma[..., None, None] ** 2))
    zero = torch.zeros_like(bump)
    hidden_heat = (torch.where(hidden[..., None, None], bump, zero).amax(1) if hidden is not None
                   else zero[:, 0])
    bump = torch.where(present[..., None, None], bump, zero)
    heat, owner = bump.max(1)                                           # (B, h, w)
    ignore = (hidden_heat > IGNORE_ABOVE) & (heat <= IGNORE_ABOVE)
    pick = owner[:, None]
    side = torch.gather(left.float()[..., None, None].expand(b, k, h, w), 1, pick)[:, 0]
    du = torch.gather((cu[..., None, None] - jj[None, None, None, :]).expand(b, k, h, w), 1,
                      pick)[:, 0]
    dv = torch.gather((cv[..., None, None] - ii[None, None, :, None]).expand(b, k, h, w), 1,
                      pick)[:, 0]
    depth = torch.gather((center_uvd[..., 2] / cfg.depth_scale_mm - 1.0)[..., None, None]
                         .expand(b, k, h, w), 1, pick)[:, 0]
    return {'heat': heat, 'side': side, 'offset': torch.stack([du, dv], 1), 'depth': depth,
            'regress': heat > REGRESS_AT, 'hands': present.sum(1), 'ignore': ignore}


def detector_loss(maps: torch.Tensor, target: Dict[str, torch.Tensor],
                  side_weight: float = 1.0) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Total loss and its parts (heat, side, offset, depth) of raw maps (B, 5, h, w); the
    left/right term weighs ``side_weight``."""
    out = split(maps.float())
    t = target['heat']
    p = torch.sigmoid(out.heat).clamp(1e-4, 1 - 1e-4)
    pos = t >= 1.0 - 1e-6
    pos_loss = -((1 - p) ** 2) * torch.log(p)
    neg_loss = -((1 - t) ** 4) * (p ** 2) * torch.log(1 - p)
    cell_loss = torch.where(pos, pos_loss, neg_loss)
    if 'ignore' in target:
        cell_loss = torch.where(target['ignore'], torch.zeros_like(cell_loss), cell_loss)
    heat = (cell_loss.flatten(1).sum(1)
            / target['hands'].clamp_min(1).float()).mean()
    reg = target['regress']
    n_reg = reg.sum().clamp_min(1).float()
    side = (F.binary_cross_entropy_with_logits(out.side, target['side'], reduction='none')
            * reg).sum() / n_reg
    offset = ((out.offset - target['offset']).abs().sum(1) * reg).sum() / n_reg
    depth = ((out.depth - target['depth']).abs() * reg).sum() / n_reg
    total = heat + side_weight * side + offset + 10.0 * depth
    return total, {'heat': heat, 'side': side, 'offset': offset, 'depth': depth}
