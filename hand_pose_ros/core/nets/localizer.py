"""The hand-location CNN: a crop around the centre of mass -> the hand centre in that crop.

It predicts the normalised crop coordinates (u_n, v_n, d_n) of the hand centre (the centre of
the joints' 3D bounding box), so the same ``CropTransform`` that maps joints back maps it to
image uvd; the offset from the centre of mass in mm follows from the cube size.
"""
import torch
from torch import nn

from .blocks import ConvNormAct, SEResBlock
from ..config import LocalizerConfig


class Localizer(nn.Module):
    """Stem (S -> S/2), four strided SE blocks (-> S/32), global pooling, linear -> 3."""

    def __init__(self, config: LocalizerConfig) -> None:
        super().__init__()
        self.config = config
        w, r = config.width, config.rd_ratio
        self.features = nn.Sequential(
            ConvNormAct(1, w, 7, stride=2),
            SEResBlock(w, 2 * w, stride=2, rd_ratio=r),
            SEResBlock(2 * w, 4 * w, stride=2, rd_ratio=r),
            SEResBlock(4 * w, 8 * w, stride=2, rd_ratio=r),
            SEResBlock(8 * w, 8 * w, stride=2, rd_ratio=r))
        self.fc = nn.Linear(8 * w, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) normalised crops -> (B, 3) normalised hand centre in the crop."""
        s = self.config.input_size
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != s or x.shape[3] != s:
            raise ValueError(f'Localizer expects (B, 1, {s}, {s}) crops, found {tuple(x.shape)}')
        return self.fc(self.features(x).mean((2, 3)))


def build_localizer(config: LocalizerConfig) -> Localizer:
    """A randomly initialised Localizer for ``config``."""
    return Localizer(config)
