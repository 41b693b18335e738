"""Pinhole intrinsics and uvd <-> xyz conversions (numpy and torch, batched).

Conventions: (u, v) are pixel coordinates in the full sensor image with pixel centres at
integers; d and x, y, z are millimetres in the camera optical frame (x right, y down,
z forward), so x = (u - cx) * d / fx, y = (v - cy) * d / fy, z = d.
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Tuple, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera: focal lengths and principal point in pixels, image size in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ('fx', 'fy'):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f'Intrinsics.{name} must be a positive finite number of '
                                 f'pixels, found {value!r}')
        for name in ('cx', 'cy'):
            if not np.isfinite(getattr(self, name)):
                value = getattr(self, name)
                raise ValueError(f'Intrinsics.{name} must be finite, found {value!r}')
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'image size must be positive, found {self.width}x{self.height}')

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'Intrinsics':
        """Build from a mapping with exactly the keys fx, fy, cx, cy, width, height."""
        expected = {'fx', 'fy', 'cx', 'cy', 'width', 'height'}
        if set(data) != expected:
            raise ValueError(f'intrinsics need keys {sorted(expected)}, found {sorted(data)}')
        return cls(float(data['fx']), float(data['fy']), float(data['cx']), float(data['cy']),
                   int(data['width']), int(data['height']))

    def to_dict(self) -> Dict[str, Any]:
        """Plain mapping (YAML/JSON friendly)."""
        return asdict(self)

    def scaled(self, factor: float) -> 'Intrinsics':
        """Intrinsics of the same camera with the image resized by ``factor``."""
        return Intrinsics(self.fx * factor, self.fy * factor, (self.cx + 0.5) * factor - 0.5,
                          (self.cy + 0.5) * factor - 0.5, round(self.width * factor),
                          round(self.height * factor))

    def mirrored(self) -> 'Intrinsics':
        """Intrinsics of the horizontally flipped image (u -> width - 1 - u)."""
        return Intrinsics(self.fx, self.fy, self.width - 1 - self.cx, self.cy, self.width,
                          self.height)


def published_intrinsics(fx: float, fy: float, cx: float, cy: float, width: int, height: int,
                         binning_x: int = 0, binning_y: int = 0,
                         roi: Tuple[int, int, int, int] = (0, 0, 0, 0)) -> Intrinsics:
    """A calibration of the whole sensor (``width`` x ``height`` px) as the image a camera
    publishes: cut to ``roi`` (x_offset, y_offset, width, height px; a zero size: the whole
    sensor) and binned by ``binning_x`` / ``binning_y`` (0 or 1: none), as ROS CameraInfo
    defines them and image_geometry applies them. ValueError for an invalid result."""
    bx, by = max(1, int(binning_x)), max(1, int(binning_y))
    x0, y0, w, h = (int(v) for v in roi)
    if not (w and h):
        x0, y0, w, h = 0, 0, int(width), int(height)
    return Intrinsics(fx / bx, fy / by, (cx - x0) / bx, (cy - y0) / by, w // bx, h // by)


def _stack(parts, like: Array) -> Array:
    """Stack the last axis in the array library of ``like``."""
    if isinstance(like, torch.Tensor):
        return torch.stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def unmirror(depth: np.ndarray) -> np.ndarray:
    """(H, W) depth of a left-right mirrored image (a selfie-style camera setting, an image
    flip upstream) flipped back to what the sensor saw, a copy: the camera's own calibration
    applies again, and a right hand is a right hand with its joints in the camera's true
    optical frame (x right, y down, z forward)."""
    return np.ascontiguousarray(depth[:, ::-1])


def uvd_to_xyz(uvd: Array, intr: Intrinsics) -> Array:
    """(..., 3) pixels + depth mm -> (..., 3) camera-frame mm (numpy or torch)."""
    u, v, d = uvd[..., 0], uvd[..., 1], uvd[..., 2]
    return _stack([(u - intr.cx) * d / intr.fx, (v - intr.cy) * d / intr.fy, d], uvd)


def xyz_to_uvd(xyz: Array, intr: Intrinsics) -> Array:
    """(..., 3) camera-frame mm -> (..., 3) pixels + depth mm (numpy or torch); z must be > 0."""
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    return _stack([x * intr.fx / z + intr.cx, y * intr.fy / z + intr.cy, z], xyz)
