"""Batches of full depth frames + joint labels for the trainer, deterministic per step.

A batch depends only on (seed, rank, step), so a resumed run sees exactly the frames the
interrupted one would have, and every DDP rank sees different ones.
"""
from dataclasses import dataclass
from typing import Iterator, List, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from .config import TrainConfig
from ..core.camera import Intrinsics
from ..core.specs import dataset_spec


@dataclass
class Batch:
    """Full frames (B, H, W) mm on the device and (B, J, 3) uvd labels (pixels, mm)."""

    depth_mm: torch.Tensor
    uvd: torch.Tensor
    intrinsics: Intrinsics


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


class DatasetSource:
    """Batches from a real dataset: DistributedSampler order per epoch, resumable by step."""

    def __init__(self, cfg: TrainConfig, dataset: Dataset, device: torch.device, rank: int = 0,
                 world_size: int = 1):
        self.cfg, self.dataset, self.device = cfg, dataset, device
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                          shuffle=True, seed=cfg.seed, drop_last=True)
        self.per_epoch = max(1, len(self.sampler) // cfg.batch_size)
        self._iter: Optional[Iterator[Batch]] = None
        self._next_step = -1

    def _loader(self, step: int) -> Iterator[Batch]:
        """Batches from ``step`` to the end of its epoch."""
        epoch, offset = divmod(step, self.per_epoch)
        self.sampler.set_epoch(epoch)
        order = list(iter(self.sampler))[offset * self.cfg.batch_size:
                                         self.per_epoch * self.cfg.batch_size]
        return iter(DataLoader(Subset(self.dataset, order), batch_size=self.cfg.batch_size,
                               shuffle=False, num_workers=self.cfg.data.num_workers,
                               collate_fn=collate_samples, drop_last=True))

    def batch(self, step: int, size: int) -> Batch:
        """The frames of one step (the sampler's order, so a resume continues exactly)."""
        if step != self._next_step or step % self.per_epoch == 0 or self._iter is None:
            self._iter = self._loader(step)
        self._next_step = step + 1
        b = next(self._iter)
        return Batch(b.depth_mm.to(self.device), b.uvd.to(self.device), b.intrinsics)
