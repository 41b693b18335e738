"""Training the left/right hand classifier (core/nets/side.py) on rendered hands of both sides.

Each step renders a batch of hands (synthetic/generator.py, 'both' sides, backgrounds and the
sensor model of the configured camera), crops each around its true centre moved by the
localizer's typical error and turned in the image plane by any angle (chirality does not
change under rotation), and adds every crop's mirror image with the opposite label (chirality
flips under mirroring), so the classifier cannot lean on pose priors of one side. Validation:
accuracy on held-out renders of a fixed seed, through the same crop code.
"""
from dataclasses import asdict, dataclass, field
import math
from pathlib import Path
from typing import Any, Dict, Sequence, Union

import torch
import torch.nn.functional as F

from .config import _from_dict, OptimConfig, read_train_yaml
from .detector_trainer import SmallNetTrainer
from ..core.camera import uvd_to_xyz, xyz_to_uvd
from ..core.config import SideConfig
from ..core.crop import crop_cube, hand_center_uvd
from ..core.nets.side import SideClassifier
from ..core.specs import dataset_spec

VAL_SEED = 8_000_003


@dataclass(frozen=True)
class SideTrainConfig:
    """config/train/side_*.yaml: the classifier, its data and its schedule."""

    task: str = 'side'
    steps: int = 1000
    batch_size: int = 32          # rendered hands per step (x2 with their mirror images)
    seed: int = 0
    threads: int = 2
    amp: str = 'auto'
    checkpoint_every: int = 100
    val_every: int = 250
    val_frames: int = 256
    log_every: int = 20
    camera: str = 'icvl'          # dataset whose intrinsics the hands are rendered at
    center_jitter_mm: float = 15.0
    side: Dict[str, Any] = field(default_factory=dict)     # SideConfig fields
    optimizer: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if self.task != 'side':
            raise ValueError(f'task must be "side", found {self.task!r}')

    def to_dict(self) -> Dict[str, Any]:
        """Plain mapping (stored in the training state and the checkpoint)."""
        return asdict(self)


def load_side_train_config(path: Union[str, Path], sets: Sequence[str] = ()) -> SideTrainConfig:
    """Read a side-classifier training YAML (a path or a name under config/train/), with
    the ``sets`` overrides (KEY=VALUE) applied."""
    p, data = read_train_yaml(path, sets)
    cfg = _from_dict(SideTrainConfig, data, str(p))
    SideConfig.from_dict(cfg.side)
    return cfg


def side_crops(depth_mm: torch.Tensor, uvd: torch.Tensor, left: torch.Tensor, intr,
               cfg: SideConfig, gen: torch.Generator, jitter_mm: float, augment: bool = True):
    """(2B, 1, S, S) crops around the (jittered, turned) hand centres and their mirror images,
    with (2B,) float labels (1 = left)."""
    b = depth_mm.shape[0]
    center = hand_center_uvd(uvd.double(), intr)
    rot = None
    if augment:
        noise = torch.randn(b, 3, generator=gen, dtype=torch.float64) * jitter_mm
        xyz = uvd_to_xyz(center, intr) + noise
        center = xyz_to_uvd(xyz, intr)
        rot = (torch.rand(b, generator=gen) * 2 - 1) * math.pi
    patch, _ = crop_cube(depth_mm, center.float(), intr, cfg.cube_mm, cfg.input_size,
                         rotation_rad=rot)
    label = left.float()
    return torch.cat([patch, patch.flip(-1)]), torch.cat([label, 1.0 - label])


class SideTrainer(SmallNetTrainer):
    """The left/right classifier on rendered hands of both sides (module docstring)."""

    KIND = 'side'

    def build(self):
        """The classifier and its hand generator."""
        from ..synthetic.generator import SyntheticGenerator
        self.side_cfg = SideConfig.from_dict(self.cfg.side)
        self.intr = dataset_spec(self.cfg.camera).intrinsics
        self.gen = SyntheticGenerator(self.intr, handedness='both', seed=self.cfg.seed)
        self._val = None
        return SideClassifier(self.side_cfg), self.side_cfg

    def train_step(self) -> Dict[str, float]:
        """One step on the hands of step ``self.step`` and their mirror images."""
        cfg = self.cfg
        self.gen.reseed(cfg.seed * 1_000_003 + self.step)
        batch = self.gen.sample(cfg.batch_size)
        g = torch.Generator().manual_seed(cfg.seed * 7_919 + self.step)
        x, y = side_crops(batch.depth_mm, batch.uvd, batch.left, self.intr, self.side_cfg, g,
                          cfg.center_jitter_mm)
        self.model.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logit = self.model(x.to(self.device).contiguous(memory_format=self.memory_format))
        loss = F.binary_cross_entropy_with_logits(logit.float(), y.to(self.device))
        if not torch.isfinite(loss):
            raise FloatingPointError(f'side loss is {float(loss)} at step {self.step}')
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        acc = float(((logit.detach() > 0).float() == y.to(self.device)).float().mean())
        return {'loss': float(loss.detach()), 'accuracy': acc, 'lr': self.sched.get_last_lr()[0]}

    @torch.inference_mode()
    def validate(self) -> Dict[str, float]:
        """Accuracy on held-out renders (jittered like training, not turned) and mirrors."""
        if self._val is None:
            from ..synthetic.generator import SyntheticGenerator
            gen = SyntheticGenerator(self.intr, handedness='both', seed=VAL_SEED)
            batch = gen.sample(self.cfg.val_frames)
            g = torch.Generator().manual_seed(VAL_SEED)
            self._val = side_crops(batch.depth_mm, batch.uvd, batch.left, self.intr,
                                   self.side_cfg, g, self.cfg.center_jitter_mm)
        x, y = self._val
        self.model.eval()
        logit = torch.cat([self.model(x[i:i + 64].to(self.device)) for i in
                           range(0, x.shape[0], 64)])
        self.model.train()
        return {'val/side_accuracy': float(((logit > 0).float() == y.to(self.device))
                                           .float().mean())}
