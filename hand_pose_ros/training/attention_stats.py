"""Where a trained attention network's mask is open: on the hand or on the background.

The paper's spatial-attention mask (core/nets/pose_net.py, ``attention_mask``) should be near 1
on the hand and near 0 elsewhere. This renders held-out synthetic hands (a seed never used in
training), crops them at their true centre as the network was trained, and reports the mask
(mean over its channels) on hand pixels (depth inside the crop cube) and on the rest: means,
the background's 95th percentile and the lowest per-frame maximum on the hand.

    python -m hand_pose_ros.training.attention_stats MODEL.pt [MODEL.pt ...] [--frames 32]
"""
import argparse
from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn.functional as F

from ..core.checkpoint import load_pose_model
from ..core.crop import crop_cube, hand_center_uvd
from ..core.specs import dataset_spec

STATS_SEED = 9_200_000


@dataclass(frozen=True)
class MaskStats:
    """The mask (mean over its channels) on hand pixels and on the other pixels of the crops."""

    on_hand: float          # mean on hand pixels
    on_background: float    # mean on the other pixels
    hand_share: float       # share of the crop's pixels that are hand
    background_p95: float   # 95th percentile on the other pixels: near 0 when it closes there
    hand_peak_min: float    # the lowest, over the frames, of the mask's maximum on the hand


@torch.inference_mode()
def attention_stats(path: str, frames: int = 32) -> Optional[MaskStats]:
    """MaskStats of the pose checkpoint at ``path`` on ``frames`` rendered hands of its own
    side (ICVL intrinsics), or None when its variant has no attention mask."""
    from ..synthetic.generator import SyntheticGenerator
    net, cfg, _ = load_pose_model(path)
    net.float().eval()
    intr = dataset_spec('icvl').intrinsics
    gen = SyntheticGenerator(intr, joint_set=cfg.joint_set, seed=STATS_SEED,
                             handedness=cfg.handedness)
    batch = gen.sample(frames)
    centre = hand_center_uvd(batch.uvd.double(), intr, cfg.joint_set).float()
    patch, _ = crop_cube(batch.depth_mm, centre, intr, cfg.cube_mm, cfg.input_size)
    mask = net(patch).attention
    if mask is None:
        return None
    mask = mask.float().mean(1)                                       # (B, H, W)
    scale = cfg.input_size // mask.shape[-1]
    hand = F.avg_pool2d(patch, scale)[:, 0] < 0.99       # depth inside the cube (1 = beyond)
    peaks = torch.where(hand, mask, torch.zeros_like(mask)).flatten(1).amax(1)
    return MaskStats(float(mask[hand].mean()), float(mask[~hand].mean()),
                     float(hand.float().mean()), float(torch.quantile(mask[~hand], 0.95)),
                     float(peaks.min()))


def main(argv: Optional[List[str]] = None) -> int:
    """Print one line per model (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('models', nargs='+')
    parser.add_argument('--frames', type=int, default=32)
    args = parser.parse_args(argv)
    for path in args.models:
        stats = attention_stats(path, args.frames)
        if stats is None:
            print(f'{path}: no attention mask (not the attention variant)')
        else:
            print(f'{path}: mask {stats.on_hand:.3f} on the hand, {stats.on_background:.3f} '
                  f'elsewhere (95th percentile {stats.background_p95:.3f}; its maximum on each '
                  f'hand >= {stats.hand_peak_min:.3f}; hand {100 * stats.hand_share:.0f} % of '
                  'the crop)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
