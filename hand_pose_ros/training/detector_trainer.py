"""Training the whole-frame hand detector on rendered user scenes (synthetic/user_scene.py).

Each step renders one batch of scenes of one camera preset (a different one each step) and
adds its horizontal mirror image with the sides swapped (a mirrored right hand is a left hand,
core/handedness.py), so every pose is seen as both hands. Checkpoints are atomic and hold
everything needed to continue exactly (weights, optimiser, scheduler, step, RNG states);
validation runs on held-out scene sets of fixed seeds, one per scene type plus hand-free
frames, through the inference decoding (core/detection.py).
"""
from dataclasses import asdict, dataclass, field
import logging
import math
from pathlib import Path
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .config import _from_dict, OptimConfig, read_train_yaml
from .detector_targets import detector_loss, detector_targets
from .norm_stats import freeze_batch_norm, recalibrate_batch_norm
from .scene_eval import match_hands, scene_truth
from .trainer import (_optimizer, _rng_state, _set_rng_state, git_commit, read_train_state,
                      use_bf16)
from ..core.camera import Intrinsics, uvd_to_xyz
from ..core.checkpoint import atomic_torch_save, CheckpointError, save_checkpoint
from ..core.config import DetectorConfig
from ..core.detection import (decode, detector_input, sample_frames, surface_depth,
                              to_sampled_pixels)
from ..core.nets.detector import HandDetector
from ..core.precision import memory_format
from ..synthetic.user_scene import SCENE_TYPES, SceneBatch, UserSceneConfig, \
    UserSceneGenerator

LOG = logging.getLogger('hand_pose_ros.train_detector')
VAL_SEED = 7_000_001           # held-out scene sets: seeds never used for training steps


@dataclass(frozen=True)
class DetectorTrainConfig:
    """config/train/detector_*.yaml: the detector, its scenes and its schedule."""

    task: str = 'detector'
    steps: int = 3000
    batch_size: int = 16          # rendered scenes per step (x2 with their mirror images)
    seed: int = 0
    threads: int = 2
    amp: str = 'auto'
    checkpoint_every: int = 100
    val_every: int = 500
    val_frames: int = 64          # per scene type, and as many hand-free frames
    log_every: int = 20
    threshold: float = 0.3        # detection threshold used by validation
    init_detector: str = ''       # a detector checkpoint to start from (path or models/ name)
    recalibrate_norm_batches: int = 0   # fresh start: batch-norm statistics re-estimated on
    #                                     this many batches of scenes (training/norm_stats.py)
    freeze_norm: bool = False     # train with the running batch-norm statistics, as inference
    side_weight: float = 1.0      # weight of the left/right term in the loss (the others 1)
    full_resolution: bool = False  # render scenes at the camera's resolution and sample them
    #                                as inference does (sampled_scenes), not at the sampled one
    hard_scenes: str = ''         # training/hard_scenes.py file: frames a detector got wrong
    hard_batch: int = 0           # of them added to every step (one camera's, and mirrored)
    detector: Dict[str, Any] = field(default_factory=dict)   # DetectorConfig fields
    scene: Dict[str, Any] = field(default_factory=dict)      # UserSceneConfig fields
    optimizer: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if self.task != 'detector':
            raise ValueError(f'task must be "detector", found {self.task!r}')
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError('steps and batch_size must be >= 1')
        if self.recalibrate_norm_batches < 0:
            raise ValueError('recalibrate_norm_batches must be >= 0')
        if self.hard_batch < 0 or (self.hard_batch > 0) != bool(self.hard_scenes):
            raise ValueError('hard_batch > 0 needs hard_scenes (a file) and the reverse')
        if not self.side_weight >= 0:
            raise ValueError(f'side_weight must be >= 0, found {self.side_weight}')

    def detector_config(self) -> DetectorConfig:
        """The DetectorConfig of this run."""
        return DetectorConfig.from_dict(self.detector)

    def to_dict(self) -> Dict[str, Any]:
        """Plain mapping (stored in the training state and the checkpoint)."""
        return asdict(self)


def load_detector_train_config(path: Union[str, Path], sets: Sequence[str] = ()
                               ) -> DetectorTrainConfig:
    """Read a detector training YAML (a path or a name under config/train/), with
    the ``sets`` overrides (KEY=VALUE) applied."""
    p, data = read_train_yaml(path, sets)
    cfg = _from_dict(DetectorTrainConfig, data, str(p))
    if isinstance(cfg.optimizer, dict):
        cfg = DetectorTrainConfig(**{**asdict(cfg), 'optimizer': OptimConfig(**cfg.optimizer)})
    try:
        _scene_config(cfg)                                               # validates the keys
        cfg.detector_config()
    except TypeError as exc:
        raise ValueError(f'{p}: scene: {exc}') from None
    return cfg


def training_task(path: Union[str, Path]) -> str:
    """What a training YAML trains: its ``task`` key ('pose' when absent: pose net and
    localizer; 'detector'; 'side')."""
    try:
        _, data = read_train_yaml(path)
    except FileNotFoundError:
        return 'pose'
    return str(data.get('task', 'pose')) if isinstance(data, dict) else 'pose'


def mirror_scenes(batch: SceneBatch) -> SceneBatch:
    """The horizontal mirror image of rendered scenes: columns flipped, sides swapped."""
    intr = batch.intrinsics
    flipped = Intrinsics(intr.fx, intr.fy, intr.width - 1 - intr.cx, intr.cy, intr.width,
                         intr.height)
    center = batch.center_uvd.clone()
    center[..., 0] = intr.width - 1 - center[..., 0]
    hand22 = batch.hand22.clone()
    hand22[..., 0] = -hand22[..., 0]
    return SceneBatch(batch.depth_mm.flip(-1), flipped, batch.camera, batch.scene,
                      batch.present, batch.present & ~batch.left, hand22, center, batch.visible)


def sampled_scenes(batch: SceneBatch, det: DetectorConfig) -> SceneBatch:
    """Scenes rendered at a camera's full resolution, sampled as inference samples a camera
    frame for the detector (core.detection.sample_frames): every s-th pixel, centres in the
    sampled pixels. A sensor's edges, dropout, noise blocks and flying pixels then have the
    width they have on a camera, not s times it as in scenes rendered at the sampled size."""
    depth, intr, s = sample_frames(batch.depth_mm, batch.intrinsics, det)
    center = batch.center_uvd.clone()
    center[..., :2] = to_sampled_pixels(center[..., :2], s)
    center = torch.where(batch.present[..., None], center, torch.zeros_like(center))
    return SceneBatch(depth.contiguous(), intr, batch.camera, batch.scene, batch.present,
                      batch.left, batch.hand22, center, batch.visible)


def scene_generator(cfg: DetectorTrainConfig, det: DetectorConfig, seed: int
                    ) -> UserSceneGenerator:
    """The scene generator of a run: at the detector's sampled resolution, or at the
    cameras' own with ``cfg.full_resolution`` (then sample with draw_scenes)."""
    return UserSceneGenerator(det.focal_px, seed=seed, config=_scene_config(cfg),
                              full_resolution=cfg.full_resolution)


def draw_scenes(gen: UserSceneGenerator, det: DetectorConfig, n: int, **kwargs) -> SceneBatch:
    """``gen.sample(n, **kwargs)`` at the detector's sampled resolution, however rendered."""
    batch = gen.sample(n, **kwargs)
    return sampled_scenes(batch, det) if gen.full_resolution else batch


def _scene_config(cfg: DetectorTrainConfig) -> UserSceneConfig:
    return UserSceneConfig(**{k: (tuple(v) if isinstance(v, list) else v)
                              for k, v in cfg.scene.items()})


def validation_sets(cfg: DetectorTrainConfig, det: DetectorConfig) -> Dict[str, List[SceneBatch]]:
    """Held-out scenes: per scene type (with hands), and hand-free frames; fixed seeds, every
    camera preset in turn."""
    gen = scene_generator(cfg, det, VAL_SEED)
    sets: Dict[str, List[SceneBatch]] = {}
    per_cam = max(1, math.ceil(cfg.val_frames / len(gen.cameras)))
    for k, name in enumerate(SCENE_TYPES):
        gen.reseed(VAL_SEED + k)
        sets[name] = [draw_scenes(gen, det, per_cam, scene=name, camera=c, hands=1 + (i % 2))
                      for i, c in enumerate(gen.cameras)]
    gen.reseed(VAL_SEED + 99)
    sets['hand_free'] = [draw_scenes(gen, det, per_cam, scene=k % len(SCENE_TYPES), camera=c,
                                     hands=0)
                         for k, c in enumerate(gen.cameras)]
    return sets


def frame_matches(b: SceneBatch, i: int, found: Sequence
                  ) -> Tuple[List[int], List[bool], List[Optional[int]]]:
    """(slots of the present hands, whether each is seen, the index of the detection in
    ``found`` matching each or None) for frame ``i`` of ``b``. A hidden hand
    (user_scene.SEEN_FRACTION) is not a hand to find, and a detection matching it is not
    false either (scene_eval.match_hands)."""
    slots = [k for k in range(b.present.shape[1]) if bool(b.present[i, k])]
    truth = scene_truth(b, i)                 # the same hands, in slot order
    found_mm = [uvd_to_xyz(torch.from_numpy(d.center_uvd[None]).double(), b.intrinsics)[0]
                .numpy() for d in found]
    seen = [t[3] for t in truth]
    return slots, seen, match_hands([t[1] for t in truth], seen, found_mm)


@torch.inference_mode()
def evaluate_detector(model: HandDetector, sets: Dict[str, List[SceneBatch]],
                      threshold: float, max_hands: int = 2, own_depth: bool = False,
                      depth: Optional[Dict[str, float]] = None) -> Dict[str, float]:
    """Found (within scene_eval.FOUND_WITHIN_MM of the true centre, of the seen hands), false
    detections and handedness per scene set, through core.detection.decode; each hand's depth
    read from the frame as inference does (``depth``: surface_depth keywords to try others), or the
    network's own with ``own_depth``."""
    depth = depth or {}
    model.eval()
    cfg = model.config
    out: Dict[str, float] = {}
    for name, batches in sets.items():
        hands = found = side_ok = false = frames = 0
        for b in batches:
            maps = model(detector_input(b.depth_mm, cfg))
            found_b = decode(maps, cfg, 1, threshold, max_hands, b.intrinsics)
            dets = [[d if own_depth else surface_depth(f, d, b.intrinsics, **depth)
                     for d in ds]
                    for f, ds in zip(b.depth_mm.numpy(), found_b)]
            for i, found_i in enumerate(dets):
                frames += 1
                truth, seen, match = frame_matches(b, i, found_i)
                for k, is_seen, best in zip(truth, seen, match):
                    hands += int(is_seen)
                    if best is not None and is_seen:
                        found += 1
                        side_ok += int((found_i[best].side == 'left') == bool(b.left[i, k]))
                false += len(found_i) - sum(m is not None for m in match)
        if hands:
            out[f'val/{name}/found'] = found / hands
            out[f'val/{name}/handedness'] = side_ok / max(found, 1)
        out[f'val/{name}/false_per_frame'] = false / max(frames, 1)
    model.train()
    return out


def threshold_sweep(model: HandDetector, cfg: DetectorTrainConfig,
                    thresholds: Sequence[float]) -> Dict[float, Dict[str, float]]:
    """evaluate_detector on the held-out validation scenes at each threshold: the data the
    shipped detection threshold is chosen on (never the evaluation scenes or a test frame)."""
    sets = validation_sets(cfg, model.config)
    return {t: evaluate_detector(model, sets, t) for t in thresholds}


def depth_sweep(model: HandDetector, cfg: DetectorTrainConfig, threshold: float,
                bands_mm: Sequence[float], behind_mm: Sequence[float], fallback: bool
                ) -> Dict[str, Dict[str, float]]:
    """evaluate_detector on the validation scenes with the network's own depth and with the
    depth read from the frame in each band (mm) and at each offset behind the surface (mm):
    the data SURFACE_BAND_MM and SURFACE_BEHIND_MM are chosen on."""
    sets = validation_sets(cfg, model.config)
    rows = {'network depth': evaluate_detector(model, sets, threshold, own_depth=True)}
    for band in bands_mm:
        for behind in behind_mm:
            kw = {'band_mm': band, 'behind_mm': behind}
            if not fallback:
                kw['fallback_band_mm'] = 0.0
            rows[f'band {band:g} mm, behind {behind:g} mm'] = evaluate_detector(
                model, sets, threshold, depth=kw)
    return rows


def _row_text(row: Dict[str, float]) -> str:
    """One sweep row's figures on a line (the 'val/' prefix dropped)."""
    return ' '.join(f'{k[4:]} {v:.3f}' for k, v in row.items())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m hand_pose_ros.training.detector_trainer DETECTOR.pt [--config C]`: the
    detection-threshold sweep on the validation scenes, one line per threshold; with
    ``--depth-bands``, the depth sweep at the first threshold instead."""
    import argparse
    from ..core.checkpoint import load_detector
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument('detector')
    parser.add_argument('--config', default='detector_cpu')
    parser.add_argument('--thresholds', default='0.2,0.3,0.4,0.5,0.6')
    parser.add_argument('--depth-bands', default='',
                        help='e.g. 200,80,60,40: bands (mm) around the network depth to sweep')
    parser.add_argument('--depth-behind', default='20',
                        help='offsets (mm) behind the surface to sweep with --depth-bands')
    parser.add_argument('--no-fallback', action='store_true',
                        help='--depth-bands without the wide fallback band')
    args = parser.parse_args(argv)
    model = load_detector(args.detector)[0]
    cfg = load_detector_train_config(args.config)
    thresholds = [float(t) for t in args.thresholds.split(',')]
    if args.depth_bands:
        rows = depth_sweep(model, cfg, thresholds[0],
                           [float(b) for b in args.depth_bands.split(',')],
                           [float(b) for b in args.depth_behind.split(',')],
                           not args.no_fallback)
        for name, row in rows.items():
            print(f'{name} (threshold {thresholds[0]:.2f}): {_row_text(row)}')
        return 0
    for t, row in threshold_sweep(model, cfg, thresholds).items():
        print(f'threshold {t:.2f}: {_row_text(row)}')
    return 0


class SmallNetTrainer:
    """The loop, atomic checkpoints and exact resume of a one-network run in ``out_dir``;
    subclasses build the network (``self.model``, ``self.net_cfg``) and data, and define
    ``train_step`` and ``validate``."""

    KIND = 'net'                  # state key and checkpoint file stem

    def __init__(self, cfg, out_dir: str, device: str = 'cpu') -> None:
        self.cfg, self.out = cfg, Path(out_dir)
        self.device = torch.device('cuda' if device == 'auto' and torch.cuda.is_available()
                                   else ('cpu' if device == 'auto' else device))
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.model, self.net_cfg = self.build()
        self.model.to(self.device)
        self.memory_format = memory_format([self.model], self.device, training=True)
        self.model.to(memory_format=self.memory_format)
        self.bf16 = use_bf16(cfg.amp, self.device)
        self.opt, self.sched = _optimizer(self.model.parameters(), cfg.optimizer, cfg.steps)
        self.step, self.wall_s = 0, 0.0
        self.metrics: Dict[str, float] = {}
        self.out.mkdir(parents=True, exist_ok=True)

    @property
    def state_file(self) -> Path:
        """The resumable training state."""
        return self.out / f'{self.KIND}_state.pt'

    def build(self):
        """(network, its config)."""
        raise NotImplementedError

    def train_step(self) -> Dict[str, float]:
        """One optimiser step; returns logged values."""
        raise NotImplementedError

    def validate(self) -> Dict[str, float]:
        """Held-out figures."""
        raise NotImplementedError

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue exactly."""
        return {'format': f'hand_pose_ros/{self.KIND}-train-state/1', 'step': self.step,
                'wall_s': self.wall_s, 'config': self.cfg.to_dict(), 'rng': _rng_state(),
                'metrics': dict(self.metrics), self.KIND: self.model.state_dict(),
                'opt': self.opt.state_dict(), 'sched': self.sched.state_dict()}

    def save(self) -> None:
        """Atomic training state + the inference checkpoint <KIND>.pt."""
        atomic_torch_save(self.state_dict(), self.state_file)
        meta = {'steps': self.step, 'wall_time_s': round(self.wall_s, 1), 'commit': git_commit(),
                'device': str(self.device), 'train_config': self.cfg.to_dict(),
                'metrics': dict(self.metrics)}
        save_checkpoint(self.out / f'{self.KIND}.pt', self.model, self.net_cfg, meta)

    def resume(self) -> None:
        """Continue from out_dir/<KIND>_state.pt; CheckpointError when missing, bad or for
        another config."""
        path = self.state_file
        state = read_train_state(path, self.device, f'{self.KIND} training')
        if state.get('config') != self.cfg.to_dict():
            raise CheckpointError(f'resume: the stored training config in {path} differs from '
                                  'the one given; resume with the same config')
        self.model.load_state_dict(state[self.KIND])
        self.opt.load_state_dict(state['opt'])
        self.sched.load_state_dict(state['sched'])
        self.step, self.wall_s = int(state['step']), float(state['wall_s'])
        self.metrics = dict(state.get('metrics', {}))
        _set_rng_state(state['rng'])
        LOG.info('resumed from %s at step %d', path, self.step)

    def fit(self) -> Dict[str, float]:
        """Train up to cfg.steps, checkpointing and validating on the way."""
        cfg = self.cfg
        t_last = time.perf_counter()
        while self.step < cfg.steps:
            logs = self.train_step()
            self.step += 1
            now = time.perf_counter()
            self.wall_s += now - t_last
            t_last = now
            if self.step % cfg.log_every == 0 or self.step == 1:
                LOG.info('step %d (%.1f s): %s', self.step, self.wall_s,
                         ' '.join(f'{k} {v:.4f}' for k, v in logs.items()))
            if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                self.metrics = self.validate()
                LOG.info('step %d validation: %s', self.step,
                         ' '.join(f'{k} {v:.3f}' for k, v in self.metrics.items()))
                t_last = time.perf_counter()
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self.save()
                t_last = time.perf_counter()
        return self.metrics


class DetectorTrainer(SmallNetTrainer):
    """The whole-frame hand detector on rendered user scenes (module docstring)."""

    KIND = 'detector'

    def build(self):
        """The detector and its scene generator."""
        self.det_cfg = self.cfg.detector_config()
        self.scenes = scene_generator(self.cfg, self.det_cfg, self.cfg.seed)
        self._val: Optional[Dict[str, List[SceneBatch]]] = None
        self.hard: Dict[str, SceneBatch] = {}
        if self.cfg.hard_batch:
            from .hard_scenes import load_hard_scenes
            self.hard = load_hard_scenes(self.cfg.hard_scenes)
            if not self.hard:
                raise ValueError(f'{self.cfg.hard_scenes} holds no hard scenes')
        model = HandDetector(self.det_cfg)
        if self.cfg.init_detector:
            from .warm_start import warm_start_detector
            warm_start_detector(model, self.cfg.init_detector)
        return model, self.det_cfg

    def train_step(self) -> Dict[str, float]:
        """One optimiser step on the scenes of step ``self.step`` and their mirror images."""
        cfg = self.cfg
        if self.step == 0 and cfg.recalibrate_norm_batches:
            self.recalibrate_norm()
        self.scenes.reseed(cfg.seed * 1_000_003 + self.step)   # resumable: a seed per step
        batch = draw_scenes(self.scenes, self.det_cfg, cfg.batch_size)
        self.model.train()
        if cfg.freeze_norm:
            freeze_batch_norm(self.model)
        losses = []
        parts_sum: Dict[str, float] = {}
        self.opt.zero_grad(set_to_none=True)
        passes = [batch, mirror_scenes(batch)]
        if self.hard:
            hard = self.draw_hard()
            passes += [hard, mirror_scenes(hard)]
        for b in passes:
            x = detector_input(b.depth_mm, self.det_cfg).to(self.device)
            x = x.contiguous(memory_format=self.memory_format)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                maps = self.model(x)
            target = detector_targets(b.center_uvd.to(self.device), b.seen.to(self.device),
                                      b.left.to(self.device), b.intrinsics,
                                      tuple(maps.shape[-2:]), self.det_cfg,
                                      hidden=b.hidden.to(self.device))
            loss, parts = detector_loss(maps, target, cfg.side_weight)
            if not torch.isfinite(loss):
                raise FloatingPointError(f'detector loss is {float(loss)} at step {self.step}')
            (loss / len(passes)).backward()
            losses.append(float(loss.detach()))
            for k, v in parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + float(v.detach()) / len(passes)
        self.opt.step()
        self.sched.step()
        return {'loss': float(np.mean(losses)), **parts_sum, 'lr': self.sched.get_last_lr()[0]}

    def draw_hard(self) -> SceneBatch:
        """cfg.hard_batch hard scenes of one camera for step ``self.step`` (its own seed, so a
        resumed run draws the same)."""
        from .hard_scenes import subset
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.step + 7)
        cams = sorted(self.hard)
        pool = self.hard[cams[int(torch.randint(len(cams), (1,), generator=gen))]]
        n = pool.depth_mm.shape[0]
        pick = torch.randint(n, (self.cfg.hard_batch,), generator=gen) \
            if n < self.cfg.hard_batch else torch.randperm(n, generator=gen)[:self.cfg.hard_batch]
        return subset(pool, pick.tolist())

    def recalibrate_norm(self) -> None:
        """Batch-norm running statistics averaged over cfg.recalibrate_norm_batches batches of
        scenes and their mirror images (seeds after those of the training steps)."""
        cfg = self.cfg

        def inputs():
            for i in range(cfg.recalibrate_norm_batches):
                self.scenes.reseed(cfg.seed * 1_000_003 + cfg.steps + i)
                batch = draw_scenes(self.scenes, self.det_cfg, cfg.batch_size)
                for b in (batch, mirror_scenes(batch)):
                    yield detector_input(b.depth_mm, self.det_cfg).to(self.device).contiguous(
                        memory_format=self.memory_format)
        n = recalibrate_batch_norm(self.model, inputs())
        LOG.info('batch-norm statistics re-estimated on %d batches', n)

    def validate(self) -> Dict[str, float]:
        """Detection figures on the held-out scene sets."""
        if self._val is None:
            self._val = validation_sets(self.cfg, self.det_cfg)
        return evaluate_detector(self.model, self._val, self.cfg.threshold)


if __name__ == '__main__':
    raise SystemExit(main())
