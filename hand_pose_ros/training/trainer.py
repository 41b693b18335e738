"""The training loop: localizer and pose net on the same frames, resumable, DDP-ready.

Each step renders (or loads) one batch of full frames, makes localizer crops at the centre of
mass and pose crops around the jittered true centre (training/augment.py, i.e. the inference
crop code), and takes one optimiser step per model. Checkpoints are atomic and hold everything
needed to continue exactly: weights, optimisers, schedulers, step and RNG states.
"""
import logging
import math
import os
from pathlib import Path
import random
import subprocess
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .augment import localizer_crops, pose_crops
from .config import OptimConfig, TrainConfig
from .data import Batch, DatasetSource, make_dataset, SceneMixSource, step_seed, SyntheticSource
from .losses import localizer_loss, pose_loss
from ..core.checkpoint import atomic_torch_save, CheckpointError, save_checkpoint
from ..core.estimator import HandPoseEstimator, select_device
from ..core.nets.localizer import Localizer
from ..core.nets.pose_net import PoseNet
from ..core.precision import cpu_isa, memory_format, native_bf16

LOG = logging.getLogger('hand_pose_ros.train')
STATE_FILE = 'train_state.pt'


def use_bf16(amp: str, device: torch.device) -> bool:
    """Whether to train under bf16 autocast: 'auto' = CUDA, or a CPU with native bf16."""
    if amp == 'auto':
        return device.type == 'cuda' or (device.type == 'cpu' and native_bf16())
    return amp == 'bf16'


def git_commit() -> str:
    """The source commit ('-dirty' with uncommitted changes), or 'unknown' where git cannot
    tell (not a checkout, no git, a repository git refuses to read)."""
    try:
        done = subprocess.run(['git', 'describe', '--always', '--dirty', '--abbrev=12'],
                              capture_output=True, text=True, cwd=Path(__file__).parent,
                              timeout=5)
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else 'unknown'


def _optimizer(params, cfg: OptimConfig, steps: int):
    """Optimizer and LambdaLR scheduler (linear warm-up, lr x gamma at each milestone)."""
    if cfg.name == 'sgd':
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    marks = [m * steps if m < 1 else m for m in cfg.milestones]

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        return warm * cfg.gamma ** sum(step >= m for m in marks)

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _rng_state() -> Dict[str, Any]:
    """Every global RNG state, in types torch.load(weights_only=True) accepts."""
    np_state = np.random.get_state()
    state = {'torch': torch.get_rng_state(), 'python': list(random.getstate()[1]),
             'python_pos': random.getstate()[2],
             'numpy': torch.from_numpy(np_state[1].astype(np.int64)), 'numpy_pos': np_state[2]}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    """Restore what _rng_state saved."""
    torch.set_rng_state(state['torch'])
    random.setstate((3, tuple(state['python']), state['python_pos']))
    np.random.set_state(('MT19937', state['numpy'].numpy().astype(np.uint32),
                         state['numpy_pos'], 0, 0.0))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def _mirror_pairs(wrong: torch.Tensor) -> torch.Tensor:
    """(P, 2) long (own-side crop, wrong-side crop) index pairs: the k-th wrong-side crop of
    (B,) ``wrong`` with the k-th own-side crop, as many as both have."""
    mirrored = torch.nonzero(wrong).flatten()
    own = torch.nonzero(~wrong).flatten()
    p = min(len(mirrored), len(own))
    return torch.stack([own[:p], mirrored[:p]], dim=1)


def _flipped(mirror: Optional[torch.Tensor], wrong: torch.Tensor, n: int
             ) -> Optional[torch.Tensor]:
    """A batch part's mirror flags (None: none mirrored) with the ``wrong`` crops flipped."""
    if not bool(wrong.any()):
        return mirror
    base = torch.zeros(n, dtype=torch.bool) if mirror is None else mirror.cpu().bool()
    return base ^ wrong


def read_train_state(path: Path, device: torch.device, what: str) -> Dict[str, Any]:
    """A saved training state (weights_only); CheckpointError when ``path`` is missing or
    unreadable (``what`` names the run kind in the message)."""
    if not path.is_file():
        raise CheckpointError(f'--resume: no {what} state at {path}')
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:   # torch raises several types for truncated or foreign files
        raise CheckpointError(f'--resume: cannot read {path} ({exc.__class__.__name__})') \
            from None


class Trainer:
    """Owns models, optimisers, data and logging of one run in ``out_dir``."""

    def __init__(self, cfg: TrainConfig, out_dir: str, data_root: Optional[str] = None,
                 device: str = 'auto') -> None:
        self.cfg, self.out = cfg, Path(out_dir)
        self.world = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        self.device = select_device(device)
        if self.world > 1 and not dist.is_initialized():
            if self.device.type == 'cuda':
                self.device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', '0')))
                torch.cuda.set_device(self.device)
            dist.init_process_group('nccl' if self.device.type == 'cuda' else 'gloo')
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed + self.rank)
        self.model_cfg, self.loc_cfg = cfg.model_configs()
        self.pose = PoseNet(self.model_cfg) if cfg.train_pose else None
        self.loc = Localizer(self.loc_cfg) if cfg.train_localizer else None
        if self.pose is not None and cfg.init_pose:
            from .warm_start import warm_start_pose
            warm_start_pose(self.pose, cfg.init_pose)
        if self.loc is not None and cfg.init_localizer:
            from .warm_start import warm_start_localizer
            warm_start_localizer(self.loc, cfg.init_localizer)
        self.pose = self.pose.to(self.device) if self.pose is not None else None
        self.loc = self.loc.to(self.device) if self.loc is not None else None
        self.bf16 = use_bf16(cfg.amp, self.device)
        # NCHW or channels_last by the CPU's ISA and the layers (core/precision.py)
        nets = [n for n in (self.pose, self.loc) if n is not None]
        self.memory_format = memory_format(nets, self.device, training=True)
        for net in nets:
            net.to(memory_format=self.memory_format)
        LOG.info('training on %s (%s): %s, %s', self.device,
                 cpu_isa() if self.device.type == 'cpu' else 'cuda',
                 'bf16 autocast' if self.bf16 else 'fp32',
                 'channels_last' if self.memory_format == torch.channels_last else 'NCHW')
        self.opt: Dict[str, Any] = {}
        self.sched: Dict[str, Any] = {}
        for name, model, ocfg in (('pose', self.pose, cfg.optimizer),
                                  ('localizer', self.loc, cfg.localizer_optimizer)):
            if model is not None:
                self.opt[name], self.sched[name] = _optimizer(model.parameters(), ocfg, cfg.steps)
        self.pose_ddp = self._wrap(self.pose)
        self.loc_ddp = self._wrap(self.loc)
        self.step = 0
        self.wall_s = 0.0
        self.metrics: Dict[str, float] = {}
        root = data_root or cfg.data.root
        if cfg.data.source in ('synthetic', 'scenes'):
            kind = SyntheticSource if cfg.data.source == 'synthetic' else SceneMixSource
            self.source = kind(cfg, self.model_cfg.joint_set, self.device, self.rank,
                               self.model_cfg.handedness)
        else:
            if not root:
                raise ValueError(f'data.source {cfg.data.source!r} needs --data-root')
            self.source = DatasetSource(cfg, make_dataset(cfg, root, 'train'), self.device,
                                        self.rank, self.world, self.model_cfg.handedness)
        self.writer = None
        if self.rank == 0:
            from torch.utils.tensorboard import SummaryWriter
            self.out.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(self.out / 'tensorboard'))
        self._val = None

    def _wrap(self, model):
        """DDP wrapper when running distributed, else the model itself."""
        if model is None or self.world == 1:
            return model
        ids = [self.device.index] if self.device.type == 'cuda' else None
        return DistributedDataParallel(model, device_ids=ids)

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue exactly."""
        state = {'format': 'hand_pose_ros/train-state/1', 'step': self.step,
                 'wall_s': self.wall_s, 'config': self.cfg.to_dict(), 'rng': _rng_state(),
                 'metrics': dict(self.metrics)}
        for name, model in (('pose', self.pose), ('localizer', self.loc)):
            if model is not None:
                state[name] = model.state_dict()
                state[name + '_opt'] = self.opt[name].state_dict()
                state[name + '_sched'] = self.sched[name].state_dict()
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a state_dict() (the config must match the one this trainer was built with)."""
        stored, given = state.get('config') or {}, self.cfg.to_dict()
        if stored != given:
            keys = sorted(k for k in set(stored) | set(given) if stored.get(k) != given.get(k))
            raise CheckpointError(f'resume: the stored training config differs from the one '
                                  f'given in {keys}; resume with the same config')
        for name, model in (('pose', self.pose), ('localizer', self.loc)):
            if model is not None:
                model.load_state_dict(state[name])
                self.opt[name].load_state_dict(state[name + '_opt'])
                self.sched[name].load_state_dict(state[name + '_sched'])
        self.step, self.wall_s = int(state['step']), float(state['wall_s'])
        self.metrics = dict(state.get('metrics', {}))
        _set_rng_state(state['rng'])

    def weight_files(self) -> Dict[str, Path]:
        """The inference checkpoint of each network this run trains ('pose', 'localizer')."""
        return {name: self.out / f'{name}.pt'
                for name, net in (('pose', self.pose), ('localizer', self.loc)) if net is not None}

    def save(self) -> None:
        """Atomic training state + inference checkpoints (rank 0 only)."""
        if self.rank != 0:
            return
        atomic_torch_save(self.state_dict(), self.out / STATE_FILE)
        meta = {'steps': self.step, 'wall_time_s': round(self.wall_s, 1), 'commit': git_commit(),
                'device': str(self.device), 'world_size': self.world,
                'train_config': self.cfg.to_dict(), 'metrics': dict(self.metrics)}
        nets = {'pose': (self.pose, self.model_cfg), 'localizer': (self.loc, self.loc_cfg)}
        for name, path in self.weight_files().items():
            save_checkpoint(path, *nets[name], meta, half=self.cfg.save_half)

    def resume(self) -> None:
        """Continue from out_dir/train_state.pt; CheckpointError when it is missing or bad."""
        path = self.out / STATE_FILE
        self.load_state_dict(read_train_state(path, self.device, 'training'))
        LOG.info('resumed from %s at step %d', path, self.step)

    # -- steps ---------------------------------------------------------------------------
    def train_step(self) -> Dict[str, float]:
        """One optimiser step of each model on the frames of step ``self.step``."""
        cfg = self.cfg
        batches = self.source.batch(self.step, cfg.batch_size)
        batches = batches if isinstance(batches, list) else [batches]
        gen = torch.Generator().manual_seed(step_seed(cfg.seed, self.rank, self.step) ^ 0x5EED)
        amp = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        logs: Dict[str, float] = {}
        joint_set = self.model_cfg.joint_set
        if self.pose is not None:
            self.pose.train()
            patch, target, wrong_side, pairs = self.pose_batch(batches, gen)
            with amp:
                out = self.pose_ddp(patch)
            loss, parts = pose_loss(out, target, self.model_cfg.sigma, cfg.depth_weight,
                                    wrong_side=wrong_side, side_pairs=pairs,
                                    pair_weight=cfg.side_pair_weight,
                                    pair_margin=cfg.side_pair_margin)
            self._apply('pose', self.pose, loss, cfg.optimizer)
            logs['loss/pose'] = float(loss.detach())
            logs.update({f'loss/{k}': float(v.detach()) for k, v in parts.items()})
        if self.loc is not None:
            self.loc.train()
            crops = [localizer_crops(b.depth_mm, b.uvd, b.intrinsics, self.loc_cfg, cfg.near_mm,
                                     cfg.far_mm, cfg.augment, gen, joint_set=joint_set,
                                     from_detector=b.from_detector) for b in batches]
            patch = torch.cat([c[0] for c in crops])
            target = torch.cat([c[1] for c in crops])
            if patch.shape[0] > 1:
                patch = patch.contiguous(memory_format=self.memory_format)
                with amp:
                    pred = self.loc_ddp(patch)
                loss = localizer_loss(pred, target)
                self._apply('localizer', self.loc, loss, cfg.localizer_optimizer)
                logs['loss/localizer'] = float(loss.detach())
        for name, sched in self.sched.items():
            logs[f'lr/{name}'] = sched.get_last_lr()[0]
        return logs

    def pose_batch(self, batches: List[Batch], gen: torch.Generator
                   ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor],
                              Optional[torch.Tensor]]:
        """The pose network's (B, 1, S, S) crops and (B, J, 3) normalised targets of one step's
        batch parts, which crops show the other side (None when cfg.wrong_side_share is 0), and
        the (P, 2) (own-side crop, its mirror image) index pairs (None unless
        cfg.side_pair_weight > 0: then each wrong-side crop is an own-side crop mirrored)."""
        cfg = self.cfg
        paired = cfg.side_pair_weight > 0.0
        wrong = [self._wrong_side(b.depth_mm.shape[0], gen) for b in batches]
        crops = [pose_crops(b.depth_mm, b.uvd, b.intrinsics, self.model_cfg, cfg.augment, gen,
                            mirror=(b.mirror if paired else
                                    _flipped(b.mirror, w, b.depth_mm.shape[0])))
                 for b, w in zip(batches, wrong)]
        patch = torch.cat([c[0] for c in crops])
        target = torch.cat([c[1] for c in crops])
        wrong_all = torch.cat(wrong)
        pairs = None
        if paired:
            pairs = _mirror_pairs(wrong_all)
            # a crop mirrored about its centre is the hand's crop read the other way
            # (core/crop.py); a wrong-side crop left without a partner is its own mirror
            own, mirrored = pairs[:, 0], pairs[:, 1]
            alone = wrong_all.clone()
            alone[mirrored] = False
            patch[mirrored] = patch[own].flip(-1)
            patch[alone] = patch[alone].flip(-1)
        patch = patch.contiguous(memory_format=self.memory_format)
        return patch, target, None if cfg.wrong_side_share == 0 else wrong_all, pairs

    def _wrong_side(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n,) bool: the crops of a batch part shown as the other side (cfg.wrong_side_share;
        no random draw when it is 0, so earlier runs replay exactly)."""
        if self.cfg.wrong_side_share == 0:
            return torch.zeros(n, dtype=torch.bool)
        return torch.rand(n, generator=gen) < self.cfg.wrong_side_share

    def _apply(self, name: str, model, loss: torch.Tensor, ocfg: OptimConfig) -> None:
        """Backward, optional clipping, optimiser and scheduler step; refuses non-finite losses."""
        if not torch.isfinite(loss):
            raise FloatingPointError(f'{name} loss is {float(loss)} at step {self.step}: '
                                     'lower the learning rate or check the data')
        self.opt[name].zero_grad(set_to_none=True)
        loss.backward()
        if ocfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), ocfg.grad_clip)
        self.opt[name].step()
        self.sched[name].step()

    # -- validation ----------------------------------------------------------------------
    def _val_frames(self):
        """The data source's held-out frames (training/data.py), read or rendered once."""
        if self._val is None:
            self._val = self.source.validation_frames(self.cfg, self.model_cfg.joint_set,
                                                      self.model_cfg.handedness)
        return self._val

    def validate(self) -> Dict[str, float]:
        """Mean 3D error (mm) on the held-out frames through the inference estimator."""
        if self.pose is None or self.rank != 0 or self.cfg.val_frames < 1:
            return {}
        from ..core.camera import uvd_to_xyz
        depth, uvd, intr = self._val_frames()
        gt = uvd_to_xyz(uvd.astype(np.float64), intr)
        out = {}
        for tag, loc in (('with_localizer', self.loc), ('com_only', None)):
            if tag == 'with_localizer' and loc is None:
                continue
            est = HandPoseEstimator(self.pose, loc, device=self.device,
                                    near_mm=self.cfg.near_mm, far_mm=self.cfg.far_mm,
                                    handedness=self.model_cfg.handedness)
            errs = []
            for start in range(0, len(depth), 16):
                for k, r in enumerate(est.estimate_batch(list(depth[start:start + 16]), intr)):
                    if r.pose is not None:
                        errs.append(np.linalg.norm(r.pose.xyz - gt[start + k], axis=-1).mean())
            out[f'val/mean_error_mm_{tag}'] = float(np.mean(errs)) if errs else math.nan
            out[f'val/found_{tag}'] = len(errs) / len(depth)
        return out

    # -- loop ----------------------------------------------------------------------------
    def fit(self) -> Dict[str, float]:
        """Train up to cfg.steps, checkpointing and validating on the way; returns metrics."""
        from tqdm import tqdm
        cfg = self.cfg
        bar = tqdm(total=cfg.steps, initial=self.step, disable=self.rank != 0, mininterval=2,
                   desc='train', dynamic_ncols=True)
        t_last = time.perf_counter()
        while self.step < cfg.steps:
            logs = self.train_step()
            self.step += 1
            now = time.perf_counter()
            self.wall_s += now - t_last
            t_last = now
            bar.update(1)
            if self.writer and (self.step % cfg.log_every == 0 or self.step == 1):
                for k, v in logs.items():
                    self.writer.add_scalar(k, v, self.step)
                bar.set_postfix({k.split('/')[-1]: f'{v:.4f}' for k, v in logs.items()
                                 if k.startswith('loss/')})
            if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                self.metrics = self.validate()
                if self.writer:
                    for k, v in self.metrics.items():
                        self.writer.add_scalar(k, v, self.step)
                LOG.info('step %d: %s', self.step, self.metrics)
                t_last = time.perf_counter()
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self.save()
                t_last = time.perf_counter()
        bar.close()
        if self.writer:
            self.writer.flush()
        return self.metrics

    def close(self) -> None:
        """Release the writer and the process group."""
        if self.writer:
            self.writer.close()
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
