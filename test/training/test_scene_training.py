"""Training on user scenes: the scene/synthetic batch mix, mirrored crops, detector-like
localizer starts, the whole-hand joint set and warm starts across joint sets."""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hand_pose_ros.core.camera import uvd_to_xyz
from hand_pose_ros.core.checkpoint import load_pose_model, save_checkpoint
from hand_pose_ros.core.config import ModelConfig
from hand_pose_ros.core.crop import hand_center_uvd
from hand_pose_ros.core.handedness import handedness_score
from hand_pose_ros.core.nets.pose_net import PoseNet
from hand_pose_ros.core.skeleton import FROM_HAND22, HAND22, ICVL16
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.training.augment import localizer_crops, pose_crops
from hand_pose_ros.training.config import load_train_config
from hand_pose_ros.training.data import SceneMixSource
from hand_pose_ros.training.trainer import Trainer
from hand_pose_ros.training.warm_start import joint_donors, warm_start_pose

TINY = {'width': 8, 'stacks': 2, 'input_size': 64, 'heatmap_size': 32, 'hourglass_depth': 3}


def _config(tmp_path: Path, **overrides):
    """A tiny whole-hand, left-handed training config on scenes."""
    model = tmp_path / 'tiny_hand22.yaml'
    model.write_text(yaml.safe_dump({'pose': {**TINY, 'joint_set': 'hand22',
                                              'handedness': 'left'},
                                     'localizer': {'width': 4, 'input_size': 64}}))
    cfg = {'model': str(model), 'steps': 2, 'batch_size': 8, 'checkpoint_every': 1,
           'val_every': 2, 'val_frames': 4, 'log_every': 1, 'threads': 1, 'save_half': False,
           'optimizer': {'name': 'adamw', 'lr': 1e-3, 'milestones': [0.5]},
           'localizer_optimizer': {'name': 'adamw', 'lr': 1e-3, 'milestones': [0.5]},
           'augment': {'rotation_deg': 0.0, 'center_jitter_mm': 0.0},
           'data': {'source': 'scenes', 'camera': 'icvl', 'scene_share': 0.5,
                    'scene_focal_px': 120.0}}
    cfg.update(overrides)
    path = tmp_path / 'train.yaml'
    path.write_text(yaml.safe_dump(cfg))
    return load_train_config(path)


def test_scene_batches_mirror_every_hand_into_the_network_side(tmp_path):
    cfg = _config(tmp_path)
    model, _ = cfg.model_configs()
    src = SceneMixSource(cfg, 'hand22', torch.device('cpu'), 0, 'left')
    parts = src.batch(3, 8)
    assert [len(p.uvd) for p in parts] == [4, 4]
    scene, synthetic = parts
    assert scene.from_detector and not synthetic.from_detector
    assert scene.uvd.shape == (4, 22, 3) and scene.mirror.shape == (4,)
    again = src.batch(3, 8)[0]
    assert torch.equal(again.depth_mm, scene.depth_mm)          # deterministic per step
    gen = torch.Generator().manual_seed(0)
    scores = []
    for p in parts:
        _, target, _ = pose_crops(p.depth_mm, p.uvd, p.intrinsics, model, cfg.augment, gen,
                                  augment=False, mirror=p.mirror)
        scores.append(handedness_score(target.double(), HAND22))
    scores = torch.cat(scores)
    # every crop target is a left hand (the network's side); a fist can score near 0
    assert int((scores < 0).sum()) >= len(scores) - 1, scores
    # the same crops unmirrored: the scene's right hands are right hands again
    raw = pose_crops(scene.depth_mm, scene.uvd, scene.intrinsics, model, cfg.augment, gen,
                     augment=False)[1]
    raw_scores = handedness_score(raw.double(), HAND22)
    flipped = scene.mirror & (raw_scores.abs() > 0.05)
    assert bool((raw_scores[flipped] > 0).all())


def test_scene_hands_can_come_from_full_resolution_frames(tmp_path):
    """data.scene_full_resolution: the scene hands of a step are cut from frames at the
    camera's own resolution and intrinsics (as inference crops a camera frame), their joints
    in those pixels; the default renders at the sampled focal length."""
    from hand_pose_ros.core.specs import camera_spec
    data = {'source': 'scenes', 'camera': 'icvl', 'scene_share': 1.0}
    sampled = SceneMixSource(_config(tmp_path, data=data), 'hand22', torch.device('cpu'), 0,
                             'left')
    cfg = _config(tmp_path, data=dict(data, scene_full_resolution=True))
    assert cfg.data.scene_full_resolution and not sampled.scenes.full_resolution
    full = SceneMixSource(cfg, 'hand22', torch.device('cpu'), 0, 'left')
    for step in (0, 1):
        (hands,) = full.batch(step, 2)
        camera = full.scenes.cameras[step % len(full.scenes.cameras)]
        own = camera_spec(camera).intrinsics
        assert hands.intrinsics == own
        assert tuple(hands.depth_mm.shape[-2:]) == (own.height, own.width)
        small = sampled.batch(step, 2)[0]
        assert small.intrinsics.width <= own.width / 2
        # the same scenes (same seeds), so the same hand: its joints in either frame's pixels
        # are the same 3-D points, to the few mm the sampled intrinsics move it
        xyz_full = uvd_to_xyz(hands.uvd[0].double(), own)
        xyz_small = uvd_to_xyz(small.uvd[0].double(), small.intrinsics)
        assert float((xyz_full - xyz_small).norm(dim=-1).max()) < 15.0


def test_wrong_side_crops_show_the_other_chirality(tmp_path):
    """With wrong_side_share, the marked crops of a step show the hand as the side the network
    is not trained on (right, for this left-handed one), every other crop its own side; 0 marks
    none and draws nothing."""
    cfg = _config(tmp_path, wrong_side_share=0.5, batch_size=16)
    trainer = Trainer(cfg, str(tmp_path / 'run'), device='cpu')
    batches = trainer.source.batch(0, 16)
    patch, target, wrong, pairs = trainer.pose_batch(batches, torch.Generator().manual_seed(0))
    assert pairs is None and patch.shape[0] == 16 and wrong.shape == (16,)
    assert 0 < int(wrong.sum()) < 16
    scores = handedness_score(target.double(), HAND22)
    clear = scores.abs() > 0.05                            # a fist can score near 0
    assert bool((scores[wrong & clear] > 0).all()) and bool((scores[~wrong & clear] < 0).all())
    assert int((wrong & clear).sum()) >= 3
    plain = Trainer(_config(tmp_path, batch_size=16), str(tmp_path / 'plain'), device='cpu')
    assert plain.pose_batch(batches, torch.Generator().manual_seed(0))[2] is None
    with pytest.raises(ValueError, match='wrong_side_share'):
        _config(tmp_path, wrong_side_share=1.0)


def test_side_pairs_show_one_hand_read_both_ways(tmp_path):
    """With side_pair_weight, each wrong-side crop is the mirror image of an own-side crop of
    the same step (one pair per wrong-side crop while own-side crops last), every own-side crop
    is cropped as its side; the pair loss is logged; without wrong-side crops it is refused."""
    cfg = _config(tmp_path, wrong_side_share=0.4, side_pair_weight=10.0, batch_size=16)
    trainer = Trainer(cfg, str(tmp_path / 'run'), device='cpu')
    batches = trainer.source.batch(0, 16)
    patch, target, wrong, pairs = trainer.pose_batch(batches, torch.Generator().manual_seed(0))
    n_wrong = int(wrong.sum())
    assert 0 < n_wrong <= 8 and pairs.shape == (n_wrong, 2)
    assert bool(wrong[pairs[:, 1]].all()) and not bool(wrong[pairs[:, 0]].any())
    assert len(set(pairs[:, 0].tolist())) == n_wrong
    for own, mirrored in pairs.tolist():
        torch.testing.assert_close(patch[mirrored], patch[own].flip(-1))
        assert not torch.equal(patch[mirrored], patch[own])
    # the own-side crops are the ones the unpaired trainer cuts for them
    plain = Trainer(_config(tmp_path, wrong_side_share=0.4, batch_size=16),
                    str(tmp_path / 'plain'), device='cpu')
    ref = plain.pose_batch(batches, torch.Generator().manual_seed(0))
    torch.testing.assert_close(wrong, ref[2])
    torch.testing.assert_close(patch[~wrong], ref[0][~wrong])
    scores = handedness_score(target.double(), HAND22)
    clear = scores.abs() > 0.05
    assert bool((scores[~wrong & clear] < 0).all())       # own side: this network's left
    logs = trainer.train_step()
    assert logs['loss/side_pair'] >= 0.0 and 'loss/side_pair' not in plain.train_step()
    with pytest.raises(ValueError, match='side_pair_weight'):
        _config(tmp_path, side_pair_weight=1.0)
    with pytest.raises(ValueError, match='side_pair_margin'):
        _config(tmp_path, wrong_side_share=0.25, side_pair_weight=1.0, side_pair_margin=0.0)


def test_whole_hand_centre_is_the_icvl16_centre():
    spec = dataset_spec('icvl')
    rng = np.random.default_rng(0)
    uvd = torch.tensor(rng.uniform([50, 50, 300], [250, 200, 500], (3, 22, 3)))
    icvl = uvd[:, list(FROM_HAND22['icvl16'])]
    assert torch.allclose(hand_center_uvd(uvd, spec.intrinsics, 'hand22'),
                          hand_center_uvd(icvl, spec.intrinsics))
    assert not torch.allclose(hand_center_uvd(uvd, spec.intrinsics),
                              hand_center_uvd(icvl, spec.intrinsics))


def test_localizer_starts_near_the_true_centre_on_scenes(tmp_path):
    cfg = _config(tmp_path, augment={'detector_jitter_mm': [0.0, 0.0]})
    _, loc = cfg.model_configs()
    src = SceneMixSource(cfg, 'hand22', torch.device('cpu'), 0, 'left')
    scene = src.batch(1, 8)[0]
    gen = torch.Generator().manual_seed(0)
    _, target, kept = localizer_crops(scene.depth_mm, scene.uvd, scene.intrinsics, loc, 100.0,
                                      1500.0, cfg.augment, gen, augment=False,
                                      joint_set='hand22', from_detector=True)
    assert len(kept) == 4
    assert float(target.abs().max()) < 1e-4        # zero jitter: the crop is centred on it


def test_joint_donors_from_icvl16_to_the_whole_hand():
    donors = joint_donors(ICVL16, HAND22)
    names = [ICVL16.joint_names[d] for d in donors]
    assert names[HAND22.index('wrist')] == 'palm'
    assert names[HAND22.index('index_tip')] == 'index_tip'
    assert names[HAND22.index('index_dip')] == 'index_tip'          # its child
    assert names[HAND22.index('thumb_cmc')] == 'thumb_root'
    assert names[HAND22.index('thumb_ip')] == 'thumb_mid'


def test_warm_start_reproduces_the_old_network_on_its_joints(tmp_path):
    old_cfg = ModelConfig(**TINY, joint_set='icvl16', handedness='left')
    torch.manual_seed(0)
    old = PoseNet(old_cfg).eval()
    path = tmp_path / 'old.pt'
    save_checkpoint(path, old, old_cfg, {})
    new = PoseNet(ModelConfig(**TINY, joint_set='hand22', handedness='left'))
    info = warm_start_pose(new, str(path))
    assert info['joints'] == 'icvl16 -> hand22'
    new.eval()
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        a, b = old(x), new(x)
    sel = list(FROM_HAND22['icvl16'])
    # the extra joints' feedback into the second hourglass starts at zero, so both stacks and
    # the depth head give the old network's outputs on the joints it had
    assert torch.allclose(b.heatmaps[:, :, sel], a.heatmaps, atol=1e-5)
    assert torch.allclose(b.depths[:, sel], a.depths, atol=1e-5)
    with pytest.raises(ValueError, match='width'):
        warm_start_pose(PoseNet(ModelConfig(**{**TINY, 'width': 16}, joint_set='hand22')),
                        str(path))


def test_trainer_runs_on_scenes_from_a_warm_start(tmp_path):
    old_cfg = ModelConfig(**TINY, joint_set='icvl16', handedness='left')
    save_checkpoint(tmp_path / 'old.pt', PoseNet(old_cfg), old_cfg, {})
    cfg = _config(tmp_path, init_pose=str(tmp_path / 'old.pt'))
    trainer = Trainer(cfg, str(tmp_path / 'run'), device='cpu')
    try:
        metrics = trainer.fit()
    finally:
        trainer.close()
    net, config, meta = load_pose_model(tmp_path / 'run' / 'pose.pt')
    assert config.joint_set == 'hand22' and config.handedness == 'left'
    assert meta['steps'] == 2 and meta['train_config']['init_pose'].endswith('old.pt')
    assert np.isfinite(metrics['val/mean_error_mm_with_localizer'])


def test_scene_viewpoint_mix_is_configurable(tmp_path):
    """data.scene_probs weighs the viewpoints the scene hands come from (third person,
    egocentric, robot); bad weights are refused when the config is read."""
    cfg = _config(tmp_path, data={'source': 'scenes', 'camera': 'icvl', 'scene_share': 1.0,
                                  'scene_focal_px': 120.0, 'scene_probs': [0, 1, 0]})
    assert cfg.data.scene_probs == (0.0, 1.0, 0.0)
    src = SceneMixSource(cfg, 'hand22', torch.device('cpu'), 0, 'left')
    assert src.scenes.sample(6).scene.tolist() == [1] * 6          # egocentric only
    default = SceneMixSource(_config(tmp_path), 'hand22', torch.device('cpu'), 0, 'left')
    assert len(set(default.scenes.sample(32).scene.tolist())) > 1
    for bad in ([1, 1], [1, -1, 1], [0, 0, 0]):
        with pytest.raises(ValueError, match='scene_probs'):
            _config(tmp_path, data={'source': 'scenes', 'scene_probs': bad})
