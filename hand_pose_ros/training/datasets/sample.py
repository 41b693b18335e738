"""The one sample type every dataset returns, its boundary check, and shared file helpers."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Tuple, Union

import cv2
import numpy as np
from torch.utils.data import Dataset

from ...core.camera import Intrinsics
from ...core.skeleton import JointSet

PathLike = Union[str, Path]


class DatasetError(ValueError):
    """A missing or corrupt dataset file; the message names the file and what was expected."""


@dataclass
class Sample:
    """One depth frame with its joint labels (checked on construction)."""

    depth_mm: np.ndarray       # (H, W) float32 millimetres, 0 = missing
    uvd: np.ndarray            # (J, 3) float32: u, v pixels of the full image, d millimetres
    intrinsics: Intrinsics
    joint_set: JointSet
    source: str                # the depth file this sample was read from

    def __post_init__(self) -> None:
        h, w = self.intrinsics.height, self.intrinsics.width
        j = self.joint_set.num_joints
        d, uvd = self.depth_mm, self.uvd
        if not isinstance(d, np.ndarray) or d.dtype != np.float32 or d.shape != (h, w):
            raise DatasetError(f'{self.source}: depth must be float32 of shape ({h}, {w}), found '
                               f'{getattr(d, "dtype", type(d).__name__)} '
                               f'{getattr(d, "shape", "")}')
        if not isinstance(uvd, np.ndarray) or uvd.dtype != np.float32 or uvd.shape != (j, 3):
            raise DatasetError(f'{self.source}: uvd labels must be float32 of shape ({j}, 3) '
                               f'({self.joint_set.name}), found '
                               f'{getattr(uvd, "dtype", type(uvd).__name__)} '
                               f'{getattr(uvd, "shape", "")}')
        if not np.isfinite(uvd).all():
            raise DatasetError(f'{self.source}: uvd labels contain NaN or inf')


class LabelledFrames(Dataset):
    """Depth files with one uvd label each, read on access. A dataset fills ``paths``,
    ``uvd`` (N, J, 3), ``intrinsics`` and ``joint_set`` and names its depth reader."""

    read_depth: Callable[[PathLike, Intrinsics], np.ndarray]   # (path, intrinsics) -> mm
    paths: List[str]
    uvd: np.ndarray
    intrinsics: Intrinsics
    joint_set: JointSet

    def __len__(self) -> int:
        """Number of labelled frames."""
        return len(self.paths)

    def __getitem__(self, index: int) -> Sample:
        """The depth frame (mm) and uvd labels of frame ``index``."""
        path = self.paths[index]
        return Sample(type(self).read_depth(path, self.intrinsics), self.uvd[index].copy(),
                      self.intrinsics, self.joint_set, path)


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else DatasetError naming it and what it should hold."""
    if not path.is_file():
        raise DatasetError(f'{what} not found: {path}')
    return path


def read_png(path: Path, shape: Tuple[int, ...], dtype: type) -> np.ndarray:
    """A PNG read unchanged, checked against the expected array shape and dtype."""
    require_file(path, 'depth image')
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f'{path}: not a readable image')
    if image.shape != shape or image.dtype != dtype:
        raise DatasetError(f'{path}: expected a {np.dtype(dtype).name} image of shape {shape}, '
                           f'found {image.dtype.name} {image.shape}')
    return image


def numbers(path: Path, line_number: int, tokens: List[str], count: int,
            what: str) -> np.ndarray:
    """Exactly ``count`` finite numbers from text tokens (float64), else DatasetError."""
    where = f'{path}:{line_number}'
    if len(tokens) != count:
        raise DatasetError(f'{where}: expected {count} numbers ({what}), found {len(tokens)}')
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise DatasetError(f'{where}: non-numeric value {bad!r}') from None
    if not np.isfinite(values).all():
        raise DatasetError(f'{where}: NaN or inf among the values')
    return values


def _is_number(token: str) -> bool:
    """Whether ``float(token)`` succeeds."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def text_lines(path: Path, what: str) -> Iterator[Tuple[int, List[str]]]:
    """(line number, tokens) of every non-blank line of a text file; DatasetError if missing."""
    require_file(path, what)
    with open(path, encoding='utf-8') as f:
        try:
            for number, line in enumerate(f, start=1):
                tokens = line.split()
                if tokens:
                    yield number, tokens
        except UnicodeDecodeError:
            raise DatasetError(f'{path}: not a text file ({what})') from None
