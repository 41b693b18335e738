"""Training losses: sum over stacks and joints of the heatmap L2, plus the depth regression.

All targets are normalised crop coordinates (core/crop.py), so the same decoding serves
inference. Per joint, the heatmap L2 is the squared L2 distance between the predicted and the
target map (a sum over pixels, not a mean: a per-pixel mean makes the heatmap gradient ~1/(H W)
of the depth gradient in the shared trunk, and the heatmaps then barely learn). The depth term
is the squared error of the normalised depth, summed over joints, times ``depth_weight``.
A crop marked ``wrong_side`` shows a hand of the side the network is not trained on: its
heatmap target is flat (zero, no joint of the network's hand is there) and it has no depth term.
``side_pairs`` names (own-side crop, its mirror image) pairs of one batch: a hinge asks each
pair's mean last-stack heatmap peak (the confidence 'auto' handedness compares read as it is and
mirrored) to be at least ``pair_margin`` higher on the own side.
"""
from typing import Dict, Optional, Tuple

import torch

from ..core.heatmaps import gaussian_heatmaps
from ..core.nets.pose_net import PoseOutput


def pose_loss(out: PoseOutput, target_nuvd: torch.Tensor, sigma_px: float,
              depth_weight: float = 1.0, valid: Optional[torch.Tensor] = None,
              wrong_side: Optional[torch.Tensor] = None,
              side_pairs: Optional[torch.Tensor] = None, pair_weight: float = 0.0,
              pair_margin: float = 0.3
              ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Total loss and its parts for (B, J, 3) normalised targets; ``valid`` (B, J) masks joints;
    ``wrong_side`` (B,) bool marks crops of the other side (flat heatmap target, no depth);
    ``side_pairs`` (P, 2) batch indices (own-side crop, its mirror image) add ``pair_weight``
    times side_pair_loss (heatmap networks only)."""
    b, j, _ = target_nuvd.shape
    w = torch.ones(b, j, device=target_nuvd.device) if valid is None else valid.float()
    own = (torch.ones(b, device=target_nuvd.device) if wrong_side is None
           else (~wrong_side.to(target_nuvd.device)).float())
    parts: Dict[str, torch.Tensor] = {}
    if out.heatmaps is None:                                                 # plain regression
        pred = torch.cat([out.uv, out.depths[..., None]], dim=-1).float()
        err = ((pred[..., :2] - target_nuvd[..., :2]) ** 2).sum(-1)
        parts['uv'] = (err * w).sum(1).mean()
    else:
        size = out.heatmaps.shape[-1]
        target = gaussian_heatmaps(target_nuvd[..., :2], size, sigma_px)      # (B, J, H, W)
        target = target * own[:, None, None, None]
        l2 = ((out.heatmaps.float() - target[:, None]) ** 2).sum((-1, -2))    # (B, S, J)
        parts['heatmap'] = (l2 * w[:, None]).sum((1, 2)).mean()
    derr = (out.depths.float() - target_nuvd[..., 2]) ** 2
    parts['depth'] = (derr * w * own[:, None]).sum(1).mean()
    total = parts.get('heatmap', parts.get('uv')) + depth_weight * parts['depth']
    if side_pairs is not None and pair_weight > 0.0 and out.heatmaps is not None:
        parts['side_pair'] = side_pair_loss(out.heatmaps, side_pairs, pair_margin)
        total = total + pair_weight * parts['side_pair']
    return total, parts


def side_pair_loss(heatmaps: torch.Tensor, side_pairs: torch.Tensor, margin: float
                   ) -> torch.Tensor:
    """Mean over (P, 2) (own, mirrored) index pairs of max(0, margin - (c_own - c_mirrored)),
    c = a crop's last-stack heatmap peak (clamped to [0, 1]) averaged over joints; (B, S, J, H,
    W) ``heatmaps``. Zero when no pair is given."""
    if side_pairs.numel() == 0:
        return heatmaps.new_zeros((), dtype=torch.float32)
    peak = heatmaps[:, -1].float().flatten(2).amax(-1).clamp(0.0, 1.0).mean(-1)   # (B,)
    pairs = side_pairs.to(peak.device)
    gap = peak[pairs[:, 0]] - peak[pairs[:, 1]]
    return torch.relu(margin - gap).mean()


def localizer_loss(pred_center: torch.Tensor, target_center: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 between (B, 3) normalised predicted and true hand centres."""
    return torch.nn.functional.smooth_l1_loss(pred_center.float(), target_center, beta=0.05,
                                              reduction='none').sum(1).mean()
