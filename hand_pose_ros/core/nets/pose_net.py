"""The two-task hand pose network and its three baselines, one class selected by config.

Input: (B, 1, S, S) normalised depth crops (core/crop.py). A shallow stem gives (B, C, S/2, S/2)
features; stacked hourglasses give J heatmaps per stack (u, v); a depth-regression branch gives
J normalised depths. Variants (the paper's self-comparison) differ only in what the depth
branch reads:

- ``attention`` (the paper): shallow features x a spatial-attention mask made from the
  hourglass output (``config.attention_mask``, see below);
- ``direct``: the last hourglass features themselves;
- ``two_branch``: the raw shallow features;
- ``plain``: one task, no heatmaps: the trunk's features regress all J x 3 coordinates.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from .blocks import ConvNormAct, SEResBlock
from .hourglass import StackedHourglass
from ..config import ModelConfig
from ..heatmaps import decode_heatmaps


@dataclass
class PoseOutput:
    """What the network predicts; fields a variant does not produce are None."""

    heatmaps: Optional[torch.Tensor]   # (B, stacks, J, H, W); None for 'plain'
    depths: torch.Tensor               # (B, J) normalised depth in [-1, 1]
    uv: Optional[torch.Tensor]         # (B, J, 2) normalised (u, v); only 'plain' regresses it
    attention: Optional[torch.Tensor]  # (B, C or 1, H, W) mask in [0, 1]; only 'attention'


DepthInput = Callable[[torch.Tensor, torch.Tensor], Tuple[torch.Tensor, Optional[torch.Tensor]]]
MaskFn = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]
_EPS = 1e-6


def _minmax(x: torch.Tensor) -> torch.Tensor:
    """``x`` (B, C, H, W) scaled per sample and channel to span [0, 1] over the image plane."""
    lo = x.amin(dim=(-2, -1), keepdim=True)
    hi = x.amax(dim=(-2, -1), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(_EPS)


# The paper (Liu, Huang, Ye, ICIP 2018): "the i-th input feature map of depth regression is
# M_i(x) * F_raw,i(x) ... M_i(x) is obtained by normalizing the output feature maps of 2D joints
# detection modules". It does not say which normalisation, nor whether "output feature maps"
# are the hourglass's C feature maps (one mask per shallow channel i, which the index i
# suggests) or its J heatmaps (fewer than the C shallow channels). The choices, by name:
# - 'sigmoid' (the models shipped so far): sigmoid of the last hourglass's C post-ReLU feature
#   maps. Post-ReLU features are >= 0, so the mask lies in [0.5, 1): it can at most halve a
#   feature and never switches the background off.
# - 'channel_minmax': each of the C feature maps scaled to span [0, 1] over the image (its
#   minimum -> 0, its maximum -> 1): M_i normalises feature map i, as the sentence reads.
# - 'heatmap_minmax': the J joint heatmaps' per-pixel maximum scaled to span [0, 1], one mask
#   for every channel: "output of the 2D joints detection module" read as its heatmaps, high
#   where any joint is and 0 far from the hand.
ATTENTION_MASK_FNS: Dict[str, MaskFn] = {
    'sigmoid': lambda hg, heatmaps: torch.sigmoid(hg),
    'channel_minmax': lambda hg, heatmaps: _minmax(hg),
    'heatmap_minmax': lambda hg, heatmaps: _minmax(heatmaps[:, -1].amax(dim=1, keepdim=True)),
}


def _depth_inputs(variant: str, mask_name: str):
    """What the depth branch reads for ``variant``: f(shallow, hg, heatmaps) -> (features,
    attention mask or None)."""
    if variant == 'attention':
        mask_fn = ATTENTION_MASK_FNS[mask_name]

        def attend(shallow, hg, heatmaps):
            mask = mask_fn(hg, heatmaps)                                    # (B, C|1, H, W)
            return shallow * mask, mask
        return attend
    if variant == 'two_branch':
        return lambda shallow, hg, heatmaps: (shallow, None)
    return lambda shallow, hg, heatmaps: (hg, None)                         # direct, plain


class RegressionHead(nn.Module):
    """(B, C, H, W) features -> (B, outputs): strided SE blocks down to 4x4, then linear."""

    def __init__(
            self,
            channels: int,
            in_size: int,
            outputs: int,
            rd_ratio: float = 1 / 16,
    ) -> None:
        super().__init__()
        blocks, size = [], in_size
        while size > 4:
            blocks.append(SEResBlock(channels, channels, stride=2, rd_ratio=rd_ratio))
            size //= 2
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels * size * size, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.blocks(x).flatten(1))


class PoseNet(nn.Module):
    """Stem -> stacked hourglasses (heatmaps) + depth branch; see the module docstring."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c, j = config.width, config.num_joints
        plain = config.variant == 'plain'
        self.stem = nn.Sequential(                                           # S -> S/2
            ConvNormAct(1, c // 2, 7, stride=2),
            SEResBlock(c // 2, c, rd_ratio=config.rd_ratio),
            SEResBlock(c, c, rd_ratio=config.rd_ratio))
        self.trunk = StackedHourglass(config.stacks, c, 0 if plain else j,
                                      config.hourglass_depth, config.rd_ratio)
        self.depth_input = _depth_inputs(config.variant, config.attention_mask)
        self.head = RegressionHead(c, config.heatmap_size, 3 * j if plain else j, config.rd_ratio)

    def forward(self, x: torch.Tensor) -> PoseOutput:
        """(B, 1, S, S) normalised crops -> PoseOutput."""
        s = self.config.input_size
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != s or x.shape[3] != s:
            raise ValueError(f'PoseNet expects (B, 1, {s}, {s}) crops, found {tuple(x.shape)}')
        shallow = self.stem(x)                                               # (B, C, H, W)
        heatmaps, hg = self.trunk(shallow)
        feats, mask = self.depth_input(shallow, hg, heatmaps)
        out = self.head(feats)
        if heatmaps is None:                                                 # plain
            nuvd = out.view(-1, self.config.num_joints, 3)
            return PoseOutput(None, nuvd[..., 2], nuvd[..., :2], None)
        return PoseOutput(heatmaps, out, None, mask)

    @staticmethod
    def joints(out: PoseOutput) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised (B, J, 3) joints and (B, J) confidence from a PoseOutput."""
        if out.heatmaps is None:
            uv, conf = out.uv, torch.ones_like(out.depths)
        else:
            uv, conf = decode_heatmaps(out.heatmaps[:, -1])
        return torch.cat([uv.float(), out.depths.float()[..., None]], dim=-1), conf


def build_pose_net(config: ModelConfig) -> PoseNet:
    """A randomly initialised PoseNet for ``config``."""
    return PoseNet(config)
