"""Lens distortion of a depth camera and resampling a raw (distorted) depth image onto the
pinhole grid the rest of the package assumes.

The models are those of sensor_msgs/CameraInfo (and OpenCV), applied to the normalised
coordinates (x, y) = (X / Z, Y / Z) of a point in the camera's optical frame; (xd, yd) is
where the lens puts it, and the raw pixel is (fx xd + cx, fy yd + cy):

- ``plumb_bob`` (k1, k2, p1, p2, k3), Brown-Conrady: xd = x R + 2 p1 x y + p2 (r^2 + 2 x^2),
  yd = y R + p1 (r^2 + 2 y^2) + 2 p2 x y, R = 1 + k1 r^2 + k2 r^4 + k3 r^6;
- ``rational_polynomial`` (k1, k2, p1, p2, k3, k4, k5, k6): the same with
  R = (1 + k1 r^2 + k2 r^4 + k3 r^6) / (1 + k4 r^2 + k5 r^4 + k6 r^6) (the Azure Kinect
  driver's depth camera);
- ``equidistant`` (k1, k2, k3, k4), fisheye: theta = atan(r),
  theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8), (xd, yd) =
  (x, y) theta_d / r.

A depth image holds Z along the optical axis (REP 118), which the lens does not change, so a
pixel of the rectified image takes the value of the raw pixel its ray lands on: the nearest
one, never a blend of two (that would invent depth between a hand and the wall behind it).
Rays past the radius where a model stops growing (a calibration is only valid inside the
field of view it was fitted on), or landing outside the raw image, get 0 (missing).
"""
from dataclasses import dataclass, replace
import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .camera import Intrinsics
from .detection import sampled_intrinsics

# model -> accepted numbers of coefficients (fewer than the full set: the rest are 0)
MODELS: Dict[str, Tuple[int, ...]] = {
    'plumb_bob': (4, 5),
    'rational_polynomial': (5, 8),
    'equidistant': (4,),
}


@dataclass(frozen=True)
class LensDistortion:
    """A distortion model of ``MODELS`` and its coefficients (dimensionless, as in ROS ``D``)."""

    model: str
    coefficients: Tuple[float, ...]

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f'distortion model must be one of {sorted(MODELS)}, found '
                             f'{self.model!r}')
        if len(self.coefficients) not in MODELS[self.model]:
            raise ValueError(f'{self.model} takes {" or ".join(map(str, MODELS[self.model]))} '
                             f'coefficients, found {len(self.coefficients)}')
        if not all(math.isfinite(c) for c in self.coefficients):
            raise ValueError(f'distortion coefficients must be finite, found '
                             f'{list(self.coefficients)}')

    def padded(self) -> Tuple[float, ...]:
        """The coefficients with the missing trailing ones as 0 (full length of the model)."""
        full = max(MODELS[self.model])
        return tuple(self.coefficients) + (0.0,) * (full - len(self.coefficients))


def lens_distortion(model: str, coefficients: Sequence[float]) -> Optional[LensDistortion]:
    """The distortion a CameraInfo's ``distortion_model`` and ``D`` describe, or None when
    there is none (no coefficients, or all 0, whatever the model name); raises ValueError for
    an unknown model or a wrong number of coefficients."""
    values = tuple(float(c) for c in coefficients)
    return LensDistortion(model, values) if is_distorted(values) else None


def is_distorted(coefficients: Sequence[float]) -> bool:
    """Whether distortion coefficients (ROS ``D``) describe any distortion (one is not 0)."""
    return any(float(c) != 0.0 for c in coefficients)


def distort(x: np.ndarray, y: np.ndarray,
            lens: LensDistortion) -> Tuple[np.ndarray, np.ndarray]:
    """Normalised pinhole coordinates -> where the lens puts them (normalised, same shape)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    r2 = x * x + y * y
    c = lens.padded()
    if lens.model == 'equidistant':
        r = np.sqrt(r2)
        theta = np.arctan(r)
        t2 = theta * theta
        theta_d = theta * (1 + t2 * (c[0] + t2 * (c[1] + t2 * (c[2] + t2 * c[3]))))
        scale = np.where(r > 1e-12, theta_d / np.maximum(r, 1e-12), 1.0)
        return x * scale, y * scale
    k1, k2, p1, p2, k3 = c[:5]
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    if lens.model == 'rational_polynomial':
        k4, k5, k6 = c[5:8]
        radial = radial / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd, yd


def valid_radius(lens: LensDistortion, r_max: float, samples: int = 4096) -> float:
    """Largest normalised radius up to ``r_max`` over which the distorted radius keeps growing
    (tangential terms left out): rays beyond it fold back onto the image and are not used."""
    r = np.linspace(0.0, r_max, samples)
    xd, _ = distort(r, np.zeros_like(r), replace(lens, coefficients=_radial_only(lens)))
    falling = np.nonzero(np.diff(xd) <= 0)[0]
    return float(r[falling[0]]) if falling.size else float(r_max)


def _radial_only(lens: LensDistortion) -> Tuple[float, ...]:
    """The coefficients with the tangential ones (p1, p2) set to 0."""
    c = list(lens.coefficients)
    if lens.model != 'equidistant':
        c[2:4] = [0.0, 0.0]
    return tuple(c)


@dataclass(frozen=True)
class RectifyMap:
    """Where each pixel of the rectified (and decimated) image comes from in the raw image."""

    rows: np.ndarray          # (H', W') int raw row of each output pixel (0 where none)
    cols: np.ndarray          # (H', W') int raw column
    missing: np.ndarray       # (H', W') bool: no raw pixel (outside the image or the model)
    intrinsics: Intrinsics    # of the output image (the raw K, decimated by ``stride``)
    raw_shape: Tuple[int, int]  # (height, width) of the raw image it reads


def rectify_map(intr: Intrinsics, lens: LensDistortion, stride: int = 1) -> RectifyMap:
    """The nearest-pixel map from a raw image of pinhole matrix ``intr`` (ROS ``K``) through
    ``lens`` to its rectified image with the same matrix, keeping every ``stride``-th pixel
    (odd; the centre pixel of each block, as decimation does)."""
    if stride < 1 or stride % 2 == 0:
        raise ValueError(f'stride must be a positive odd number, found {stride}')
    u = np.arange(stride // 2, intr.width, stride, dtype=np.float64)
    v = np.arange(stride // 2, intr.height, stride, dtype=np.float64)
    x = ((u - intr.cx) / intr.fx)[None, :]
    y = ((v - intr.cy) / intr.fy)[:, None]
    x, y = np.broadcast_arrays(x, y)
    r = np.sqrt(x * x + y * y)
    xd, yd = distort(x, y, lens)
    cols = np.rint(xd * intr.fx + intr.cx)
    rows = np.rint(yd * intr.fy + intr.cy)
    missing = ((r > valid_radius(lens, float(r.max()) + 1e-9)) | ~np.isfinite(cols)
               | ~np.isfinite(rows) | (cols < 0) | (cols > intr.width - 1) | (rows < 0)
               | (rows > intr.height - 1))
    cols = np.where(missing, 0, cols).astype(np.intp)
    rows = np.where(missing, 0, rows).astype(np.intp)
    return RectifyMap(rows, cols, missing, sampled_intrinsics(intr, stride),
                      (intr.height, intr.width))


def apply_rectify_map(raw: np.ndarray, rmap: RectifyMap) -> np.ndarray:
    """The rectified image (a new array of ``raw``'s dtype; 0 where no raw pixel maps)."""
    if raw.shape != rmap.raw_shape:
        raise ValueError(f'the map reads a {rmap.raw_shape[1]}x{rmap.raw_shape[0]} image, '
                         f'found one of shape {raw.shape}')
    out = raw[rmap.rows, rmap.cols]
    out[rmap.missing] = 0
    return out


class DepthRectifier:
    """Rectifies raw depth images, keeping the map of the last camera (built on a change)."""

    def __init__(self) -> None:
        self._key: Optional[Tuple[Intrinsics, LensDistortion, int]] = None
        self._map: Optional[RectifyMap] = None

    def map_for(self, intr: Intrinsics, lens: LensDistortion, stride: int = 1) -> RectifyMap:
        """The map of this camera and stride (cached while they stay the same)."""
        key = (intr, lens, stride)
        if key != self._key or self._map is None:
            self._map, self._key = rectify_map(intr, lens, stride), key
        return self._map

    def rectify(self, raw: np.ndarray, intr: Intrinsics, lens: LensDistortion,
                stride: int = 1) -> Tuple[np.ndarray, Intrinsics]:
        """(rectified depth in ``raw``'s unit and dtype, its intrinsics)."""
        rmap = self.map_for(intr, lens, stride)
        return apply_rectify_map(raw, rmap), rmap.intrinsics


def rectify_depth(depth: np.ndarray, intr: Intrinsics,
                  lens: Optional[LensDistortion]) -> Tuple[np.ndarray, Intrinsics]:
    """A raw depth image (any unit, 0 = missing) on the pinhole grid of ``intr``: for frames
    of a camera whose driver publishes unrectified depth; unchanged when ``lens`` is None."""
    if lens is None:
        return depth, intr
    return DepthRectifier().rectify(np.asarray(depth), intr, lens)
