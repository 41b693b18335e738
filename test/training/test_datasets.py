"""ICVL, NYU and MSRA loaders on tiny fixtures written in the exact real file formats."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from hand_pose_ros.core.skeleton import ICVL16, MSRA21, NYU14, NYU14_SOURCE_IDS
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.training.data import collate_samples
from hand_pose_ros.training.datasets import (DatasetError, ICVLDataset, MSRADataset,
                                             NYUDataset, Sample)

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- ICVL
def icvl_uvd(n: int) -> np.ndarray:
    """(n, 16, 3) uvd labels: pixels inside 320x240, depth in mm."""
    return np.concatenate([RNG.uniform(60, 220, (n, 16, 2)), RNG.uniform(250, 450, (n, 16, 1))],
                          axis=-1).round(3)


def write_icvl(labels: Path, image_dir: Path, names, uvd: np.ndarray, png_names=None) -> dict:
    """An ICVL labels file + 320x240 uint16 PNGs; returns {png path: depth}."""
    labels.parent.mkdir(parents=True, exist_ok=True)
    depths = {}
    lines = []
    for name, png, joints in zip(names, png_names or names, uvd):
        depth = RNG.integers(0, 3000, (240, 320)).astype(np.uint16)
        path = image_dir / png
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(path), depth)
        depths[str(path)] = depth
        lines.append(name + ' ' + ' '.join(f'{v:.3f}' for v in joints.ravel()))
    labels.write_text('\n'.join(lines) + '\n')
    return depths


def check_round_trip(ds, depths: dict, uvd: np.ndarray) -> None:
    """Every sample matches the written depth and labels."""
    assert len(ds) == len(uvd)
    for k in range(len(ds)):
        s = ds[k]
        assert isinstance(s, Sample) and s.depth_mm.dtype == np.float32
        np.testing.assert_array_equal(s.depth_mm, depths[s.source].astype(np.float32))
        np.testing.assert_allclose(s.uvd, uvd[k], atol=1e-3)


def test_icvl_train_and_test_layouts(tmp_path):
    root = tmp_path / 'icvl'
    train_uvd = icvl_uvd(3)
    names = [f'201403121135/image_{i:04d}.png' for i in range(3)]
    depths = write_icvl(root / 'Training' / 'labels.txt', root / 'Training' / 'Depth', names,
                        train_uvd)
    ds = ICVLDataset(root, split='train')
    check_round_trip(ds, depths, train_uvd)
    s = ds[0]
    assert s.joint_set is ICVL16 and s.intrinsics == dataset_spec('icvl').intrinsics
    assert s.depth_mm.shape == (240, 320) and s.uvd.shape == (16, 3)
    # test_seq_1 names images without their folder, test_seq_2 with it: both are found
    test_uvd = icvl_uvd(4)
    d1 = write_icvl(root / 'Testing' / 'test_seq_1.txt', root / 'Testing' / 'Depth',
                    [f'image_{i:04d}.png' for i in range(2)], test_uvd[:2],
                    [f'test_seq_1/image_{i:04d}.png' for i in range(2)])
    d2 = write_icvl(root / 'Testing' / 'test_seq_2.txt', root / 'Testing' / 'Depth',
                    [f'test_seq_2/image_{i:04d}.png' for i in range(2)], test_uvd[2:])
    check_round_trip(ICVLDataset(root, split='test'), {**d1, **d2}, test_uvd)


def test_icvl_reads_the_renderer_layout(tmp_path):
    out = tmp_path / 'render'
    uvd = icvl_uvd(2)
    depths = write_icvl(out / 'labels.txt', out, [f'Depth/{i:06d}.png' for i in range(2)], uvd)
    check_round_trip(ICVLDataset(out, split='labels.txt'), depths, uvd)
    check_round_trip(ICVLDataset(tmp_path, split=str(out / 'labels.txt')), depths, uvd)
    batch = collate_samples([ICVLDataset(out, split='labels.txt')[k] for k in range(2)])
    assert tuple(batch.depth_mm.shape) == (2, 240, 320) and tuple(batch.uvd.shape) == (2, 16, 3)


def test_icvl_errors(tmp_path):
    with pytest.raises(DatasetError, match='ICVL labels file not found: .*labels.txt'):
        ICVLDataset(tmp_path, split='train')
    out = tmp_path / 'r'
    write_icvl(out / 'labels.txt', out, ['Depth/a.png', 'Depth/b.png'], icvl_uvd(2))
    labels = out / 'labels.txt'
    good = labels.read_text().splitlines()
    labels.write_text(good[0] + '\n' + good[1].rsplit(' ', 1)[0] + '\n')
    with pytest.raises(DatasetError, match=r'labels.txt:2: expected 48 numbers.*found 47'):
        ICVLDataset(out, split='labels.txt')
    labels.write_text(good[0] + '\n' + good[1].rsplit(' ', 1)[0] + ' oops\n')
    with pytest.raises(DatasetError, match="labels.txt:2: non-numeric value 'oops'"):
        ICVLDataset(out, split='labels.txt')
    labels.write_text('\n'.join(good) + '\n')
    cv2.imwrite(str(out / 'Depth' / 'b.png'), np.zeros((480, 640), np.uint16))
    ds = ICVLDataset(out, split='labels.txt')
    with pytest.raises(DatasetError, match=r'b.png: expected a uint16 image of shape \(240, 320'):
        ds[1]
    cv2.imwrite(str(out / 'Depth' / 'b.png'), np.zeros((240, 320), np.uint8))
    with pytest.raises(DatasetError, match='b.png: expected a uint16.*found uint8'):
        ds[1]
    (out / 'Depth' / 'b.png').unlink()
    with pytest.raises(DatasetError, match='depth image not found: .*b.png'):
        ds[1]
    (out / 'Depth' / 'a.png').unlink()
    with pytest.raises(DatasetError, match='depth image of the first line not found'):
        ICVLDataset(out, split='labels.txt')


# ---------------------------------------------------------------- NYU
def write_nyu(root: Path, split: str, frames: int, **overrides) -> tuple:
    """joint_data.mat (3 Kinects) + G/B-encoded RGB PNGs of Kinect 1; returns (uvd36, depths)."""
    folder = root / split
    folder.mkdir(parents=True)
    uvd = np.concatenate([RNG.uniform(100, 540, (3, frames, 36, 2)),
                          RNG.uniform(500, 1000, (3, frames, 36, 1))], axis=-1)
    data = {'joint_uvd': uvd, 'joint_xyz': RNG.normal(size=(3, frames, 36, 3)),
            'joint_names': np.array([f'J{i}' for i in range(36)], dtype=object)}
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    scipy.io.savemat(str(folder / 'joint_data.mat'), data)
    depths = {}
    for i in range(frames):
        depth = RNG.integers(0, 4000, (480, 640)).astype(np.uint16)
        bgr = np.zeros((480, 640, 3), np.uint8)
        bgr[..., 0] = depth & 0xFF          # B: low byte
        bgr[..., 1] = depth >> 8            # G: high byte
        bgr[..., 2] = RNG.integers(0, 255, (480, 640))   # R: unused
        path = folder / f'depth_1_{i + 1:07d}.png'
        assert cv2.imwrite(str(path), bgr)
        depths[str(path)] = depth
    return uvd, depths


def test_nyu_round_trip(tmp_path):
    uvd36, depths = write_nyu(tmp_path, 'test', 2)
    ds = NYUDataset(tmp_path, split='test')
    expected = uvd36[0][:, list(NYU14_SOURCE_IDS)]
    check_round_trip(ds, depths, expected)
    s = ds[1]
    assert s.joint_set is NYU14 and s.intrinsics == dataset_spec('nyu').intrinsics
    assert s.source.endswith('depth_1_0000002.png') and s.depth_mm.shape == (480, 640)
    np.testing.assert_allclose(s.uvd[13], uvd36[0, 1, 32], rtol=1e-6)      # palm = id 32


def test_nyu_errors(tmp_path):
    with pytest.raises(DatasetError, match='NYU label file not found: .*joint_data.mat'):
        NYUDataset(tmp_path, split='train')
    with pytest.raises(DatasetError, match="'train' or 'test'"):
        NYUDataset(tmp_path, split='val')
    write_nyu(tmp_path / 'a', 'train', 1, joint_uvd=None)
    with pytest.raises(DatasetError, match=r'no variable joint_uvd; found \[.*joint_xyz'):
        NYUDataset(tmp_path / 'a', split='train')
    write_nyu(tmp_path / 'b', 'train', 1, joint_uvd=np.zeros((3, 1, 14, 3)))
    with pytest.raises(DatasetError, match=r'shape \(kinects, frames, 36, 3\), found'):
        NYUDataset(tmp_path / 'b', split='train')
    write_nyu(tmp_path / 'c', 'train', 1)
    with pytest.raises(DatasetError, match='Kinect index'):
        NYUDataset(tmp_path / 'c', split='train', kinect=3)
    (tmp_path / 'd' / 'train').mkdir(parents=True)
    (tmp_path / 'd' / 'train' / 'joint_data.mat').write_bytes(b'not a mat file at all')
    with pytest.raises(DatasetError, match='not a readable MATLAB'):
        NYUDataset(tmp_path / 'd', split='train')
    ds = NYUDataset(tmp_path / 'c', split='train')
    cv2.imwrite(ds.paths[0], np.zeros((480, 640), np.uint16))           # grey 16-bit, not RGB
    with pytest.raises(DatasetError, match=r'expected a uint8 image of shape \(480, 640, 3\)'):
        ds[0]


# ---------------------------------------------------------------- MSRA
def write_bin(path: Path, depth: np.ndarray, box: tuple, size=(320, 240)) -> None:
    """An MSRA depth .bin: header (w, h, left, top, right, bottom) + float32 box."""
    left, top, right, bottom = box
    header = np.array([*size, left, top, right, bottom], dtype='<u4')
    path.write_bytes(header.tobytes() + depth[top:bottom, left:right].astype('<f4').tobytes())


# MSRA15's published intrinsics (cvpr15_MSRAHandGestureDB readme: principal point (160, 120),
# focal 241.42) and its joint.txt axes: x right, y UP, z = -depth (an OpenGL-style camera
# frame; see the loader's docstring for the sources). Written here by hand, not with the
# loader's own conversion, so a loader with the wrong convention fails these tests.
MSRA_F, MSRA_CX, MSRA_CY = 241.42, 160.0, 120.0


def msra_joint_txt_xyz(uvd: np.ndarray) -> np.ndarray:
    """(..., 3) pixel u, v and depth d (mm) -> joint.txt x, y, z as MSRA stores them."""
    u, v, d = uvd[..., 0], uvd[..., 1], uvd[..., 2]
    return np.stack([(u - MSRA_CX) * d / MSRA_F, (MSRA_CY - v) * d / MSRA_F, -d], axis=-1)


def write_msra_gesture(folder: Path, uvd: np.ndarray) -> dict:
    """joint.txt (frame count, then 21 x y z per line) + a depth .bin per frame whose hand box
    holds every joint's depth at its pixel; ``uvd`` is (N, 21, 3) pixels and mm."""
    folder.mkdir(parents=True)
    stored = msra_joint_txt_xyz(uvd)
    lines = [str(len(uvd))] + [' '.join(f'{v:.6f}' for v in f.ravel()) for f in stored]
    (folder / 'joint.txt').write_text('\n'.join(lines) + '\n')
    depths = {}
    for i, joints in enumerate(uvd):
        u0, v0 = np.floor(joints[:, :2].min(0)).astype(int) - 3
        u1, v1 = np.ceil(joints[:, :2].max(0)).astype(int) + 3
        depth = np.zeros((240, 320), np.float32)
        depth[v0:v1, u0:u1] = RNG.uniform(300, 400, (v1 - v0, u1 - u0))
        for u, v, d in joints:
            depth[int(round(v)), int(round(u))] = d                 # each joint's own depth
        path = folder / f'{i:06d}_depth.bin'
        write_bin(path, depth, (u0, v0, u1, v1))
        depths[str(path)] = depth
    return depths


def msra_hands(n: int) -> np.ndarray:
    """(n, 21, 3) uvd labels at whole pixels of the 320x240 image, depth 300-400 mm."""
    return np.concatenate([RNG.integers(100, 220, (n, 21, 1)), RNG.integers(60, 180, (n, 21, 1)),
                           RNG.uniform(300, 400, (n, 21, 1))], axis=-1).astype(np.float64)


def test_msra_round_trip_and_split(tmp_path):
    intr = dataset_spec('msra').intrinsics
    uvd0, uvd1 = msra_hands(2), msra_hands(3)
    depths = write_msra_gesture(tmp_path / 'P0' / '1', uvd0)
    depths.update(write_msra_gesture(tmp_path / 'P1' / 'TIP', uvd1))
    test = MSRADataset(tmp_path, test_subject=0, split='test')
    train = MSRADataset(tmp_path, test_subject=0, split='train')
    assert (len(test), len(train)) == (2, 3)
    assert MSRADataset(tmp_path, test_subject=1, split='train').paths == test.paths
    check_round_trip(test, depths, uvd0)
    check_round_trip(train, depths, uvd1)
    s = test[1]
    assert s.joint_set is MSRA21 and s.intrinsics == intr
    u, v = np.round(s.uvd[:, :2]).astype(int).T
    np.testing.assert_allclose(s.depth_mm[v, u], s.uvd[:, 2], atol=1e-3)   # joints meet depth
    assert s.depth_mm[0, 0] == 0.0                                    # outside the box


def test_msra_axes_follow_the_dataset_convention(tmp_path):
    """joint.txt written by hand: y up and z = -depth. A joint above the image centre has
    y > 0 and must come out above the centre (v < cy); one to the right (x > 0) at u > cx; every
    depth positive. A loader that kept y (y down), negated x or dropped z's sign fails here."""
    folder = tmp_path / 'P0' / '5'
    folder.mkdir(parents=True)
    joints = np.zeros((21, 3))
    joints[:] = [0.0, 0.0, -400.0]                              # on the optical axis, 400 mm
    joints[0] = [-99.411814, 99.411814, -400.0]                 # pixel (100, 60): left, above
    joints[8] = [86.985337, -115.980449, -350.0]                # pixel (220, 200): right, below
    (folder / 'joint.txt').write_text(
        '1\n' + ' '.join(f'{value:.6f}' for value in joints.ravel()) + '\n')
    depth = np.zeros((240, 320), np.float32)
    depth[50:210, 90:230] = 400.0
    depth[200, 220] = 350.0
    write_bin(folder / '000000_depth.bin', depth, (90, 50, 230, 210))
    s = MSRADataset(tmp_path, test_subject=0, split='test')[0]
    np.testing.assert_allclose(s.uvd[0], [100.0, 60.0, 400.0], atol=1e-3)
    np.testing.assert_allclose(s.uvd[8], [220.0, 200.0, 350.0], atol=1e-3)
    np.testing.assert_allclose(s.uvd[1], [160.0, 120.0, 400.0], atol=1e-3)
    assert s.depth_mm[200, 220] == 350.0 and s.depth_mm[60, 100] == 400.0


def test_msra_errors(tmp_path):
    with pytest.raises(DatasetError, match='subject folder not found: .*P0'):
        MSRADataset(tmp_path, test_subject=0, split='test')
    with pytest.raises(DatasetError, match='test_subject must be in 0..8'):
        MSRADataset(tmp_path, test_subject=9)
    depths = write_msra_gesture(tmp_path / 'P0' / '1', msra_hands(2))
    with pytest.raises(DatasetError, match='no training subjects'):
        MSRADataset(tmp_path, test_subject=0, split='train')
    ds = MSRADataset(tmp_path, test_subject=0, split='test')
    first = Path(ds.paths[0])
    first.write_bytes(first.read_bytes()[:-8])
    with pytest.raises(DatasetError, match='000000_depth.bin: size mismatch'):
        ds[0]
    first.write_bytes(first.read_bytes()[:10])
    with pytest.raises(DatasetError, match='truncated'):
        ds[0]
    write_bin(first, depths[str(first)], (0, 0, 10, 10), size=(640, 480))
    with pytest.raises(DatasetError, match='header image size 640x480, expected 320x240'):
        ds[0]
    write_bin(first, depths[str(first)], (10, 10, 5, 20))
    with pytest.raises(DatasetError, match='is not inside'):
        ds[0]
    joint = tmp_path / 'P0' / '1' / 'joint.txt'
    lines = joint.read_text().splitlines()
    joint.write_text('\n'.join(['3'] + lines[1:]) + '\n')
    with pytest.raises(DatasetError, match='declares 3 frames but has 2'):
        MSRADataset(tmp_path, test_subject=0, split='test')
    joint.write_text('\n'.join([lines[0], lines[1], lines[2] + ' 1.0']) + '\n')
    with pytest.raises(DatasetError, match=r'joint.txt:3: expected 63 numbers'):
        MSRADataset(tmp_path, test_subject=0, split='test')
    flipped = ' '.join(str(abs(float(t))) for t in lines[2].split())
    joint.write_text('\n'.join([lines[0], lines[1], flipped]) + '\n')
    with pytest.raises(DatasetError, match='expected negative z'):
        MSRADataset(tmp_path, test_subject=0, split='test')
    joint.unlink()
    with pytest.raises(DatasetError, match='MSRA joint file not found: .*joint.txt'):
        MSRADataset(tmp_path, test_subject=0, split='test')


def test_sample_checks_its_arrays():
    spec = dataset_spec('icvl')
    good = np.zeros((240, 320), np.float32), np.zeros((16, 3), np.float32)
    Sample(*good, spec.intrinsics, spec.joint_set, 'x.png')
    with pytest.raises(DatasetError, match=r'x.png: depth must be float32 of shape \(240, 320\)'):
        Sample(good[0].astype(np.float64), good[1], spec.intrinsics, spec.joint_set, 'x.png')
    with pytest.raises(DatasetError, match=r'uvd labels must be float32 of shape \(16, 3\)'):
        Sample(good[0], np.zeros((14, 3), np.float32), spec.intrinsics, spec.joint_set, 'x.png')
    with pytest.raises(DatasetError, match='NaN or inf'):
        Sample(good[0], np.full((16, 3), np.nan, np.float32), spec.intrinsics, spec.joint_set,
               'x.png')
