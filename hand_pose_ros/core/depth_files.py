"""Depth frames and camera calibrations from files: the estimator on saved frames, no ROS.

Depth files (0 = missing depth):
- a single-channel 16-bit PNG or TIFF, as depth datasets and ``cv2.imwrite`` of a ROS 16UC1
  image store depth: counts of ``depth_unit_mm`` millimetres each (1 for millimetres, 0.125
  for an SR300's native 1/8 mm counts, 1000 for a float image in metres);
- a single-channel float TIFF or a 2-D ``.npy`` array (unsigned or float) in the same unit;
  NaN / inf are missing depth;
- the NYU hand dataset's RGB-packed PNG (``packing='nyu'``: depth mm = G << 8 | B).

Calibrations: a ROS camera_info YAML in either of its forms, camera_info_manager's calibration
file (``image_width``, ``camera_matrix``, ``distortion_model``, ``distortion_coefficients``,
``projection_matrix``) or a CameraInfo message as ``ros2 topic echo --once`` prints it
(``width``, ``height``, ``k``, ``d``, ``p``, ``distortion_model``, ``binning_x`` / ``_y``,
``roi``).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import yaml

from .camera import Intrinsics, published_intrinsics, unmirror
from .lens_distortion import DepthRectifier, is_distorted, lens_distortion

PathLike = Union[str, Path]
DEPTH_PACKINGS = ('gray', 'nyu')


class DepthFileError(ValueError):
    """A file that is not a depth frame or a calibration this module reads; says why."""


def unpack_nyu_depth(bgr: np.ndarray) -> np.ndarray:
    """An NYU hand dataset RGB-packed depth image (H, W, 3) uint8 in OpenCV's BGR order ->
    (H, W) float32 mm: depth = (G << 8) | B."""
    return ((bgr[..., 1].astype(np.uint16) << 8) | bgr[..., 0]).astype(np.float32)


def _load_array(path: Path) -> np.ndarray:
    """The stored array of a .npy file or an image file (OpenCV, unchanged bit depth)."""
    if not path.is_file():
        raise DepthFileError(f'{path}: no such file')
    if path.suffix.lower() == '.npy':
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DepthFileError(f'{path}: not a readable .npy array ({exc})') from None
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise DepthFileError(f'{path}: not an image OpenCV can read')
    return data


def read_depth_file(path: PathLike, depth_unit_mm: float = 1.0,
                    packing: str = 'gray') -> np.ndarray:
    """A depth frame from a file -> (H, W) float32 mm, 0 = missing (module docstring: the
    formats); DepthFileError says why a file is not one."""
    path = Path(path)
    if packing not in DEPTH_PACKINGS:
        raise ValueError(f'packing must be one of {DEPTH_PACKINGS}, found {packing!r}')
    if not (np.isfinite(depth_unit_mm) and depth_unit_mm > 0):
        raise ValueError(f'depth_unit_mm must be a positive number, found {depth_unit_mm!r}')
    data = _load_array(path)
    if packing == 'nyu':
        if data.ndim != 3 or data.shape[2] < 3 or data.dtype != np.uint8:
            raise DepthFileError(f'{path}: packing nyu needs an 8-bit colour image, found '
                                 f'{data.dtype} of shape {data.shape}')
        return unpack_nyu_depth(data)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if data.ndim != 2:
        hint = (' (the NYU hand dataset packs depth into colour: packing nyu)'
                if data.ndim == 3 and data.dtype == np.uint8 else '')
        raise DepthFileError(f'{path}: a depth frame has one channel, found shape '
                             f'{data.shape}{hint}')
    if data.dtype == np.uint8:
        raise DepthFileError(f'{path}: 8-bit image: a picture of depth (a colour map or a '
                             'screenshot) has lost its values; save depth as 16-bit PNG')
    if data.dtype.kind not in 'uif':
        raise DepthFileError(f'{path}: depth must be numbers, found {data.dtype}')
    depth = data.astype(np.float32)
    depth[~np.isfinite(depth)] = 0.0
    if (depth < 0).any():
        raise DepthFileError(f'{path}: negative depth ({float(depth.min()):g}): not a depth '
                             'frame (a disparity or a signed difference?)')
    if depth_unit_mm != 1.0:
        depth *= np.float32(depth_unit_mm)
    return depth


@dataclass(frozen=True)
class CameraCalibration:
    """A depth camera's calibration of the images it publishes: pinhole ``intrinsics`` (K),
    the lens model and coefficients of its raw images (ROS ``distortion_model``, ``D``) and
    the ``rectified`` intrinsics (P: of its images once rectified; None: unset)."""

    intrinsics: Intrinsics
    distortion_model: str = 'plumb_bob'
    coefficients: Tuple[float, ...] = ()
    rectified: Optional[Intrinsics] = None

    @property
    def distorted(self) -> bool:
        """Whether the raw images have a lens distortion (a coefficient is not 0)."""
        return is_distorted(self.coefficients)

    def pinhole(self, depth_mm: np.ndarray, undistort: bool = True,
                rectifier: Optional[DepthRectifier] = None,
                mirrored: bool = False) -> Tuple[np.ndarray, Intrinsics]:
        """(depth, intrinsics) of a frame as the estimator takes it: a raw frame of a lens
        with distortion resampled onto K's pinhole grid (``undistort``; a ``rectifier`` kept
        across frames builds the map once), or taken as already rectified, with P; a
        ``mirrored`` frame flipped back first (camera.unmirror), as the sensor saw it.
        DepthFileError for a frame of another size or an unknown lens."""
        shape = (self.intrinsics.height, self.intrinsics.width)
        if depth_mm.shape != shape:
            raise DepthFileError(f'the calibration is for {shape[1]}x{shape[0]} images, the '
                                 f'frame is {depth_mm.shape[1]}x{depth_mm.shape[0]}')
        if mirrored:
            depth_mm = unmirror(depth_mm)
        if not self.distorted:
            return depth_mm, self.intrinsics
        if not undistort:
            return depth_mm, self.rectified or self.intrinsics
        try:
            lens = lens_distortion(self.distortion_model, self.coefficients)
        except ValueError as exc:
            raise DepthFileError(f'cannot undistort: {exc}; take the frame as rectified '
                                 'instead') from None
        return (rectifier or DepthRectifier()).rectify(depth_mm, self.intrinsics, lens)


def _matrix(value: Any, size: int, name: str) -> Sequence[float]:
    """A flat list of ``size`` numbers from a YAML list or a {rows, cols, data} mapping."""
    data = value.get('data') if isinstance(value, dict) else value
    try:
        numbers = [float(x) for x in data]
    except (TypeError, ValueError):
        raise DepthFileError(f'{name} must be a list of numbers, found {value!r}') from None
    if len(numbers) != size:
        raise DepthFileError(f'{name} must hold {size} numbers, found {len(numbers)}')
    return numbers


def _coefficients(value: Any, name: str) -> Sequence[float]:
    """Distortion coefficients from a YAML list or a {rows, cols, data} mapping (any count)."""
    data = value.get('data') if isinstance(value, dict) else value
    if value is None or data == []:
        return []                                  # no coefficients: no distortion
    if not isinstance(data, (list, tuple)):
        raise DepthFileError(f'{name} must be a list of numbers, found {value!r}')
    return _matrix(data, len(data), name)


def camera_calibration(doc: Dict[str, Any]) -> CameraCalibration:
    """A CameraCalibration from a parsed camera_info YAML (either form, module docstring)."""
    try:
        if 'camera_matrix' in doc:             # camera_info_manager's calibration file
            size = (doc.get('image_width'), doc.get('image_height'))
            k = _matrix(doc['camera_matrix'], 9, 'camera_matrix')
            d = _coefficients(doc.get('distortion_coefficients'), 'distortion_coefficients')
            p = doc.get('projection_matrix')
            binning, roi = (0, 0), (0, 0, 0, 0)
        elif 'k' in doc:                       # a CameraInfo message (ros2 topic echo)
            size = (doc.get('width'), doc.get('height'))
            k = _matrix(doc['k'], 9, 'k')
            d = _coefficients(doc.get('d'), 'd')
            p = doc.get('p')
            binning = (doc.get('binning_x') or 0, doc.get('binning_y') or 0)
            r = doc.get('roi') or {}
            roi = tuple(int(r.get(key) or 0)
                        for key in ('x_offset', 'y_offset', 'width', 'height'))
        else:
            raise DepthFileError('not a camera_info YAML: it needs camera_matrix (a '
                                 'calibration file) or k (a CameraInfo message)')
        width, height = int(size[0]), int(size[1])
        intr = published_intrinsics(k[0], k[4], k[2], k[5], width, height, *binning, roi)
        p = _matrix(p, 12, 'projection_matrix / p') if p is not None else None
        rectified = (published_intrinsics(p[0], p[5], p[2], p[6], width, height, *binning, roi)
                     if p is not None and p[0] > 0 and p[5] > 0 else None)
    except DepthFileError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise DepthFileError(f'invalid camera calibration: {exc}') from None
    return CameraCalibration(intr, str(doc.get('distortion_model') or 'plumb_bob'), tuple(d),
                             rectified)


def read_camera_info_yaml(path: PathLike) -> CameraCalibration:
    """A CameraCalibration from a camera_info YAML file (the first document when it holds
    several, as ``ros2 topic echo`` writes them); DepthFileError says what is wrong."""
    path = Path(path)
    try:
        with open(path, encoding='utf-8') as f:
            doc = next(iter(yaml.safe_load_all(f)), None)
    except OSError as exc:
        raise DepthFileError(f'{path}: {exc.strerror or exc}') from None
    except yaml.YAMLError as exc:
        raise DepthFileError(f'{path}: not YAML ({exc})') from None
    if not isinstance(doc, dict):
        raise DepthFileError(f'{path}: not a camera_info YAML (no mapping)')
    try:
        return camera_calibration(doc)
    except DepthFileError as exc:
        raise DepthFileError(f'{path}: {exc}') from None
