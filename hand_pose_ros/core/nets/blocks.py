"""Squeeze-and-excitation residual blocks (SE-Nets, Hu et al., arXiv 1709.01507).

Differences from the paper's SE-ResNet: basic blocks (two 3x3 convolutions, as in the
two-task hand network) rather than bottlenecks; the SE gate sits after the second
normalisation, before the residual sum.
"""
from typing import Optional, Type

import torch
from torch import nn


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round a channel count to a multiple of ``divisor`` (never below 90% of ``value``)."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvNormAct(nn.Sequential):
    """Convolution, normalisation, activation (the activation may be omitted)."""

    def __init__(
            self,
            in_channels: int,
            out_channels: int,
            kernel_size: int = 3,
            stride: int = 1,
            norm_layer: Type[nn.Module] = nn.BatchNorm2d,
            act_layer: Optional[Type[nn.Module]] = nn.ReLU,
    ) -> None:
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                            padding=kernel_size // 2, bias=False), norm_layer(out_channels)]
        if act_layer is not None:
            layers.append(act_layer(inplace=True))
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel attention: global pool -> reduce -> expand -> sigmoid gate."""

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            act_layer: Type[nn.Module] = nn.ReLU,
            gate_layer: Type[nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        rd_channels = rd_channels or make_divisible(channels * rd_ratio, 4, 4)
        self.fc1 = nn.Conv2d(channels, rd_channels, 1, bias=True)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd_channels, channels, 1, bias=True)
        self.gate = gate_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_se = x.mean((2, 3), keepdim=True)                                 # (B, C, 1, 1)
        x_se = self.fc2(self.act(self.fc1(x_se)))
        return x * self.gate(x_se)


class SEResBlock(nn.Module):
    """Residual block: two 3x3 convolutions and one SE gate; projection when shapes change."""

    def __init__(
            self,
            in_channels: int,
            out_channels: int,
            stride: int = 1,
            rd_ratio: float = 1 / 16,
            norm_layer: Type[nn.Module] = nn.BatchNorm2d,
            act_layer: Type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv1 = ConvNormAct(in_channels, out_channels, 3, stride, norm_layer, act_layer)
        self.conv2 = ConvNormAct(out_channels, out_channels, 3, 1, norm_layer, act_layer=None)
        self.se = SqueezeExcite(out_channels, rd_ratio=rd_ratio, act_layer=act_layer)
        self.shortcut = (nn.Identity() if stride == 1 and in_channels == out_channels else
                         ConvNormAct(in_channels, out_channels, 1, stride, norm_layer, None))
        self.act = act_layer(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.se(self.conv2(self.conv1(x))) + self.shortcut(x))
