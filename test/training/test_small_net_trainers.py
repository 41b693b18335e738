"""Detector and left/right classifier training: configs, exact resume, checkpoints that the
estimator loads, the mirror augmentation, the CLI dispatch and its errors."""
from pathlib import Path
import subprocess
import sys

import pytest
import torch
import yaml

from hand_pose_ros.core.checkpoint import (CheckpointError, load_detector,
                                           load_side_classifier, save_checkpoint)
from hand_pose_ros.training.detector_trainer import (DetectorTrainer,
                                                     load_detector_train_config,
                                                     mirror_scenes, training_task)
from hand_pose_ros.training.side_trainer import load_side_train_config, side_crops, SideTrainer


def _yaml(tmp_path: Path, data: dict, name: str) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def tiny_detector(tmp_path: Path, **overrides) -> Path:
    """A tiny detector training config."""
    cfg = {'task': 'detector', 'steps': 4, 'batch_size': 2, 'checkpoint_every': 2,
           'val_every': 4, 'val_frames': 4, 'log_every': 1, 'threads': 1,
           'detector': {'width': 4}, 'optimizer': {'name': 'adamw', 'lr': 1e-3}}
    cfg.update(overrides)
    return _yaml(tmp_path, cfg, 'det.yaml')


def tiny_side(tmp_path: Path, **overrides) -> Path:
    """A tiny left/right classifier training config."""
    cfg = {'task': 'side', 'steps': 4, 'batch_size': 2, 'checkpoint_every': 2,
           'val_every': 4, 'val_frames': 4, 'threads': 1,
           'side': {'width': 4, 'input_size': 64},
           'optimizer': {'name': 'adamw', 'lr': 1e-3}}
    cfg.update(overrides)
    return _yaml(tmp_path, cfg, 'side.yaml')


def tiny_scene_side(tmp_path: Path) -> Path:
    """A tiny left/right classifier training config on user scenes."""
    return tiny_side(tmp_path, data='scenes', val_frames=2, rotation_deg=10.0,
                     side={'width': 4, 'input_size': 32, 'cube_mm': 600.0})


def test_shipped_configs_load_and_say_their_task():
    det = load_detector_train_config('detector_cpu')
    side = load_side_train_config('side_cpu')
    assert det.detector_config().focal_px > 0 and side.side['input_size'] == 128
    assert training_task('detector_cpu') == 'detector'
    assert training_task('side_cpu') == 'side'
    assert training_task('compact_cpu') == 'pose'


def test_unknown_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match='unknown keys'):
        load_detector_train_config(tiny_detector(tmp_path, detektor={}))
    with pytest.raises(ValueError, match='hand_prob'):
        load_detector_train_config(tiny_detector(tmp_path, scene={'hand_prob': 0.5}))


@pytest.mark.parametrize('kind', ['detector', 'side', 'scene_side'])
def test_resume_continues_exactly_and_the_checkpoint_loads(tmp_path, kind):
    load, cls, tiny = {
        'detector': (load_detector_train_config, DetectorTrainer, tiny_detector),
        'side': (load_side_train_config, SideTrainer, tiny_side),
        'scene_side': (load_side_train_config, SideTrainer, tiny_scene_side)}[kind]
    cfg = load(tiny(tmp_path))
    straight = cls(cfg, str(tmp_path / 'a'))
    straight.fit()
    expected = {k: v.clone() for k, v in straight.model.state_dict().items()}
    first = cls(cfg, str(tmp_path / 'b'))
    while first.step < 2:
        first.train_step()
        first.step += 1
    first.save()
    second = cls(cfg, str(tmp_path / 'b'))
    second.resume()
    assert second.step == 2
    second.fit()
    for k, v in second.model.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=0, atol=1e-6, msg=k)
    loader = load_detector if kind == 'detector' else load_side_classifier
    net, net_cfg, meta = loader(tmp_path / 'b' / f'{cls.KIND}.pt')
    assert meta['steps'] == 4 and net_cfg.width == 4
    assert any(k.startswith('val/') for k in meta['metrics'])
    if kind == 'scene_side':     # held-out scenes are scored per viewpoint
        assert net_cfg.cube_mm == 600.0
        assert {'val/side_accuracy_third_person', 'val/side_accuracy_egocentric',
                'val/side_accuracy_robot'} <= set(meta['metrics'])
        assert all(0.0 <= v <= 1.0 for k, v in meta['metrics'].items()
                   if k.startswith('val/side_accuracy'))
    other = load(tiny(tmp_path)) if kind != 'detector' else load(tiny_detector(tmp_path, seed=9))
    if kind == 'detector':
        with pytest.raises(CheckpointError, match='differs'):
            cls(other, str(tmp_path / 'b')).resume()
    with pytest.raises(CheckpointError, match='no'):
        cls(cfg, str(tmp_path / 'empty')).resume()


def test_a_detector_run_starts_from_the_weights_it_is_given(tmp_path):
    """init_detector: a longer run continues a trained detector (its weights at step 0, and the
    trained run's weights differ from a fresh start's), and refuses another configuration."""
    cfg = load_detector_train_config(tiny_detector(tmp_path))
    trained = DetectorTrainer(cfg, str(tmp_path / 'first'))
    trained.fit()
    start = tmp_path / 'first' / 'detector.pt'
    warm = DetectorTrainer(load_detector_train_config(
        tiny_detector(tmp_path, init_detector=str(start))), str(tmp_path / 'warm'))
    fresh = DetectorTrainer(cfg, str(tmp_path / 'fresh'))
    loaded = load_detector(start)[0].state_dict()
    for k, v in warm.model.state_dict().items():
        torch.testing.assert_close(v, loaded[k], rtol=0, atol=0, msg=k)
    assert any(not torch.equal(v, loaded[k]) for k, v in fresh.model.state_dict().items())
    # a wider detector starts with the trained one's function (its new channels silent)
    wider = DetectorTrainer(load_detector_train_config(
        tiny_detector(tmp_path, init_detector=str(start), detector={'width': 8})),
        str(tmp_path / 'wider'))
    narrow = load_detector(start)[0].eval()
    x = torch.rand(2, 2, 64, 96) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(wider.model.eval()(x), narrow(x), rtol=0, atol=1e-5)
    assert wider.model.config.width == 8
    # a narrower one cannot hold it
    wide_start = tmp_path / 'wider' / 'start.pt'
    save_checkpoint(wide_start, wider.model, wider.model.config)
    with pytest.raises(ValueError, match='detector config'):
        DetectorTrainer(load_detector_train_config(
            tiny_detector(tmp_path, init_detector=str(wide_start))), str(tmp_path / 'narrow'))
    # at another sampled focal length the same weights start a detector of that focal length
    finer = DetectorTrainer(load_detector_train_config(tiny_detector(
        tmp_path, init_detector=str(start), detector={'width': 4, 'focal_px': 200.0})),
        str(tmp_path / 'finer'))
    for k, v in finer.model.state_dict().items():
        torch.testing.assert_close(v, loaded[k], rtol=0, atol=0, msg=k)
    assert finer.model.config.focal_px == 200.0 and load_detector(start)[1].focal_px == 140.0


def test_mirrored_scenes_swap_sides_and_columns():
    from hand_pose_ros.synthetic.user_scene import UserSceneGenerator
    b = UserSceneGenerator(seed=2).sample(3, hands=2, camera='kinect_v1_640x480')
    m = mirror_scenes(b)
    assert torch.equal(m.depth_mm, b.depth_mm.flip(-1))
    assert torch.equal(m.left, b.present & ~b.left)
    w = b.intrinsics.width
    assert torch.allclose(m.center_uvd[..., 0], w - 1 - b.center_uvd[..., 0])
    from hand_pose_ros.core.camera import xyz_to_uvd
    back = xyz_to_uvd(m.hand22[:, 0, :1], m.intrinsics)[..., 0]        # mirrored joints project
    assert torch.allclose(back, w - 1 - xyz_to_uvd(b.hand22[:, 0, :1], b.intrinsics)[..., 0],
                          atol=1e-3)                                   # onto mirrored pixels


def test_side_crops_pair_each_crop_with_its_mirror_and_the_opposite_label():
    from hand_pose_ros.core.config import SideConfig
    from hand_pose_ros.core.specs import dataset_spec
    from hand_pose_ros.synthetic.generator import SyntheticGenerator
    intr = dataset_spec('icvl').intrinsics
    b = SyntheticGenerator(intr, handedness='both', seed=1).sample(4)
    x, y = side_crops(b.depth_mm, b.uvd, b.left, intr, SideConfig(width=4, input_size=64),
                      torch.Generator().manual_seed(0), 15.0)
    assert tuple(x.shape) == (8, 1, 64, 64)
    assert torch.equal(x[4:], x[:4].flip(-1))
    assert torch.equal(y[:4], b.left.float()) and torch.equal(y[4:], 1 - b.left.float())


def test_a_side_run_starts_from_the_classifier_it_is_given(tmp_path):
    """init_side: a longer run continues a trained classifier (its weights at step 0) and
    refuses one of another configuration."""
    cfg = load_side_train_config(tiny_scene_side(tmp_path))
    first = SideTrainer(cfg, str(tmp_path / 'first'))
    first.fit()
    start = tmp_path / 'first' / 'side.pt'
    warm = SideTrainer(load_side_train_config(tiny_side(
        tmp_path, data='scenes', init_side=str(start),
        side={'width': 4, 'input_size': 32, 'cube_mm': 600.0})), str(tmp_path / 'warm'))
    loaded = load_side_classifier(start)[0].state_dict()
    for k, v in warm.model.state_dict().items():
        torch.testing.assert_close(v, loaded[k], rtol=0, atol=0, msg=k)
    fresh = SideTrainer(cfg, str(tmp_path / 'fresh'))
    assert any(not torch.equal(v, loaded[k]) for k, v in fresh.model.state_dict().items())
    other = load_side_train_config(tiny_side(tmp_path, init_side=str(start),
                                             side={'width': 4, 'input_size': 64}))
    with pytest.raises(ValueError, match='side classifier config'):
        SideTrainer(other, str(tmp_path / 'other'))


def test_scene_side_crops_take_every_seen_hand_with_its_own_side():
    """Two-handed scenes: one crop per seen hand (one of each side, so both labels occur), its
    label that hand's side, centred on it without augmentation, then the mirror images with
    the opposite labels; hidden hands give no crop."""
    from hand_pose_ros.core.config import SideConfig
    from hand_pose_ros.synthetic.user_scene import UserSceneGenerator
    from hand_pose_ros.training.side_trainer import scene_side_crops
    b = UserSceneGenerator(seed=4).sample(6, hands=2, camera='kinect_v1_640x480')
    seen = b.seen
    assert bool(seen.any())
    cfg = SideConfig(width=4, input_size=32, cube_mm=600.0)
    x, y, view = scene_side_crops(b, cfg, torch.Generator().manual_seed(0), 15.0,
                                  augment=False)
    n = int(seen.sum())
    assert tuple(x.shape) == (2 * n, 1, 32, 32)
    frame, slot = seen.nonzero(as_tuple=True)
    assert torch.equal(y[:n], b.left[frame, slot].float()) and torch.equal(y[n:], 1 - y[:n])
    assert {0.0, 1.0} <= set(y[:n].tolist())
    assert torch.equal(x[n:], x[:n].flip(-1)) and torch.equal(view, b.scene[frame].repeat(2))
    # unaugmented: the crop's centre pixel lies on the hand (normalised depth near 0)
    centre = x[:n, 0, 15:17, 15:17].abs().amin((1, 2))
    assert float((centre < 0.5).float().mean()) >= 0.75
    # with a context cube: a second channel, the wider crop, mirrored with the first
    wide = SideConfig(width=4, input_size=32, cube_mm=250.0, context_cube_mm=600.0)
    xc, yc, _ = scene_side_crops(b, wide, torch.Generator().manual_seed(0), 15.0,
                                 augment=False)
    assert tuple(xc.shape) == (2 * n, 2, 32, 32) and torch.equal(yc, y)
    assert torch.equal(xc[:n, 1:], x[:n]) and torch.equal(xc[n:], xc[:n].flip(-1))


def test_side_configs_refuse_bad_turns_and_data(tmp_path):
    with pytest.raises(ValueError, match='data'):
        load_side_train_config(tiny_side(tmp_path, data='photos'))
    with pytest.raises(ValueError, match='rotation_deg'):
        load_side_train_config(tiny_side(tmp_path, rotation_deg=200.0))
    assert load_side_train_config(tiny_side(tmp_path)).rotation_deg == 180.0   # as before


def test_cli_trains_the_detector_and_reports_bad_configs(tmp_path):
    cmd = [sys.executable, '-m', 'hand_pose_ros.cli', 'train', '--config']
    done = subprocess.run(cmd + [str(tiny_detector(tmp_path, steps=1, val_every=1)), '--out',
                                 str(tmp_path / 'run')], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'run' / 'detector.pt').is_file()
    bad = subprocess.run(cmd + [str(tiny_detector(tmp_path, steps=0)), '--out',
                                str(tmp_path / 'x')], capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 2 and 'steps' in bad.stderr


def test_a_frozen_norm_run_re_estimates_the_statistics_once_and_then_keeps_them(tmp_path):
    from hand_pose_ros.training.norm_stats import batch_norm_layers
    cfg = load_detector_train_config(tiny_detector(tmp_path, recalibrate_norm_batches=2,
                                                   freeze_norm=True, steps=2, val_every=10))
    trainer = DetectorTrainer(cfg, str(tmp_path / 'run'))
    layers = batch_norm_layers(trainer.model)
    trainer.train_step()
    trainer.step += 1
    after_first = [m.running_mean.clone() for m in layers]
    assert all(int(m.num_batches_tracked) == 4 for m in layers)    # 2 batches + their mirrors
    assert any(float(s.abs().sum()) > 0 for s in after_first)
    trainer.train_step()
    assert all(torch.equal(m.running_mean, s) for m, s in zip(layers, after_first))
    assert all(int(m.num_batches_tracked) == 4 for m in layers)
    # without freezing, a step moves them
    plain = DetectorTrainer(load_detector_train_config(tiny_detector(tmp_path, steps=2)),
                            str(tmp_path / 'plain'))
    before = [m.running_mean.clone() for m in batch_norm_layers(plain.model)]
    plain.train_step()
    assert not all(torch.equal(m.running_mean, s)
                   for m, s in zip(batch_norm_layers(plain.model), before))
    with pytest.raises(ValueError, match='recalibrate_norm_batches'):
        load_detector_train_config(tiny_detector(tmp_path, recalibrate_norm_batches=-1))


def test_the_side_weight_reaches_the_training_loss(tmp_path):
    """The same first step (same seed, weights and scenes) with the left/right term weighed 0
    and 3: the losses differ by 3 times that term."""
    steps = {}
    for w in (0.0, 3.0):
        cfg = load_detector_train_config(tiny_detector(tmp_path, steps=1, side_weight=w))
        steps[w] = DetectorTrainer(cfg, str(tmp_path / f'w{w}')).train_step()
    assert steps[0.0]['side'] == pytest.approx(steps[3.0]['side'], rel=1e-5)
    assert steps[0.0]['side'] > 0.1
    assert steps[3.0]['loss'] - steps[0.0]['loss'] == pytest.approx(3.0 * steps[0.0]['side'],
                                                                    rel=1e-4)


def test_every_shipped_training_config_loads_with_its_task():
    from hand_pose_ros.training.config import load_train_config
    folder = Path(__file__).resolve().parents[2] / 'config' / 'train'
    paths = sorted(folder.glob('*.yaml'))
    assert len(paths) >= 8
    tasks = {}
    for path in paths:
        task = tasks[path.stem] = training_task(path)
        if task == 'detector':
            assert load_detector_train_config(path).detector_config().focal_px > 0
        elif task == 'side':
            assert load_side_train_config(path).steps > 0
        else:
            assert task == 'pose', path
            pose, loc = load_train_config(path).model_configs()
            assert pose.input_size > 0 and loc.input_size > 0
    assert {'detector', 'side', 'pose'} <= set(tasks.values())
    frozen = load_detector_train_config(folder / 'detector_cpu_frozen_norm.yaml')
    assert frozen.freeze_norm and frozen.recalibrate_norm_batches > 0


def test_the_depth_sweep_applies_each_way_of_reading_a_hands_depth(tmp_path):
    from hand_pose_ros.training.detector_trainer import depth_sweep, evaluate_detector, \
        validation_sets
    model = load_detector('models/compact_detector.pt')[0]
    cfg = load_detector_train_config(tiny_detector(tmp_path, val_frames=4,
                                                   detector={'width': 16}))
    sets = validation_sets(cfg, model.config)
    rows = {'own': evaluate_detector(model, sets, 0.5, own_depth=True),
            'read': evaluate_detector(model, sets, 0.5),
            # 500 mm behind the surface: no centre within 40 mm of the truth
            'absurd': evaluate_detector(model, sets, 0.5, depth={'behind_mm': 500.0})}
    found = {k: sum(v for key, v in r.items() if key.endswith('/found')) for k, r in rows.items()}
    assert found['own'] > 0 and found['read'] > 0 and found['absurd'] == 0
    sweep = depth_sweep(model, cfg, 0.5, [60.0], [20.0, 500.0], fallback=False)
    assert list(sweep) == ['network depth', 'band 60 mm, behind 20 mm',
                           'band 60 mm, behind 500 mm']
    assert sweep['network depth'] == rows['own']
    assert sum(v for k, v in sweep['band 60 mm, behind 500 mm'].items()
               if k.endswith('/found')) == 0


def test_full_resolution_scenes_are_sampled_as_inference_samples_a_camera_frame():
    """full_resolution: scenes rendered at the camera's own resolution reach the detector as a
    camera frame does (every s-th pixel from s // 2), their centres the same 3-D points in the
    sampled frame, the same scenes as those rendered at the sampled size (same seed)."""
    from hand_pose_ros.core.camera import uvd_to_xyz
    from hand_pose_ros.core.config import DetectorConfig
    from hand_pose_ros.core.detection import sample_frames
    from hand_pose_ros.training.detector_trainer import draw_scenes, sampled_scenes
    from hand_pose_ros.synthetic.user_scene import UserSceneGenerator
    det = DetectorConfig(width=4)
    full = UserSceneGenerator(det.focal_px, seed=3, full_resolution=True)
    b = full.sample(3, hands=2, camera='kinect_v1_640x480')
    s = sampled_scenes(b, det)
    small, intr, stride = sample_frames(b.depth_mm, b.intrinsics, det)
    assert stride == 4 and (s.intrinsics.width, s.intrinsics.height) == (160, 120)
    assert torch.equal(s.depth_mm, small) and s.intrinsics == intr
    assert torch.equal(s.depth_mm, b.depth_mm[:, 2::4, 2::4])
    both = b.present
    assert torch.allclose(uvd_to_xyz(s.center_uvd[both].double(), s.intrinsics),
                          uvd_to_xyz(b.center_uvd[both].double(), b.intrinsics), atol=1e-3)
    assert torch.equal(s.left, b.left) and torch.equal(s.seen, b.seen)
    # draw_scenes: the same call however the generator renders; sampled-size renders as they are
    full.reseed(5)
    low = UserSceneGenerator(det.focal_px, seed=5)
    a, c = (draw_scenes(g, det, 2, hands=1, camera='kinect_v1_640x480') for g in (full, low))
    assert a.depth_mm.shape == c.depth_mm.shape == (2, 120, 160)
    assert torch.allclose(a.center_uvd[:, 0, :2], c.center_uvd[:, 0, :2], atol=1.0)


def test_a_full_resolution_run_trains_on_sampled_camera_frames(tmp_path):
    """A detector run with full_resolution: true renders at the cameras' resolution and trains
    and validates at the sampled one (its inputs the size of a sampled camera frame)."""
    cfg = load_detector_train_config(tiny_detector(tmp_path, steps=1, full_resolution=True))
    assert cfg.full_resolution
    trainer = DetectorTrainer(cfg, str(tmp_path / 'run'))
    assert trainer.scenes.full_resolution
    seen = []
    trainer.model.register_forward_pre_hook(lambda m, x: seen.append(tuple(x[0].shape[-2:])))
    out = trainer.train_step()
    # every preset samples to 214 x 160 or less (padded to 224 x 160), its own frame >= 640 x 480
    assert out['heat'] > 0 and seen and all(h <= 160 and w <= 224 for h, w in seen)
    assert all(h % 16 == 0 and w % 16 == 0 for h, w in seen)
    val = trainer.validate()
    assert 0.0 <= val['val/robot/found'] <= 1.0
