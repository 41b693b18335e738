"""ICVL hand posture dataset (Tang et al., CVPR 2014): 16-bit PNG depth (mm), 320x240, 16 joints.

Layout of the real dataset::

    Training/labels.txt         lines "201403121135/image_0000.png u1 v1 d1 ... u16 v16 d16"
    Training/Depth/...          the PNGs, named relative to this folder
    Testing/test_seq_1.txt      same line format; PNGs under Testing/Depth/
    Testing/test_seq_2.txt

The synthetic renderer (`hand-pose render`) writes the same format as ``DIR/labels.txt`` with
lines "Depth/<name>.png ..." and PNGs in ``DIR/Depth/``; pass that labels file as ``split``.
"""
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from .sample import DatasetError, LabelledFrames, numbers, PathLike, read_png, text_lines
from ...core.camera import Intrinsics
from ...core.specs import dataset_spec


def read_icvl_depth(path: PathLike, intr: Intrinsics) -> np.ndarray:
    """A 16-bit PNG of millimetres -> (H, W) float32 mm, checked against the intrinsics size."""
    return read_png(Path(path), (intr.height, intr.width), np.uint16).astype(np.float32)


def _label_files(root: Path, split: str) -> Tuple[List[Path], Path]:
    """(labels files, folder the image names are relative to) of a split or a labels file."""
    if split == 'train':
        return [root / 'Training' / 'labels.txt'], root / 'Training' / 'Depth'
    if split == 'test':
        return ([root / 'Testing' / 'test_seq_1.txt', root / 'Testing' / 'test_seq_2.txt'],
                root / 'Testing' / 'Depth')
    labels = Path(split).expanduser()
    labels = labels if labels.is_absolute() else root / labels
    return [labels], labels.parent


def _image_base(labels: Path, image_root: Path, first_name: str) -> Path:
    """The folder the image names of ``labels`` are relative to (checked on the first name)."""
    candidates = [image_root, image_root / 'Depth', image_root / labels.stem]
    for base in candidates:
        if (base / first_name).is_file():
            return base
    tried = [str(base / first_name) for base in candidates]
    raise DatasetError(f'{labels}: depth image of the first line not found; tried {tried}')


class ICVLDataset(LabelledFrames):
    """ICVL frames as ``Sample``s; ``split`` is 'train', 'test' or a labels file path."""

    read_depth = staticmethod(read_icvl_depth)

    def __init__(self, root: PathLike, split: str = 'train',
                 intrinsics: Optional[Intrinsics] = None) -> None:
        spec = dataset_spec('icvl')
        self.root = Path(root).expanduser()
        self.intrinsics = intrinsics or spec.intrinsics
        self.joint_set = spec.joint_set
        self.paths: List[str] = []
        uvd: List[np.ndarray] = []
        label_files, image_root = _label_files(self.root, split)
        columns = 3 * self.joint_set.num_joints
        for labels in label_files:
            base: Optional[Path] = None
            for number, tokens in text_lines(labels, 'ICVL labels file'):
                if base is None:
                    base = _image_base(labels, image_root, tokens[0])
                what = f'{self.joint_set.num_joints} joints x u v d after the image name'
                values = numbers(labels, number, tokens[1:], columns, what)
                self.paths.append(str(base / tokens[0]))
                uvd.append(values.astype(np.float32).reshape(-1, 3))
            if base is None:
                raise DatasetError(f'{labels}: no labelled frames')
        self.uvd = np.stack(uvd)                                   # (N, J, 3) pixels, mm
