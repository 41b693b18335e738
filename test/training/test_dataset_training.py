"""Training on real datasets (DatasetSource), each read from a tiny fixture in its own on-disk
format, written here by hand from the datasets' published layouts: a few steps train and
validate; validation runs on held-out frames of the same dataset, never trained on, never its
test split; the dataset's crop cube is used and stored in the model; a dataset whose joints are
not the model's is one clear error at start-up; a resumed run sees the same batches."""
from pathlib import Path
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import scipy.io
import torch
import yaml

from hand_pose_ros.core.camera import uvd_to_xyz
from hand_pose_ros.core.checkpoint import load_pose_model
from hand_pose_ros.core.handedness import handedness_score
from hand_pose_ros.core.skeleton import NYU14_SOURCE_IDS
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.synthetic import SyntheticGenerator
from hand_pose_ros.training.config import load_train_config, TrainConfig
from hand_pose_ros.training.data import DatasetSource, held_out_indices, make_dataset
from hand_pose_ros.training.trainer import Trainer
from test.training.test_datasets import msra_joint_txt_xyz, write_bin
from test.training.test_trainer import _env, TINY_MODEL

FRAMES = 10          # training-split frames per fixture
VAL_FRAMES = 3       # of which held out for validation
BATCH = 3


def render(dataset: str, n: int, seed: int):
    """n synthetic hands at the dataset's intrinsics, labelled with its joint set: depth (n, H,
    W) whole millimetres (as the sensors store them) and uvd (n, J, 3)."""
    spec = dataset_spec(dataset)
    gen = SyntheticGenerator(spec.intrinsics, joint_set=spec.joint_set.name, seed=seed,
                             background=False)
    b = gen.sample(n)
    return b.depth_mm.numpy().round(), b.uvd.numpy().astype(np.float64)


# ------------------------------------------------------------------ the three formats
def write_icvl(root: Path, depth: np.ndarray, uvd: np.ndarray) -> list:
    """ICVL: Training/labels.txt, lines '<sequence>/image_NNNN.png u1 v1 d1 ... u16 v16 d16',
    and the 16-bit PNGs (mm) under Training/Depth/. Returns the PNG paths in label order."""
    lines, paths = [], []
    for i, (frame, joints) in enumerate(zip(depth, uvd)):
        name = f'201403121135/image_{i:04d}.png'
        path = root / 'Training' / 'Depth' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame.astype(np.uint16)).save(path)
        lines.append(name + ' ' + ' '.join(f'{v:.4f}' for v in joints.ravel()))
        paths.append(path)
    (root / 'Training' / 'labels.txt').write_text('\n'.join(lines) + '\n')
    return paths


def write_nyu(root: Path, depth: np.ndarray, uvd14: np.ndarray) -> list:
    """NYU: train/joint_data.mat with joint_uvd (3 Kinects, frames, 36 joints, u v d) and
    joint_names, and train/depth_1_NNNNNNN.png, 8-bit RGB with depth = (G << 8) | B mm (R 0).
    The 14 evaluated joints go to their NYU36 ids; the other 22 (unused) copy the palm."""
    folder = root / 'train'
    folder.mkdir(parents=True)
    uvd36 = np.repeat(uvd14[:, 13:14], 36, axis=1)                      # palm everywhere
    uvd36[:, list(NYU14_SOURCE_IDS)] = uvd14
    names = np.array([f'J{k}' for k in range(36)], dtype=object)
    scipy.io.savemat(str(folder / 'joint_data.mat'),
                     {'joint_uvd': np.stack([uvd36] * 3), 'joint_names': names})
    paths = []
    for i, frame in enumerate(depth.astype(np.uint16)):
        rgb = np.zeros(frame.shape + (3,), np.uint8)
        rgb[..., 1] = frame >> 8                                         # G: high byte
        rgb[..., 2] = frame & 0xFF                                       # B: low byte
        path = folder / f'depth_1_{i + 1:07d}.png'
        Image.fromarray(rgb).save(path)                                  # RGB
        paths.append(path)
    # the test split must never be read while training: make it unreadable
    (root / 'test').mkdir()
    (root / 'test' / 'joint_data.mat').write_bytes(b'not the test split')
    return paths


def write_msra(root: Path, depth: np.ndarray, uvd: np.ndarray) -> list:
    """MSRA15: P<subject>/<gesture>/joint.txt (frame count, then 21 joints x y z per line, y up
    and z = -depth) and NNNNNN_depth.bin (6 uint32 width height left top right bottom, then the
    float32 box). Subjects P1 and P2 train; P0, the test subject, holds corrupt files that
    must never be read."""
    paths, start = [], 0
    for subject, gesture, count in (('P1', '1', 4), ('P1', 'TIP', 3), ('P2', '1', 3)):
        folder = root / subject / gesture
        folder.mkdir(parents=True)
        part = slice(start, start + count)
        xyz = msra_joint_txt_xyz(uvd[part])
        lines = [str(count)] + [' '.join(f'{v:.6f}' for v in f.ravel()) for f in xyz]
        (folder / 'joint.txt').write_text('\n'.join(lines) + '\n')
        for i, frame in enumerate(depth[part]):
            vs, us = np.nonzero(frame)
            box = (us.min(), vs.min(), us.max() + 1, vs.max() + 1)
            path = folder / f'{i:06d}_depth.bin'
            write_bin(path, frame, box)
            paths.append(path)
        start += count
    (root / 'P0' / '1').mkdir(parents=True)
    (root / 'P0' / '1' / 'joint.txt').write_text('1\nthe test subject\n')
    return paths


WRITERS = {'icvl': write_icvl, 'nyu': write_nyu, 'msra': write_msra}


@pytest.fixture(scope='module', params=['icvl', 'nyu', 'msra'])
def fixture(request, tmp_path_factory):
    """(dataset name, root, the frames written (mm) in dataset order, their uvd labels)."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    depth, uvd = render(name, FRAMES, seed=7)
    WRITERS[name](root, depth, uvd)
    return name, root, depth, uvd


def train_config(tmp_path: Path, dataset: str, root: Path, **overrides) -> TrainConfig:
    """A tiny model predicting ``joint_set`` (default: the dataset's) of hands of
    ``handedness`` (default: the dataset's, so nothing is mirrored) trained on ``dataset``."""
    joint_set = overrides.pop('joint_set', dataset_spec(dataset).joint_set.name)
    side = overrides.pop('handedness', dataset_spec(dataset).handedness)
    model = tmp_path / f'tiny_{joint_set}_{side}.yaml'
    model.write_text(yaml.safe_dump({'pose': {**TINY_MODEL['pose'], 'joint_set': joint_set,
                                              'handedness': side},
                                     'localizer': TINY_MODEL['localizer']}))
    cfg = {'model': str(model), 'steps': 3, 'batch_size': BATCH, 'checkpoint_every': 3,
           'val_every': 3, 'val_frames': VAL_FRAMES, 'log_every': 1, 'threads': 1,
           'save_half': False, 'amp': 'off',
           'optimizer': {'name': 'adamw', 'lr': 1e-3},
           'localizer_optimizer': {'name': 'adamw', 'lr': 1e-3},
           'data': {'source': dataset, 'root': str(root)}}
    cfg.update(overrides)
    path = tmp_path / 'train.yaml'
    path.write_text(yaml.safe_dump(cfg))
    return load_train_config(path)


def frame_ids(frames: np.ndarray, written: np.ndarray) -> list:
    """Index in ``written`` of each frame of ``frames`` (exact match), -1 if none."""
    ids = []
    for frame in frames:
        same = [k for k, w in enumerate(written) if np.array_equal(frame, w)]
        ids.append(same[0] if same else -1)
    return ids


# ------------------------------------------------------------------ tests
def test_trains_and_validates_on_held_out_frames_of_the_dataset(fixture, tmp_path):
    name, root, depth, uvd = fixture
    spec = dataset_spec(name)
    cfg = train_config(tmp_path, name, root)
    trainer = Trainer(cfg, str(tmp_path / 'run'), device='cpu')
    try:
        source = trainer.source
        assert isinstance(source, DatasetSource)
        held_out = held_out_indices(FRAMES, VAL_FRAMES)
        assert held_out.tolist() == [0, 4, 9]          # spread over the split, fixed
        # every training batch of an epoch: frames of the dataset, never a held-out one
        seen = []
        for step in range(source.per_epoch):
            batch = source.batch(step, BATCH)
            assert batch.intrinsics == spec.intrinsics
            ids = frame_ids(batch.depth_mm.numpy(), depth)
            assert -1 not in ids, 'a training frame that is not in the dataset'
            np.testing.assert_allclose(batch.uvd.numpy(), uvd[ids], atol=1e-3)
            seen += ids
        assert not set(seen) & set(held_out.tolist()), (seen, held_out)
        assert len(seen) == len(set(seen)) == 6        # 7 training frames, batches of 3
        # validation: exactly the held-out frames, at the dataset's intrinsics
        val_depth, val_uvd, val_intr = trainer._val_frames()
        assert frame_ids(val_depth, depth) == held_out.tolist()
        np.testing.assert_allclose(val_uvd, uvd[held_out], atol=1e-3)
        assert val_intr == spec.intrinsics
        metrics = trainer.fit()
    finally:
        trainer.close()
    assert metrics['val/found_com_only'] == 1.0 and metrics['val/found_with_localizer'] == 1.0
    assert np.isfinite(metrics['val/mean_error_mm_com_only']), metrics
    model, model_cfg, meta = load_pose_model(tmp_path / 'run' / 'pose.pt')
    assert meta['steps'] == 3 and meta['metrics'] == metrics
    assert model_cfg.joint_set == spec.joint_set.name
    # the dataset's crop cube (config/datasets.yaml), stored for inference
    assert model_cfg.cube_mm == spec.cube_mm == {'icvl': 250.0, 'nyu': 300.0, 'msra': 200.0}[name]


def test_a_network_of_the_other_side_trains_on_mirrored_frames(fixture, tmp_path):
    name, root, depth, uvd = fixture
    spec = dataset_spec(name)
    other = 'left' if spec.handedness == 'right' else 'right'
    cfg = train_config(tmp_path, name, root, handedness=other)
    source = DatasetSource(cfg, make_dataset(cfg, str(root), 'train'), torch.device('cpu'),
                           handedness=other)
    batch = source.batch(0, BATCH)
    assert batch.intrinsics == spec.intrinsics.mirrored()
    ids = frame_ids(batch.depth_mm.numpy()[:, :, ::-1], depth)     # flipped back: the dataset's
    assert -1 not in ids
    mirrored_u = spec.intrinsics.width - 1 - uvd[ids][..., 0]
    np.testing.assert_allclose(batch.uvd.numpy()[..., 0], mirrored_u, atol=1e-3)
    # the labels are hands of the network's side now
    xyz = uvd_to_xyz(batch.uvd.double(), batch.intrinsics)
    raw = uvd_to_xyz(torch.from_numpy(uvd[ids]).double(), spec.intrinsics)
    js = spec.joint_set
    assert bool(((handedness_score(xyz, js) > 0) == (handedness_score(raw, js) < 0)).all())
    val_depth, _, val_intr = source.validation_frames(cfg, js.name, other)
    assert val_intr == spec.intrinsics.mirrored()
    assert frame_ids(val_depth[:, :, ::-1], depth) == held_out_indices(FRAMES, VAL_FRAMES).tolist()


def test_resumed_run_gets_the_same_batches(fixture, tmp_path):
    name, root, _, _ = fixture
    cfg = train_config(tmp_path, name, root, batch_size=2)
    dataset = make_dataset(cfg, str(root), 'train')
    straight = DatasetSource(cfg, dataset, torch.device('cpu'))
    expected = [straight.batch(step, 2).depth_mm for step in range(8)]   # over 2+ epochs
    resumed = DatasetSource(cfg, dataset, torch.device('cpu'))
    for step in (5, 6, 7):
        torch.testing.assert_close(resumed.batch(step, 2).depth_mm, expected[step])
    assert not torch.equal(expected[0], expected[straight.per_epoch])   # reshuffled per epoch


@pytest.mark.parametrize('source, model_joints', [('nyu', 'icvl16'), ('icvl', 'nyu14'),
                                                  ('msra', 'icvl16')])
def test_joint_set_mismatch_is_one_clear_error_at_start_up(tmp_path, source, model_joints):
    labels = dataset_spec(source).joint_set
    cfg = train_config(tmp_path, source, tmp_path / 'no_data_needed', joint_set=model_joints)
    with pytest.raises(ValueError) as err:
        Trainer(cfg, str(tmp_path / 'run'), device='cpu')
    message = str(err.value)
    for part in (f"data.source '{source}' is labelled with {labels.name} joints "
                 f'({labels.num_joints})', f'predicts {model_joints} joints',
                 f"'joint_set: {labels.name}'"):
        assert part in message, message
    assert not (tmp_path / 'run').exists()                # nothing started


def test_joint_set_mismatch_from_the_command_line(tmp_path):
    """NYU14 data with an ICVL16 model: exit 2, one line naming both joint sets, no traceback
    (it used to fail inside the loss with a tensor-shape error)."""
    depth, uvd = render('nyu', 4, seed=3)
    write_nyu(tmp_path / 'nyu', depth, uvd)
    config = tmp_path / 'train.yaml'
    config.write_text(yaml.safe_dump({'model': 'compact', 'steps': 1, 'batch_size': 2,
                                      'data': {'source': 'nyu'}}))
    done = subprocess.run([sys.executable, '-m', 'hand_pose_ros.cli', 'train', '--config',
                           str(config), '--data-root', str(tmp_path / 'nyu'), '--out',
                           str(tmp_path / 'run'), '--device', 'cpu'],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert 'Traceback' not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert 'nyu14' in done.stderr and 'icvl16' in done.stderr, done.stderr


def test_crop_cube_follows_the_dataset_unless_set(tmp_path):
    model = tmp_path / 'm.yaml'
    model.write_text(yaml.safe_dump({'pose': {'joint_set': 'nyu14', 'cube_mm': 250.0}}))

    def cube(**data):
        return TrainConfig.from_dict({'model': str(model), 'data': data}).model_configs()[0]

    assert cube(source='nyu').cube_mm == 300.0                  # NYU's usual 300 mm cube
    assert cube(source='nyu', cube_mm=280.0).cube_mm == 280.0   # set explicitly
    assert cube(source='synthetic').cube_mm == 250.0            # synthetic: the model's own
    with pytest.raises(ValueError, match='data.cube_mm must be > 0'):
        cube(source='nyu', cube_mm=0)
