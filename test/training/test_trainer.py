"""Training: it runs, resumes exactly, survives SIGKILL, and runs as 2 DDP processes (gloo)."""
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from hand_pose_ros.core.checkpoint import load_localizer, load_pose_model
from hand_pose_ros.core.precision import native_bf16
from hand_pose_ros.training.config import load_train_config
from hand_pose_ros.training.trainer import STATE_FILE, Trainer, use_bf16

TINY_MODEL = {
    'pose': {'width': 8, 'stacks': 1, 'input_size': 64, 'heatmap_size': 32, 'hourglass_depth': 3},
    'localizer': {'width': 4, 'input_size': 64},
}


def tiny_config(tmp_path: Path, **overrides) -> Path:
    """A YAML training config of a tiny model, written to tmp_path."""
    model = tmp_path / 'tiny_model.yaml'
    model.write_text(yaml.safe_dump(TINY_MODEL))
    cfg = {'model': str(model), 'steps': 6, 'batch_size': 4, 'checkpoint_every': 2,
           'val_every': 3, 'val_frames': 4, 'log_every': 1, 'threads': 1, 'save_half': False,
           'optimizer': {'name': 'adamw', 'lr': 1e-3, 'milestones': [0.5]},
           'localizer_optimizer': {'name': 'adamw', 'lr': 1e-3, 'milestones': [0.5]},
           'data': {'source': 'synthetic', 'camera': 'icvl'}}
    cfg.update(overrides)
    path = tmp_path / 'tiny_train.yaml'
    path.write_text(yaml.safe_dump(cfg))
    return path


def _weights(trainer: Trainer):
    return {k: v.clone() for k, v in trainer.pose.state_dict().items()}


def test_shipped_configs_load():
    for name in ('paper', 'compact_cpu'):
        cfg = load_train_config(name)
        pose, loc = cfg.model_configs()
        assert pose.joint_set == 'icvl16' and loc.input_size == 128
    paper = load_train_config('paper')
    assert (paper.batch_size, paper.optimizer.name, paper.optimizer.lr) == (32, 'sgd', 0.1)
    assert (paper.optimizer.momentum, paper.optimizer.weight_decay) == (0.9, 5e-5)
    assert len(paper.optimizer.milestones) == 2 and paper.optimizer.gamma == 0.1


def test_unknown_train_key_is_refused(tmp_path):
    path = tiny_config(tmp_path, optimiser={'lr': 1})
    with pytest.raises(ValueError, match='unknown keys'):
        load_train_config(path)


def test_amp_setting_is_checked_and_resolved(tmp_path):
    with pytest.raises(ValueError, match='amp must be auto|bf16|off'):
        load_train_config(tiny_config(tmp_path, amp='fp16'))
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    assert use_bf16('auto', cuda) and use_bf16('bf16', cpu) and not use_bf16('off', cuda)
    assert use_bf16('auto', cpu) == native_bf16()     # bf16 emulation would be slower


def test_a_fixed_val_seed_validates_runs_of_other_seeds_on_the_same_frames(tmp_path):
    """data.val_seed: two runs of different seeds render the same validation frames (and
    none of a training step's); without it each run's seed picks its own frames."""
    from hand_pose_ros.training.data import SyntheticSource

    def frames(seed, val_seed=None):
        data = {'source': 'synthetic', 'camera': 'icvl'}
        if val_seed is not None:
            data['val_seed'] = val_seed
        cfg = load_train_config(tiny_config(tmp_path, seed=seed, data=data))
        source = SyntheticSource(cfg, 'icvl16', torch.device('cpu'))
        return source.validation_frames(cfg, 'icvl16', 'right')[0], source.batch(0, 4)

    a, batch_a = frames(1, 3_000_017)
    b, _ = frames(2, 3_000_017)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, batch_a.depth_mm.numpy())
    c, _ = frames(1)
    d, _ = frames(2)
    assert not np.array_equal(c, d) and not np.array_equal(a, c)
    for bad in (-1, 'x', True, 1.5):
        with pytest.raises(ValueError, match='val_seed'):
            load_train_config(tiny_config(tmp_path, data={'source': 'synthetic',
                                                          'val_seed': bad}))


def test_resume_continues_exactly(tmp_path):
    cfg = load_train_config(tiny_config(tmp_path))
    straight = Trainer(cfg, str(tmp_path / 'a'), device='cpu')
    straight.fit()
    expected = _weights(straight)
    straight.close()

    first = Trainer(cfg, str(tmp_path / 'b'), device='cpu')
    while first.step < 4:                       # stop after the step-4 checkpoint
        first.train_step()
        first.step += 1
    first.save()
    first.close()
    second = Trainer(cfg, str(tmp_path / 'b'), device='cpu')
    second.resume()
    assert second.step == 4
    second.fit()
    for k, v in _weights(second).items():
        torch.testing.assert_close(v, expected[k], rtol=0, atol=1e-6, msg=k)
    second.close()
    model, mcfg, meta = load_pose_model(tmp_path / 'b' / 'pose.pt')
    assert meta['steps'] == 6 and mcfg.width == 8
    assert load_localizer(tmp_path / 'b' / 'localizer.pt')[2]['steps'] == 6
    assert (tmp_path / 'b' / 'tensorboard').is_dir()


def _env() -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = str(Path(__file__).resolve().parents[2]) + os.pathsep + \
        env.get('PYTHONPATH', '')
    return env


def test_sigkill_mid_run_then_resume_finishes(tmp_path):
    cfg = tiny_config(tmp_path, steps=40, checkpoint_every=3, val_every=1000)
    out = tmp_path / 'run'
    cmd = [sys.executable, '-m', 'hand_pose_ros.cli', 'train', '--config', str(cfg),
           '--out', str(out), '--device', 'cpu']
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    state = out / STATE_FILE
    deadline = time.monotonic() + 300
    step = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists():
            step = torch.load(state, weights_only=True)['step']
            if step >= 6:
                break
        time.sleep(0.2)
    assert proc.poll() is None, 'training ended before it could be killed: make it longer'
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    saved = torch.load(state, weights_only=True)['step']     # the file is whole (atomic)
    assert 6 <= saved < 40
    done = subprocess.run(cmd + ['--resume'], env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'resumed from {state} at step {saved}' in done.stdout + done.stderr
    assert torch.load(state, weights_only=True)['step'] == 40
    assert load_pose_model(out / 'pose.pt')[2]['steps'] == 40


def test_resume_without_state_is_a_clear_error(tmp_path):
    cfg = tiny_config(tmp_path)
    done = subprocess.run([sys.executable, '-m', 'hand_pose_ros.cli', 'train', '--config',
                           str(cfg), '--out', str(tmp_path / 'none'), '--resume'],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert 'no training state at' in done.stderr and 'Traceback' not in done.stderr


def test_two_process_ddp_with_gloo(tmp_path):
    cfg = tiny_config(tmp_path, steps=4, val_every=1000)
    out = tmp_path / 'ddp'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc-per-node', '2',
           '--master-port', str(29500 + os.getpid() % 1000), '--module', 'hand_pose_ros.cli',
           'train', '--config', str(cfg), '--out', str(out), '--device', 'cpu']
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    meta = load_pose_model(out / 'pose.pt')[2]
    assert meta['world_size'] == 2 and meta['steps'] == 4


def test_checkpoints_record_the_commit_or_unknown(tmp_path, monkeypatch):
    from hand_pose_ros.training import trainer as trainer_module
    commit = trainer_module.git_commit()
    assert commit and commit != ''                       # never the empty string
    inside = (Path(trainer_module.__file__).parents[2] / '.git').exists()
    if inside:
        assert commit != 'unknown' and len(commit.split('-')[0]) >= 7
    # where git cannot tell (no checkout, no git): 'unknown'
    monkeypatch.setattr(trainer_module, 'Path', lambda *_: tmp_path / 'pkg' / 'x.py')
    (tmp_path / 'pkg').mkdir()
    assert trainer_module.git_commit() == 'unknown'
