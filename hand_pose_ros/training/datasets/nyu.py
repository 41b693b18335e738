"""NYU hand pose dataset (Tompson et al., TOG 2014): 640x480 depth, 36 annotated joints, 3 Kinects.

Layout: ``train/`` and ``test/``, each with ``joint_data.mat`` (``joint_uvd`` of shape
(kinects=3, frames, 36, 3): u, v pixels, d mm) and depth PNGs ``depth_<k>_<frame>.png``
(k = Kinect 1..3, frame 1-based, 7 digits). Depth is stored in an 8-bit RGB PNG as
(G << 8) | B millimetres (OpenCV loads BGR: B is channel 0, G channel 1). The evaluated
14-joint subset is ``core.skeleton.NYU14_SOURCE_IDS``; the frontal Kinect is index 0.
"""
from pathlib import Path
from typing import List

import numpy as np

from .sample import DatasetError, LabelledFrames, PathLike, read_png, require_file
from ...core.camera import Intrinsics
from ...core.depth_files import unpack_nyu_depth
from ...core.skeleton import NYU14_SOURCE_IDS
from ...core.specs import dataset_spec

NUM_ANNOTATED = 36   # joints per frame in joint_data.mat


def read_nyu_depth(path: PathLike, intr: Intrinsics) -> np.ndarray:
    """An NYU RGB depth PNG -> (H, W) float32 mm, depth = (G << 8) | B."""
    bgr = read_png(Path(path), (intr.height, intr.width, 3), np.uint8)
    return unpack_nyu_depth(bgr)


def read_joint_uvd(mat_path: Path) -> np.ndarray:
    """``joint_uvd`` (kinects, frames, 36, 3) of an NYU joint_data.mat, checked."""
    import scipy.io  # only the NYU loader needs it

    require_file(mat_path, 'NYU label file')
    try:
        data = scipy.io.loadmat(str(mat_path), variable_names=['joint_uvd'])
    except Exception as exc:  # scipy raises MatReadError, IndexError, ... on foreign files
        raise DatasetError(f'{mat_path}: not a readable MATLAB v5 file '
                           f'({exc.__class__.__name__}: {exc})') from None
    if 'joint_uvd' not in data:
        names = [name for name, _, _ in scipy.io.whosmat(str(mat_path))]
        raise DatasetError(f'{mat_path}: no variable joint_uvd; found {names}')
    uvd = np.asarray(data['joint_uvd'])
    if uvd.ndim != 4 or uvd.shape[2:] != (NUM_ANNOTATED, 3):
        raise DatasetError(f'{mat_path}: joint_uvd must have shape (kinects, frames, '
                           f'{NUM_ANNOTATED}, 3), found {uvd.shape}')
    return uvd


class NYUDataset(LabelledFrames):
    """NYU frames of one Kinect as ``Sample``s with the 14 evaluated joints."""

    read_depth = staticmethod(read_nyu_depth)

    def __init__(self, root: PathLike, split: str = 'train', kinect: int = 0) -> None:
        if split not in ('train', 'test'):
            raise DatasetError(f"NYU split must be 'train' or 'test', found {split!r}")
        spec = dataset_spec('nyu')
        self.folder = Path(root).expanduser() / split
        self.intrinsics, self.joint_set = spec.intrinsics, spec.joint_set
        uvd = read_joint_uvd(self.folder / 'joint_data.mat')
        if not 0 <= kinect < uvd.shape[0]:
            raise DatasetError(f'{self.folder / "joint_data.mat"}: Kinect index must be in '
                               f'[0, {uvd.shape[0] - 1}], found {kinect}')
        self.kinect = kinect
        self.uvd = uvd[kinect][:, list(NYU14_SOURCE_IDS)].astype(np.float32)   # (N, 14, 3)
        self.paths: List[str] = [str(self.folder / f'depth_{kinect + 1}_{i + 1:07d}.png')
                                 for i in range(len(self.uvd))]
