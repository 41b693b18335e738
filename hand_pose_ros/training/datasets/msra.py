"""MSRA15 hand gesture dataset (Sun et al., CVPR 2015): 9 subjects x 17 gestures, 21 joints.

Layout: ``P0..P8/<gesture>/NNNNNN_depth.bin`` and ``P*/<gesture>/joint.txt``.

- ``*_depth.bin``: six little-endian uint32 (img_width, img_height, left, top, right,
  bottom), then (bottom - top) x (right - left) float32 depths (mm) of the hand box
  [left, right) x [top, bottom), row-major. The box is pasted into a zero frame.
- ``joint.txt``: the frame count N on the first line, then N lines of 21 joints x (x y z) mm
  in the order of ``core.skeleton.MSRA21``.

Coordinate convention of joint.txt (our conclusion): x right, y UP, z NEGATIVE (the camera
looks down -z, an OpenGL-style frame), i.e. x = (u - cx) d / f, y = (cy - v) d / f, z = -d.
The dataset readme (cvpr15_MSRAHandGestureDB readme, mirrored at
jimmysuen.github.io/txt/cvpr15_MSRAHandGestureDB_readme.txt) gives the intrinsics (principal
point (160, 120), focal 241.42) but not the axes; the negative z is reported in
mks0601/V2V-PoseNet_RELEASE issue #28 ("Opposite sign of Z value": the joints match the depth
only after flipping z), and the public dragonbook/V2V-PoseNet-pytorch MSRA loader matches
joints to depth points by negating z only while back-projecting pixels with y = (cy - v) d / f,
which means the file's y points up. We convert to the project's camera optical frame
(x right, y down, z forward) with (x, -y, -z), a 180-degree rotation about x (handedness is
kept), then project with ``dataset_spec('msra')`` intrinsics (pixel centres at integers).
"""
from pathlib import Path
from typing import List

import numpy as np

from .sample import DatasetError, LabelledFrames, numbers, PathLike, require_file, text_lines
from ...core.camera import Intrinsics, xyz_to_uvd
from ...core.specs import dataset_spec

NUM_SUBJECTS = 9
HEADER_BYTES = 6 * 4
# joint.txt (x right, y up, z = -depth) -> camera optical frame (x right, y down, z forward).
MSRA_TO_CAMERA = np.array([1.0, -1.0, -1.0])


def read_msra_depth(path: PathLike, intr: Intrinsics) -> np.ndarray:
    """An MSRA ``*_depth.bin`` (header + float32 box) -> (H, W) float32 mm, 0 outside the box."""
    path = require_file(Path(path), 'MSRA depth file')
    data = path.read_bytes()
    if len(data) < HEADER_BYTES:
        raise DatasetError(f'{path}: truncated: {len(data)} bytes, the header alone needs '
                           f'{HEADER_BYTES}')
    width, height, left, top, right, bottom = (int(v) for v in np.frombuffer(
        data[:HEADER_BYTES], dtype='<u4'))
    if (width, height) != (intr.width, intr.height):
        raise DatasetError(f'{path}: header image size {width}x{height}, expected '
                           f'{intr.width}x{intr.height}')
    if not (0 <= left <= right <= width and 0 <= top <= bottom <= height):
        raise DatasetError(f'{path}: header box left={left} top={top} right={right} '
                           f'bottom={bottom} is not inside the {width}x{height} image')
    box_h, box_w = bottom - top, right - left
    expected = HEADER_BYTES + 4 * box_h * box_w
    if len(data) != expected:
        raise DatasetError(f'{path}: size mismatch: a {box_w}x{box_h} box needs {expected} '
                           f'bytes, the file has {len(data)} (truncated or corrupt)')
    box = np.frombuffer(data[HEADER_BYTES:], dtype='<f4').reshape(box_h, box_w)
    frame = np.zeros((height, width), dtype=np.float32)
    frame[top:bottom, left:right] = np.where(np.isfinite(box), box, 0.0)
    return frame


def read_msra_joints(path: Path, num_joints: int) -> np.ndarray:
    """joint.txt -> (N, J, 3) float64 xyz mm exactly as stored (y up, z negative)."""
    lines = list(text_lines(path, 'MSRA joint file'))
    if not lines:
        raise DatasetError(f'{path}: empty file (expected the frame count on the first line)')
    number, tokens = lines[0]
    if len(tokens) != 1 or not tokens[0].isdigit():
        raise DatasetError(f'{path}:{number}: expected the frame count, found '
                           f'{" ".join(tokens)!r}')
    count = int(tokens[0])
    if len(lines) - 1 != count:
        raise DatasetError(f'{path}: declares {count} frames but has {len(lines) - 1} joint lines')
    xyz = [numbers(path, n, t, 3 * num_joints, f'{num_joints} joints x y z') for n, t in lines[1:]]
    return np.stack(xyz).reshape(count, num_joints, 3) if xyz else np.zeros((0, num_joints, 3))


def msra_to_uvd(xyz_file: np.ndarray, intr: Intrinsics, source: str) -> np.ndarray:
    """joint.txt xyz (y up, z negative) -> (N, J, 3) float32 uvd (pixels, mm); z must be < 0."""
    xyz = xyz_file * MSRA_TO_CAMERA                                  # camera optical frame
    if xyz.size and not (xyz[..., 2] > 0).all():
        raise DatasetError(f'{source}: expected negative z values (MSRA stores z = -depth), '
                           f'found z up to {-xyz[..., 2].min():.1f} mm')
    return xyz_to_uvd(xyz, intr).astype(np.float32)


class MSRADataset(LabelledFrames):
    """MSRA15 frames as ``Sample``s; leave-one-subject-out: ``test_subject`` k in 0..8."""

    read_depth = staticmethod(read_msra_depth)

    def __init__(self, root: PathLike, test_subject: int = 0, split: str = 'train') -> None:
        if split not in ('train', 'test'):
            raise DatasetError(f"MSRA split must be 'train' or 'test', found {split!r}")
        if not 0 <= test_subject < NUM_SUBJECTS:
            raise DatasetError(f'test_subject must be in 0..{NUM_SUBJECTS - 1}, '
                               f'found {test_subject}')
        spec = dataset_spec('msra')
        self.root = Path(root).expanduser()
        self.intrinsics, self.joint_set = spec.intrinsics, spec.joint_set
        if not (self.root / f'P{test_subject}').is_dir():
            raise DatasetError(f'MSRA subject folder not found: {self.root / f"P{test_subject}"}')
        subjects = ([test_subject] if split == 'test' else
                    [k for k in range(NUM_SUBJECTS)
                     if k != test_subject and (self.root / f'P{k}').is_dir()])
        if not subjects:
            raise DatasetError(f'{self.root}: no training subjects (P0..P{NUM_SUBJECTS - 1} '
                               f'other than P{test_subject})')
        self.paths: List[str] = []
        uvd: List[np.ndarray] = []
        for k in subjects:
            for gesture in sorted(p for p in (self.root / f'P{k}').iterdir() if p.is_dir()):
                joints = gesture / 'joint.txt'
                xyz = read_msra_joints(joints, self.joint_set.num_joints)
                uvd.append(msra_to_uvd(xyz, self.intrinsics, str(joints)))
                self.paths += [str(gesture / f'{i:06d}_depth.bin') for i in range(len(xyz))]
        if not self.paths:
            raise DatasetError(f'{self.root}: no MSRA frames for subjects {subjects}')
        self.uvd = np.concatenate(uvd)                                 # (N, 21, 3) pixels, mm
