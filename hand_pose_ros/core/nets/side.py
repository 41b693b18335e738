"""The left/right hand classifier: a cube crop around one hand -> the logit of "left hand".

Whether a hand is a left or a right one (core/handedness.py) shows in details the whole-frame
detector sees with a few pixels per finger: which side of the palm the thumb is on *and*
whether the palm or the back faces the camera (the fingers curl towards the palm). This net
looks at the hand at the pose network's resolution instead: the same crop (cube around the
localized centre, never mirrored), four strided SE residual stages, global pooling, one logit.
Chirality does not change under in-plane rotation but flips under mirroring, so it is trained
on every crop and its mirror image with the opposite label.
"""
import torch
from torch import nn

from .blocks import ConvNormAct, SEResBlock
from ..config import SideConfig


class SideClassifier(nn.Module):
    """Stem (S -> S/2), three strided SE blocks (-> S/16), global pooling, linear -> 1."""

    def __init__(self, config: SideConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.features = nn.Sequential(
            ConvNormAct(1, w, 5, stride=2),
            SEResBlock(w, 2 * w, stride=2),
            SEResBlock(2 * w, 4 * w, stride=2),
            SEResBlock(4 * w, 4 * w, stride=2))
        self.fc = nn.Linear(4 * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) normalised crops -> (B,) logits of "left hand"."""
        s = self.config.input_size
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != s or x.shape[3] != s:
            raise ValueError(f'SideClassifier expects (B, 1, {s}, {s}) crops, found '
                             f'{tuple(x.shape)}')
        return self.fc(self.features(x).mean((2, 3)))[:, 0]
