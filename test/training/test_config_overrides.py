"""`hand-pose train --set KEY=VALUE` and the per-run pose overrides the ablation uses."""
import subprocess
import sys

import pytest
import yaml

from hand_pose_ros.core.config import VARIANTS
from hand_pose_ros.training.config import apply_overrides, load_train_config
from hand_pose_ros.training.detector_trainer import load_detector_train_config
from hand_pose_ros.training.trainer import Trainer
from .test_trainer import tiny_config


def test_set_replaces_nested_values_and_reads_yaml_types():
    data = {'steps': 10, 'optimizer': {'lr': 0.1, 'name': 'sgd'}, 'pose': None}
    out = apply_overrides(data, ['optimizer.lr=1e-3', 'steps=20', 'pose.variant=plain',
                                 'optimizer.milestones=[0.5, 0.8]', 'augment.rotation_deg=15'])
    assert out == {'steps': 20, 'optimizer': {'lr': 1e-3, 'name': 'sgd',
                                              'milestones': [0.5, 0.8]},
                   'pose': {'variant': 'plain'}, 'augment': {'rotation_deg': 15}}
    assert data['optimizer']['lr'] == 0.1 and data['pose'] is None     # the input is untouched


@pytest.mark.parametrize('bad, message', [('steps', 'KEY=VALUE'), ('=3', 'KEY=VALUE'),
                                          ('steps.x=3', 'not a section')])
def test_set_refuses_malformed_items(bad, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides({'steps': 10}, [bad])


def test_pose_overrides_change_only_the_named_fields(tmp_path):
    path = tiny_config(tmp_path)
    base = load_train_config(path).model_configs()[0]
    cfg = load_train_config(path, ['pose.variant=two_branch',
                                   'pose.attention_mask=channel_minmax'])
    pose = cfg.model_configs()[0]
    assert (pose.variant, pose.attention_mask) == ('two_branch', 'channel_minmax')
    assert pose.width == base.width == 8 and pose.stacks == base.stacks
    assert cfg.to_dict()['pose'] == {'variant': 'two_branch', 'attention_mask': 'channel_minmax'}


def test_bad_pose_override_is_a_clear_error(tmp_path):
    cfg = load_train_config(tiny_config(tmp_path), ['pose.variant=attentive'])
    with pytest.raises(ValueError, match='variant must be one of'):
        cfg.model_configs()
    cfg = load_train_config(tiny_config(tmp_path), ['pose.widht=16'])
    with pytest.raises(ValueError, match='unknown keys'):
        cfg.model_configs()
    with pytest.raises(ValueError, match='unknown keys'):
        load_train_config(tiny_config(tmp_path), ['optimiser.lr=1'])


def test_unknown_small_net_key_through_set_is_refused():
    assert load_detector_train_config('detector_cpu', ['steps=7']).steps == 7
    with pytest.raises(ValueError, match='unknown keys'):
        load_detector_train_config('detector_cpu', ['stepz=7'])
    assert load_detector_train_config('detector_cpu', ['side_weight=5']).side_weight == 5.0
    with pytest.raises(ValueError, match='side_weight must be >= 0'):
        load_detector_train_config('detector_cpu', ['side_weight=-1'])


def test_ablation_config_trains_each_variant_from_one_recipe():
    """The shipped ablation recipe: pose net only, every variant a --set away."""
    base = load_train_config('ablation_cpu')
    assert not base.train_localizer and base.steps >= 1500 and base.data.source == 'synthetic'
    for variant in VARIANTS:
        pose = load_train_config('ablation_cpu', [f'pose.variant={variant}']).model_configs()[0]
        assert pose.variant == variant and pose.width == 32 and pose.stacks == 2


def test_resume_with_other_overrides_is_refused(tmp_path):
    """The overrides are part of the stored config: resuming with others must not mix runs."""
    path = tiny_config(tmp_path, steps=2, checkpoint_every=1, val_every=100,
                       train_localizer=False)
    out = tmp_path / 'run'
    first = Trainer(load_train_config(path, ['pose.variant=plain']), out, device='cpu')
    first.fit()
    first.close()
    other = Trainer(load_train_config(path, ['pose.variant=direct']), out, device='cpu')
    with pytest.raises(Exception, match='differs'):
        other.resume()
    other.close()


def test_cli_set_reaches_the_trained_checkpoint(tmp_path):
    path = tiny_config(tmp_path, steps=1, val_every=100, train_localizer=False)
    out = tmp_path / 'run'
    run = subprocess.run([sys.executable, '-m', 'hand_pose_ros.cli', 'train', '--config',
                          str(path), '--out', str(out), '--set', 'pose.variant=direct'],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f'weights in {out}/pose.pt\n' in run.stdout            # no localizer trained
    assert not (out / 'localizer.pt').exists()
    from hand_pose_ros.core.checkpoint import load_pose_model
    model, cfg, meta = load_pose_model(out / 'pose.pt')
    assert cfg.variant == 'direct' and meta['train_config']['pose'] == {'variant': 'direct'}
    bad = subprocess.run([sys.executable, '-m', 'hand_pose_ros.cli', 'train', '--config',
                          str(path), '--out', str(tmp_path / 'bad'), '--set', 'steps'],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and 'KEY=VALUE' in bad.stderr
    assert yaml.safe_load(path.read_text())['steps'] == 1           # the file is not rewritten
