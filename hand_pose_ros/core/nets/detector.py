"""The whole-frame hand detector: a sampled depth frame -> per-cell hand centre maps.

A small fully convolutional encoder-decoder (SE residual blocks, as the other networks): the
encoder goes down to 1/16 of the sampled frame so that a cell sees a torso or a table as a
whole, the decoder comes back to one output cell per 4 sampled pixels with skip connections.
Five maps per cell (CenterNet-style, Zhou et al. 2019, "Objects as Points"):

- ``heat``: logit that a hand centre (the centre of the joints' 3D box) lies in this cell,
- ``side``: logit that the hand there is a left one (core/handedness.py),
- ``offset``: (du, dv) of the centre from the cell centre, in cells,
- ``depth``: the centre's depth, normalised as the input (d / depth_scale_mm - 1).

Decoding (peaks, thresholds, mapping back to the frame) is core/detection.py.
"""
from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from .blocks import ConvNormAct, SEResBlock
from ..config import DetectorConfig

OUTPUT_MAPS = 5
DOWN = 16  # the encoder's total down-sampling: inputs are padded to multiples of it


class DetectorOutput(NamedTuple):
    """Raw maps (B, ., H/4, W/4): heat and side logits, offset (2 channels), depth."""

    heat: torch.Tensor
    side: torch.Tensor
    offset: torch.Tensor
    depth: torch.Tensor


class HandDetector(nn.Module):
    """Encoder to 1/16, decoder back to 1/4 with skips, a 1x1 head of OUTPUT_MAPS maps."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Sequential(ConvNormAct(2, w, 3, stride=2), ConvNormAct(w, w, 3))  # 1/2
        self.down4 = SEResBlock(w, 2 * w, stride=2)                                      # 1/4
        self.down8 = SEResBlock(2 * w, 4 * w, stride=2)                                  # 1/8
        self.down16 = nn.Sequential(SEResBlock(4 * w, 4 * w, stride=2),
                                    SEResBlock(4 * w, 4 * w))                            # 1/16
        self.up8 = SEResBlock(8 * w, 4 * w)
        self.up4 = ConvNormAct(6 * w, 2 * w, 3)
        self.head = nn.Sequential(ConvNormAct(2 * w, 2 * w, 3),
                                  nn.Conv2d(2 * w, OUTPUT_MAPS, 1))
        with torch.no_grad():          # start with few detections (CenterNet's prior 0.1 -> 0.01)
            self.head[-1].bias.zero_()
            self.head[-1].bias[0] = -4.6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) [normalised depth, valid mask], H and W multiples of 16 ->
        (B, OUTPUT_MAPS, H/4, W/4) raw maps (``split`` names them)."""
        if x.ndim != 4 or x.shape[1] != 2 or x.shape[2] % DOWN or x.shape[3] % DOWN:
            raise ValueError(f'HandDetector expects (B, 2, H, W) with H, W multiples of {DOWN}, '
                             f'found {tuple(x.shape)}')
        s4 = self.down4(self.stem(x))
        s8 = self.down8(s4)
        s16 = self.down16(s8)
        u8 = self.up8(torch.cat([s8, F.interpolate(s16, scale_factor=2.0, mode='nearest')], 1))
        u4 = self.up4(torch.cat([s4, F.interpolate(u8, scale_factor=2.0, mode='nearest')], 1))
        return self.head(u4)


def split(maps: torch.Tensor) -> DetectorOutput:
    """Name the channels of the raw (B, OUTPUT_MAPS, h, w) output."""
    return DetectorOutput(maps[:, 0], maps[:, 1], maps[:, 2:4], maps[:, 4])


def build_detector(config: DetectorConfig) -> HandDetector:
    """A randomly initialised HandDetector for ``config``."""
    return HandDetector(config)
