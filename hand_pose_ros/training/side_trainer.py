"""Training the left/right hand classifier (core/nets/side.py) on rendered hands of both sides.

``data: renders``: each step renders a batch of lone hands (synthetic/generator.py, 'both'
sides, backgrounds and the sensor model of the configured camera). ``data: scenes``: each step
renders a batch of user scenes (synthetic/user_scene.py: every viewpoint and camera, the arm
joined to a shoulder and a torso) and takes every seen hand, so a wide cube (``cube_mm``, or
the context channel ``context_cube_mm``: core/nets/side.py) shows the classifier where the arm
and the body are, where the hand alone is ambiguous (seen edge-on, in a fist).

Each hand is cropped around its true centre moved by the localizer's typical error and turned
in the image plane by up to ``rotation_deg`` (chirality does not change under rotation; the
way the arm runs in the image is a cue, so scene runs turn little), and every crop's mirror
image is added with the opposite label (chirality flips under mirroring, and a mirrored scene
is a scene of a mirrored user), so the classifier cannot lean on either side being more common.
Validation: accuracy on held-out renders or scenes (per viewpoint) of fixed seeds, through the
same crop code.
"""
from dataclasses import asdict, dataclass, field
import math
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F

from .config import _from_dict, OptimConfig, read_train_yaml
from .detector_trainer import SmallNetTrainer
from ..core.camera import uvd_to_xyz, xyz_to_uvd
from ..core.config import SideConfig
from ..core.crop import hand_center_uvd
from ..core.nets.side import side_input, SideClassifier
from ..core.specs import dataset_spec

VAL_SEED = 8_000_003          # held-out sets (scenes: + the viewpoint's index), never trained on
DATA_KINDS = ('renders', 'scenes')


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
    rotation_deg: float = 180.0   # in-plane turn of each crop, uniform within +-this
    data: str = 'renders'         # DATA_KINDS: lone rendered hands, or user scenes
    focal_px: float = 140.0       # scenes: rendered at this focal length (the detector's)
    init_side: str = ''           # a classifier checkpoint to start from (same side config)
    side: Dict[str, Any] = field(default_factory=dict)     # SideConfig fields
    optimizer: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if self.task != 'side':
            raise ValueError(f'task must be "side", found {self.task!r}')
        if self.data not in DATA_KINDS:
            raise ValueError(f'data must be one of {DATA_KINDS}, found {self.data!r}')
        if not 0.0 <= self.rotation_deg <= 180.0 or self.focal_px <= 0:
            raise ValueError(f'rotation_deg must be in [0, 180] and focal_px > 0, found '
                             f'{self.rotation_deg} and {self.focal_px}')

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
               cfg: SideConfig, gen: torch.Generator, jitter_mm: float, augment: bool = True,
               rotation_deg: float = 180.0):
    """(2B, C, S, S) crops around the (jittered, turned) centres of hands with joints ``uvd``
    (B, J, 3) and their mirror images, with (2B,) float labels (1 = left)."""
    return side_crops_at(depth_mm, hand_center_uvd(uvd.double(), intr), left, intr, cfg, gen,
                         jitter_mm, augment, rotation_deg)


def side_crops_at(depth_mm: torch.Tensor, center_uvd: torch.Tensor, left: torch.Tensor, intr,
                  cfg: SideConfig, gen: torch.Generator, jitter_mm: float,
                  augment: bool = True, rotation_deg: float = 180.0):
    """(2B, C, S, S) crops (side_input) of frames ``depth_mm`` (B, H, W) mm around hand centres
    ``center_uvd`` (B, 3: px, px, mm), moved by ``jitter_mm`` (standard deviation per axis)
    and turned by up to ``rotation_deg`` when ``augment``, then their mirror images; with
    (2B,) float labels (1 = left)."""
    b = depth_mm.shape[0]
    center = center_uvd.double()
    rot = None
    if augment:
        noise = torch.randn(b, 3, generator=gen, dtype=torch.float64) * jitter_mm
        xyz = uvd_to_xyz(center, intr) + noise
        center = xyz_to_uvd(xyz, intr)
        rot = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(rotation_deg)
    patch = side_input(depth_mm, center.float(), intr, cfg, rotation_rad=rot)
    label = left.float()
    return torch.cat([patch, patch.flip(-1)]), torch.cat([label, 1.0 - label])


def scene_side_crops(batch, cfg: SideConfig, gen: torch.Generator, jitter_mm: float,
                     augment: bool = True, rotation_deg: float = 0.0):
    """side_crops_at for every seen hand of a SceneBatch (synthetic/user_scene.py): crops,
    labels and the (2B,) viewpoint index of each crop."""
    frame, slot = batch.seen.nonzero(as_tuple=True)
    x, y = side_crops_at(batch.depth_mm[frame], batch.center_uvd[frame, slot],
                         batch.left[frame, slot], batch.intrinsics, cfg, gen, jitter_mm,
                         augment, rotation_deg)
    return x, y, batch.scene[frame].repeat(2)


class SideTrainer(SmallNetTrainer):
    """The left/right classifier on rendered hands of both sides (module docstring)."""

    KIND = 'side'

    def build(self):
        """The classifier and its hand (or scene) generator."""
        self.side_cfg = SideConfig.from_dict(self.cfg.side)
        self._val = None
        if self.cfg.data == 'scenes':
            from ..synthetic.user_scene import UserSceneGenerator
            self.gen = UserSceneGenerator(self.cfg.focal_px, seed=self.cfg.seed)
        else:
            from ..synthetic.generator import SyntheticGenerator
            self.intr = dataset_spec(self.cfg.camera).intrinsics
            self.gen = SyntheticGenerator(self.intr, handedness='both', seed=self.cfg.seed)
        model = SideClassifier(self.side_cfg)
        if self.cfg.init_side:
            from .warm_start import warm_start_side
            warm_start_side(model, self.cfg.init_side)
        return model, self.side_cfg

    def _crops(self, seed: int, n: int, gen: torch.Generator, augment: bool = True,
               scene: Optional[int] = None):
        """Crops and labels of ``n`` renders (or scenes with at least one hand) drawn from
        ``seed``, and mirror images; for scenes also each crop's viewpoint index."""
        cfg = self.cfg
        self.gen.reseed(seed)
        if cfg.data == 'scenes':
            batch = self.gen.sample(n, scene=scene, min_hands=1)
            while not bool(batch.seen.any()):     # every hand hidden: draw on (rare, small n)
                batch = self.gen.sample(n, scene=scene, min_hands=1)
            return scene_side_crops(batch, self.side_cfg, gen, cfg.center_jitter_mm, augment,
                                    cfg.rotation_deg)
        batch = self.gen.sample(n)
        return side_crops(batch.depth_mm, batch.uvd, batch.left, self.intr, self.side_cfg, gen,
                          cfg.center_jitter_mm, augment, cfg.rotation_deg) + (None,)

    def train_step(self) -> Dict[str, float]:
        """One step on the hands of step ``self.step`` and their mirror images."""
        cfg = self.cfg
        g = torch.Generator().manual_seed(cfg.seed * 7_919 + self.step)
        x, y, _ = self._crops(cfg.seed * 1_000_003 + self.step, cfg.batch_size, g)
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

    def _validation_set(self):
        """Held-out crops (jittered like training, not turned), labels and viewpoints; the
        generator's training stream is restarted at the next step anyway (a seed per step)."""
        from ..synthetic.user_scene import SCENE_TYPES
        g = torch.Generator().manual_seed(VAL_SEED)
        if self.cfg.data != 'scenes':
            return self._crops(VAL_SEED, self.cfg.val_frames, g, augment=True)[:2] + (None,)
        parts = [self._crops(VAL_SEED + k, self.cfg.val_frames, g, scene=k)
                 for k in range(len(SCENE_TYPES))]
        return tuple(torch.cat([p[i] for p in parts]) for i in range(3))

    @torch.inference_mode()
    def validate(self) -> Dict[str, float]:
        """Accuracy on held-out renders or scenes (every seen hand; per viewpoint too)."""
        if self._val is None:
            self._val = self._validation_set()
        x, y, view = self._val
        self.model.eval()
        logit = torch.cat([self.model(x[i:i + 64].to(self.device)) for i in
                           range(0, x.shape[0], 64)])
        self.model.train()
        right = ((logit > 0).float() == y.to(self.device)).float().cpu()
        out = {'val/side_accuracy': float(right.mean())}
        if view is not None:
            from ..synthetic.user_scene import SCENE_TYPES
            for k, name in enumerate(SCENE_TYPES):
                if bool((view == k).any()):
                    out[f'val/side_accuracy_{name}'] = float(right[view == k].mean())
        return out
