"""The left/right hand classifier: a cube crop around one hand -> the logit of "left hand".

Whether a hand is a left or a right one (core/handedness.py) shows in details the whole-frame
detector sees with a few pixels per finger: which side of the palm the thumb is on *and*
whether the palm or the back faces the camera (the fingers curl towards the palm). This net
looks at the hand at the pose network's resolution instead: the same crop (cube around the
localized centre, never mirrored), four strided SE residual stages, global pooling, one logit.
Chirality does not change under in-plane rotation but flips under mirroring, so it is trained
on every crop and its mirror image with the opposite label.

With ``context_cube_mm`` a second channel shows a wider cube around the same centre at the
same pixel size: the forearm, and the shoulder and body it joins (which side of the user the
arm comes from), where the hand alone is ambiguous (seen edge-on, in a fist).
"""
from typing import Optional

import torch
from torch import nn

from .blocks import ConvNormAct, SEResBlock
from ..camera import Intrinsics
from ..config import SideConfig
from ..crop import crop_cube


def side_input(depth_mm: torch.Tensor, center_uvd: torch.Tensor, intr: Intrinsics,
               config: SideConfig, rotation_rad: Optional[torch.Tensor] = None
               ) -> torch.Tensor:
    """(B, C, S, S) classifier input of frames ``depth_mm`` (B, H, W) mm around hand centres
    ``center_uvd`` (B, 3: px, px, mm): the hand's cube, then the context cube (if any), both
    normalised by their own cube and turned by ``rotation_rad`` (B,) (never mirrored)."""
    patch, _ = crop_cube(depth_mm, center_uvd, intr, config.cube_mm, config.input_size,
                         rotation_rad=rotation_rad)
    if config.context_cube_mm <= 0:
        return patch
    wide, _ = crop_cube(depth_mm, center_uvd, intr, config.context_cube_mm, config.input_size,
                        rotation_rad=rotation_rad)
    return torch.cat([patch, wide], 1)


class SideClassifier(nn.Module):
    """Stem (S -> S/2), three strided SE blocks (-> S/16), global pooling, linear -> 1."""

    def __init__(self, config: SideConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.features = nn.Sequential(
            ConvNormAct(config.channels, w, 5, stride=2),
            SEResBlock(w, 2 * w, stride=2),
            SEResBlock(2 * w, 4 * w, stride=2),
            SEResBlock(4 * w, 4 * w, stride=2))
        self.fc = nn.Linear(4 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) normalised crops (side_input) -> (B,) logits of "left hand"."""
        s, c = self.config.input_size, self.config.channels
        if x.ndim != 4 or x.shape[1] != c or x.shape[2] != s or x.shape[3] != s:
            raise ValueError(f'SideClassifier expects (B, {c}, {s}, {s}) crops, found '
                             f'{tuple(x.shape)}')
        return self.fc(self.features(x).mean((2, 3)))[:, 0]
