"""Checkpoints: round trip, atomic write, weights_only, and one clear error per bad file."""
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hand_pose_ros.core import checkpoint
from hand_pose_ros.core.checkpoint import (CheckpointError, load_localizer, load_pose_model,
                                           save_checkpoint)
from hand_pose_ros.core.config import ModelConfig
from hand_pose_ros.core.nets.localizer import Localizer
from hand_pose_ros.core.nets.pose_net import PoseNet


def test_round_trip_fp32_and_fp16(tmp_path, tiny_config, tiny_localizer_config):
    net = PoseNet(tiny_config).eval()
    x = torch.randn(2, 1, 64, 64)
    for half in (False, True):
        path = tmp_path / f'pose_{half}.pt'
        save_checkpoint(path, net, tiny_config, {'steps': 5, 'note': 'x'}, half=half)
        loaded, cfg, meta = load_pose_model(path)
        assert cfg == tiny_config and meta['steps'] == 5
        with torch.no_grad():
            a, b = net(x), loaded(x)
        tol = 1e-2 if half else 1e-6
        torch.testing.assert_close(a.depths, b.depths, atol=tol, rtol=tol)
    loc = Localizer(tiny_localizer_config)
    save_checkpoint(tmp_path / 'loc.pt', loc, tiny_localizer_config)
    assert load_localizer(tmp_path / 'loc.pt')[1] == tiny_localizer_config
    assert not list(tmp_path.glob('.*tmp*')), 'temporary files left behind'


def test_load_uses_weights_only(tmp_path, tiny_config, monkeypatch):
    path = tmp_path / 'pose.pt'
    save_checkpoint(path, PoseNet(tiny_config), tiny_config)
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, 'load', spy)
    load_pose_model(path)
    assert seen.get('weights_only') is True


def test_missing_truncated_foreign_and_mismatched_files(tmp_path, tiny_config):
    with pytest.raises(CheckpointError, match='not found: .*nope.pt'):
        load_pose_model(tmp_path / 'nope.pt')
    good = tmp_path / 'pose.pt'
    save_checkpoint(good, PoseNet(tiny_config), tiny_config)
    truncated = tmp_path / 'truncated.pt'
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r'truncated.pt.*unreadable'):
        load_pose_model(truncated)
    foreign = tmp_path / 'foreign.pt'
    torch.save({'weights': torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign.pt: expected format 'hand_pose_ros/1'"):
        load_pose_model(foreign)
    with pytest.raises(CheckpointError, match="expected joint set 'nyu14', found 'icvl16'"):
        load_pose_model(good, joint_set='nyu14')
    with pytest.raises(CheckpointError, match='expected a localizer checkpoint'):
        load_localizer(good)
    # weights of another shape than the stored config says
    bad = tmp_path / 'bad.pt'
    data = torch.load(good, weights_only=True)
    data['config']['width'] = 32
    torch.save(data, bad)
    with pytest.raises(CheckpointError, match='weights do not match the stored config'):
        load_pose_model(bad)


def test_a_failed_save_keeps_the_old_file(tmp_path, tiny_config, monkeypatch):
    path = Path(tmp_path / 'pose.pt')
    save_checkpoint(path, PoseNet(tiny_config), tiny_config, {'v': 1})

    def boom(obj, f):
        f.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(checkpoint.torch, 'save', boom)
    with pytest.raises(OSError):
        save_checkpoint(path, PoseNet(tiny_config), tiny_config, {'v': 2})
    monkeypatch.undo()
    assert load_pose_model(path)[2]['v'] == 1
    assert not list(tmp_path.glob('.*tmp*'))


def test_a_file_that_does_not_name_its_mask_is_read_as_sigmoid(tmp_path, tiny_config):
    # models stored before the mask was recorded were trained with the sigmoid mask; the
    # default for new networks is the per-channel min-max one
    assert ModelConfig().attention_mask == 'channel_minmax'
    path = tmp_path / 'old.pt'
    save_checkpoint(path, PoseNet(tiny_config), tiny_config, {})
    data = torch.load(path, weights_only=True)
    del data['config']['attention_mask']
    torch.save(data, path)
    _, config, _ = load_pose_model(path)
    assert config.attention_mask == 'sigmoid'
    named = replace(tiny_config, attention_mask='heatmap_minmax')
    save_checkpoint(path, PoseNet(named), named, {})
    assert load_pose_model(path)[1].attention_mask == 'heatmap_minmax'
