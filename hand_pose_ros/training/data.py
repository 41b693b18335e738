"""Batches of full depth frames + joint labels for the trainer, deterministic per step, and
the held-out frames it validates on.

A batch depends only on (seed, rank, step), so a resumed run sees exactly the frames the
interrupted one would have, and every DDP rank sees different ones.

Validation frames come from the training data source and are never trained on: for synthetic
frames, ``val_frames`` renders from a seed of their own (``data.val_seed``: the same for every
run); for a real dataset, ``val_frames``
frames of its training split, spread evenly over it (every sequence, subject and gesture is
represented; the same frames every run) and left out of the training batches. The dataset's
test split (the ICVL / NYU benchmark ground truth, MSRA's held-out subject) is never read
during training: evaluate a finished model on it with `hand-pose eval`. Neighbouring frames of
a video are alike, so this validation follows the fit to the dataset more than it predicts the
error on new people.
"""
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .config import TrainConfig
from ..core.camera import Intrinsics, xyz_to_uvd
from ..core.specs import dataset_spec


@dataclass
class Batch:
    """Full frames (B, H, W) mm on the device and (B, J, 3) uvd labels (pixels, mm): one hand a
    row. ``mirror`` (B,) bools marks hands of the other side than the network's (their crops are
    mirrored); ``from_detector``: the localizer starts from detector-like centres, not the
    centre of mass (user scenes, whose nearest blob is rarely the hand)."""

    depth_mm: torch.Tensor
    uvd: torch.Tensor
    intrinsics: Intrinsics
    mirror: Optional[torch.Tensor] = None
    from_detector: bool = False


def step_seed(seed: int, rank: int, step: int) -> int:
    """A 63-bit seed unique to (seed, rank, step)."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0] >> 1)


class SyntheticSource:
    """Rendered frames from the synthetic hand generator (on the training device): hands of
    ``handedness``, the side the pose network is trained on."""

    def __init__(self, cfg: TrainConfig, joint_set: str, device: torch.device, rank: int = 0,
                 handedness: str = 'right'):
        from ..synthetic import SyntheticGenerator  # only needed here
        self.spec = dataset_spec(cfg.data.camera)
        self.seed, self.rank = cfg.seed, rank
        self.gen = SyntheticGenerator(self.spec.intrinsics, joint_set=joint_set, device=device,
                                      seed=cfg.seed, background=cfg.data.background,
                                      handedness=handedness)

    def batch(self, step: int, size: int) -> Batch:
        """The frames of one step (deterministic in seed, rank and step)."""
        self.gen.reseed(step_seed(self.seed, self.rank, step))
        b = self.gen.sample(size)
        return Batch(b.depth_mm, b.uvd, self.spec.intrinsics)

    def validation_frames(self, cfg: TrainConfig, joint_set: str, handedness: str
                          ) -> Tuple[np.ndarray, np.ndarray, Intrinsics]:
        """``cfg.val_frames`` frames rendered from a seed no training step uses (on the CPU, so
        the same on every device): ``data.val_seed``, else the run's seed + 1,000,003. Returns
        depth (N, H, W) mm, uvd (N, J, 3), intrinsics."""
        from ..synthetic import SyntheticGenerator
        seed = cfg.seed + 1_000_003 if cfg.data.val_seed is None else cfg.data.val_seed
        gen = SyntheticGenerator(self.spec.intrinsics, joint_set=joint_set, device='cpu',
                                 seed=seed, background=cfg.data.background,
                                 handedness=handedness)
        b = gen.sample(cfg.val_frames)
        return b.depth_mm.numpy(), b.uvd.numpy(), self.spec.intrinsics


# Scene random streams are drawn from the step seed xor this, so they never repeat the
# synthetic frames' stream of the same step.
SCENE_STREAM = 0x5CE7E


class SceneMixSource:
    """Each batch: ``data.scene_share`` of it hands cut from user scenes (every viewpoint and
    camera, held objects, bodies, sleeves; synthetic/user_scene.py), the rest synthetic frames
    (:class:`SyntheticSource`). Hands of the other side than the network's are mirrored into
    it at crop time; labels are the network's joints selected from the whole hand (HAND22).
    Validation frames are the synthetic source's."""

    def __init__(self, cfg: TrainConfig, joint_set: str, device: torch.device, rank: int = 0,
                 handedness: str = 'right'):
        from ..synthetic.user_scene import UserSceneConfig, UserSceneGenerator
        from ..core.skeleton import FROM_HAND22
        self.synthetic = SyntheticSource(cfg, joint_set, device, rank, handedness)
        probs = cfg.data.scene_probs
        self.scenes = UserSceneGenerator(
            focal_px=cfg.data.scene_focal_px, seed=cfg.seed,
            config=None if probs is None else UserSceneConfig(scene_probs=probs),
            full_resolution=cfg.data.scene_full_resolution)
        if joint_set not in FROM_HAND22:
            raise ValueError(f'data.source scenes: no {joint_set} labels in user scenes; '
                             f'known: {sorted(FROM_HAND22)}')
        self.joints = list(FROM_HAND22[joint_set])
        self.handedness, self.share = handedness, cfg.data.scene_share
        self.seed, self.rank, self.device = cfg.seed, rank, device

    def batch(self, step: int, size: int) -> List[Batch]:
        """The parts of one step: scene hands, then synthetic frames (deterministic)."""
        n_scene = int(round(size * self.share))
        parts = [self.scene_hands(step, n_scene)] if n_scene else []
        if size > n_scene:
            parts.append(self.synthetic.batch(step, size - n_scene))
        return parts

    def scene_hands(self, step: int, count: int) -> Batch:
        """``count`` hands of scenes of one camera (the step's), one frame copy per hand."""
        gen = self.scenes
        gen.reseed(step_seed(self.seed, self.rank, step) ^ SCENE_STREAM)
        camera = gen.cameras[step % len(gen.cameras)]
        depth, uvd, mirror, intr = [], [], [], None
        while len(depth) < count:
            b = gen.sample(max(1, -(-(count - len(depth)) * 10 // 14)), camera=camera,
                           min_hands=1)
            intr = b.intrinsics
            for f, k in b.seen.nonzero().tolist():    # a hidden hand teaches no pose
                depth.append(b.depth_mm[f])
                uvd.append(xyz_to_uvd(b.hand22[f, k, self.joints].double(), intr).float())
                mirror.append(bool(b.left[f, k]) != (self.handedness == 'left'))
        return Batch(torch.stack(depth[:count]).to(self.device),
                     torch.stack(uvd[:count]).to(self.device), intr,
                     torch.tensor(mirror[:count]), from_detector=True)

    def validation_frames(self, cfg: TrainConfig, joint_set: str, handedness: str
                          ) -> Tuple[np.ndarray, np.ndarray, Intrinsics]:
        """The synthetic source's held-out frames."""
        return self.synthetic.validation_frames(cfg, joint_set, handedness)


def collate_samples(samples: List) -> Batch:
    """Stack dataset ``Sample``s of one camera into a Batch (CPU tensors)."""
    depth = torch.from_numpy(np.stack([s.depth_mm for s in samples]).astype(np.float32))
    uvd = torch.from_numpy(np.stack([s.uvd for s in samples]).astype(np.float32))
    return Batch(depth, uvd, samples[0].intrinsics)


def make_dataset(cfg: TrainConfig, root: str, split: str) -> Dataset:
    """The real dataset named by cfg.data.source at ``root``."""
    source = cfg.data.source
    if source == 'icvl':
        from .datasets.icvl import ICVLDataset
        return ICVLDataset(root, split=split)
    if source == 'nyu':
        from .datasets.nyu import NYUDataset
        return NYUDataset(root, split=split)
    from .datasets.msra import MSRADataset
    return MSRADataset(root, test_subject=cfg.data.msra_test_subject, split=split)


def held_out_indices(frames: int, count: int) -> np.ndarray:
    """``count`` indices spread evenly over ``frames`` frames (the first and the last included),
    the same every run: the validation frames of a real dataset."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, frames - 1, min(count, frames)).round().astype(np.int64))


def mirror_batch(batch: Batch) -> Batch:
    """The mirror image of a batch (a right hand becomes a left one, core/handedness.py):
    frames flipped left to right, u -> width - 1 - u, intrinsics mirrored to match."""
    uvd = batch.uvd.clone()
    uvd[..., 0] = batch.intrinsics.width - 1 - uvd[..., 0]
    return Batch(torch.flip(batch.depth_mm, dims=[-1]), uvd, batch.intrinsics.mirrored())


class DatasetSource:
    """Batches from a real dataset's training frames less the held-out validation frames:
    DistributedSampler order per epoch, resumable by step.

    Chirality: each dataset's side is in config/datasets.yaml (ICVL left hands, NYU and MSRA
    right ones); where it is not ``handedness``, the side of the network being trained, every
    frame (training and validation) is mirrored into it (:func:`mirror_batch`).
    """

    def __init__(self, cfg: TrainConfig, dataset: Dataset, device: torch.device, rank: int = 0,
                 world_size: int = 1, handedness: str = 'right'):
        self.cfg, self.dataset, self.device = cfg, dataset, device
        self.mirror = dataset_spec(cfg.data.source).handedness != handedness
        frames = len(dataset)
        self.val_indices = held_out_indices(frames, cfg.val_frames)
        held_out = set(self.val_indices.tolist())
        self.train_indices = [i for i in range(frames) if i not in held_out]
        need = cfg.batch_size * world_size
        if len(self.train_indices) < need:
            raise ValueError(
                f'{type(dataset).__name__}: {frames} training frames, {len(held_out)} held out '
                f'for validation (val_frames) leave {len(self.train_indices)}, fewer than one '
                f'batch of {cfg.batch_size} x {world_size} process(es) = {need}')
        self.train_set = Subset(dataset, self.train_indices)
        self.sampler = DistributedSampler(self.train_set, num_replicas=world_size, rank=rank,
                                          shuffle=True, seed=cfg.seed, drop_last=True)
        self.per_epoch = max(1, len(self.sampler) // cfg.batch_size)
        self._iter: Optional[Iterator[Batch]] = None
        self._next_step = -1

    def validation_frames(self, cfg: TrainConfig, joint_set: str, handedness: str
                          ) -> Tuple[np.ndarray, np.ndarray, Intrinsics]:
        """The held-out frames, read once: depth (N, H, W) mm, uvd (N, J, 3), intrinsics."""
        b = collate_samples([self.dataset[int(i)] for i in self.val_indices])
        b = mirror_batch(b) if self.mirror else b
        return b.depth_mm.numpy(), b.uvd.numpy(), b.intrinsics

    def _loader(self, step: int) -> Iterator[Batch]:
        """Batches from ``step`` to the end of its epoch."""
        epoch, offset = divmod(step, self.per_epoch)
        self.sampler.set_epoch(epoch)
        order = list(iter(self.sampler))[offset * self.cfg.batch_size:
                                         self.per_epoch * self.cfg.batch_size]
        return iter(DataLoader(Subset(self.train_set, order), batch_size=self.cfg.batch_size,
                               shuffle=False, num_workers=self.cfg.data.num_workers,
                               collate_fn=collate_samples, drop_last=True))

    def batch(self, step: int, size: int) -> Batch:
        """The frames of one step (the sampler's order, so a resume continues exactly)."""
        if step != self._next_step or step % self.per_epoch == 0 or self._iter is None:
            self._iter = self._loader(step)
        self._next_step = step + 1
        b = next(self._iter)
        b = mirror_batch(b) if self.mirror else b
        return Batch(b.depth_mm.to(self.device), b.uvd.to(self.device), b.intrinsics)
