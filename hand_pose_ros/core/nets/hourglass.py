"""Stacked hourglass networks (Newell et al., ECCV 2016) built from SE residual blocks.

A recursive ``Hourglass(depth, channels)``; ``StackedHourglass`` keeps one ModuleList per
stack part (hourglasses, features, heatmap heads, remaps) and returns every stack's heatmaps,
so each stack is supervised.
"""
from typing import List, Optional, Tuple

import torch
from torch import nn
import torch.nn.functional as F

from .blocks import ConvNormAct, SEResBlock


class Hourglass(nn.Module):
    """One hourglass: ``depth`` halvings of the resolution and back, with skip branches."""

    def __init__(
            self,
            depth: int,
            channels: int,
            rd_ratio: float = 1 / 16,
    ) -> None:
        super().__init__()
        self.skip = SEResBlock(channels, channels, rd_ratio=rd_ratio)
        self.down = SEResBlock(channels, channels, rd_ratio=rd_ratio)
        self.inner = (Hourglass(depth - 1, channels, rd_ratio) if depth > 1
                      else SEResBlock(channels, channels, rd_ratio=rd_ratio))
        self.up = SEResBlock(channels, channels, rd_ratio=rd_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.up(self.inner(self.down(F.max_pool2d(x, 2))))          # (B, C, H/2, W/2)
        return self.skip(x) + F.interpolate(low, scale_factor=2.0, mode='nearest')


class StackedHourglass(nn.Module):
    """``stacks`` hourglasses; each predicts ``num_heatmaps`` maps and remaps them for the next.

    With ``num_heatmaps = 0`` no heatmap heads are built (one-task regression trunk).
    """

    def __init__(
            self,
            stacks: int,
            channels: int,
            num_heatmaps: int,
            depth: int = 4,
            rd_ratio: float = 1 / 16,
    ) -> None:
        super().__init__()
        self.stacks = stacks
        self.hgs = nn.ModuleList(Hourglass(depth, channels, rd_ratio) for _ in range(stacks))
        self.features = nn.ModuleList(
            nn.Sequential(SEResBlock(channels, channels, rd_ratio=rd_ratio),
                          ConvNormAct(channels, channels, 1)) for _ in range(stacks))
        self.outs = nn.ModuleList(
            nn.Conv2d(channels, num_heatmaps, 1) for _ in range(stacks if num_heatmaps else 0))
        self.merge_features = nn.ModuleList(
            nn.Conv2d(channels, channels, 1) for _ in range(stacks - 1))
        self.merge_preds = nn.ModuleList(
            nn.Conv2d(num_heatmaps, channels, 1)
            for _ in range(stacks - 1 if num_heatmaps else 0))

    def forward(self, x: torch.Tensor) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """(B, C, H, W) -> heatmaps (B, stacks, K, H, W) or None, last features (B, C, H, W)."""
        preds: List[torch.Tensor] = []
        feat = x
        for i in range(self.stacks):
            feat = self.features[i](self.hgs[i](x))
            if self.outs:
                preds.append(self.outs[i](feat))
            if i < self.stacks - 1:
                x = x + self.merge_features[i](feat)
                if self.merge_preds:
                    x = x + self.merge_preds[i](preds[-1])
        return (torch.stack(preds, dim=1) if preds else None), feat
