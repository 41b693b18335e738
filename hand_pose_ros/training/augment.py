"""Crops for training, made by the inference crop code with random 3D-consistent changes.

Pose crops: centred on the true hand centre moved as the localizer errs (mm), rotated in the
image plane and scaled, mirrored where the hand is not the network's side; the labels go through
the very same CropTransform. Localizer crops: centred on the centre of mass, as the `nearest`
detector starts them, or (frames from user scenes) on the true centre moved as the learned
detector errs (``AugmentConfig.detector_jitter_mm``).
"""
import math
from typing import Optional, Tuple

import numpy as np
import torch

from .config import AugmentConfig
from ..core.camera import Intrinsics, uvd_to_xyz, xyz_to_uvd
from ..core.config import LocalizerConfig, ModelConfig
from ..core.crop import center_of_mass, crop_cube, CropTransform, hand_center_uvd


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    """n uniform samples in [low, high) from ``gen`` (CPU)."""
    return torch.rand(n, generator=gen, dtype=torch.float64) * (high - low) + low


def pose_crops(depth_mm: torch.Tensor, uvd: torch.Tensor, intr: Intrinsics, model: ModelConfig,
               aug: AugmentConfig, gen: torch.Generator, augment: bool = True,
               mirror: Optional[torch.Tensor] = None
               ) -> Tuple[torch.Tensor, torch.Tensor, CropTransform]:
    """(B,1,S,S) crops, (B,J,3) normalised targets and the transform, for (B,H,W) depth;
    ``mirror`` (B,) bools flips a crop (and its targets) into the network's side."""
    b, dev = depth_mm.shape[0], depth_mm.device
    center = hand_center_uvd(uvd.double(), intr, model.joint_set)            # (B, 3)
    cube = torch.full((b,), model.cube_mm, dtype=torch.float64)
    rot = None
    if augment:
        xyz = uvd_to_xyz(center, intr)
        xyz = xyz + torch.randn(b, 3, generator=gen, dtype=torch.float64).to(dev) \
            * aug.center_jitter_mm
        center = xyz_to_uvd(xyz, intr)
        cube = cube * _uniform(gen, b, *aug.scale)
        rot = _uniform(gen, b, -1, 1).to(dev) * math.radians(aug.rotation_deg)
    patch, t = crop_cube(depth_mm, center.float(), intr, cube.to(dev).float(), model.input_size,
                         rotation_rad=None if rot is None else rot.float(),
                         mirror=False if mirror is None else mirror.to(dev))
    return patch, t.to_normalized(uvd.float()), t


def detector_like_centers(center_uvd: torch.Tensor, intr: Intrinsics, aug: AugmentConfig,
                          gen: torch.Generator) -> torch.Tensor:
    """True centres (B, 3) uvd moved as the learned detector errs: Gaussian per axis, std
    ``detector_jitter_mm[0]`` for most hands and ``[1]`` for a quarter (its long tail)."""
    b = center_uvd.shape[0]
    wide = torch.rand(b, generator=gen, dtype=torch.float64) < 0.25
    std = torch.where(wide, aug.detector_jitter_mm[1], aug.detector_jitter_mm[0])
    noise = torch.randn(b, 3, generator=gen, dtype=torch.float64) * std[:, None]
    xyz = uvd_to_xyz(center_uvd.double(), intr) + noise.to(center_uvd.device)
    return xyz_to_uvd(xyz, intr)


def localizer_crops(depth_mm: torch.Tensor, uvd: torch.Tensor, intr: Intrinsics,
                    cfg: LocalizerConfig, near_mm: float, far_mm: float, aug: AugmentConfig,
                    gen: torch.Generator, augment: bool = True, joint_set: Optional[str] = None,
                    from_detector: bool = False
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crops at the centre of mass (or, ``from_detector``, at detector-like centres), (B', 3)
    normalised true centres, and the kept frame ids."""
    true_center = hand_center_uvd(uvd.double(), intr, joint_set)
    if from_detector:
        coms = list(detector_like_centers(true_center, intr, aug, gen).float().cpu().numpy())
    else:
        frames = depth_mm.detach().cpu().numpy()
        coms = [center_of_mass(f, near_mm, far_mm, cfg.cube_mm, intr) for f in frames]
    keep = [i for i, c in enumerate(coms) if c is not None]
    dev = depth_mm.device
    idx = torch.tensor(keep, dtype=torch.long, device=dev)
    if not keep:
        return depth_mm.new_zeros(0, 1, cfg.input_size, cfg.input_size), \
            depth_mm.new_zeros(0, 3), idx
    com = torch.from_numpy(np.stack([coms[i] for i in keep])).to(dev)
    rot = None
    if augment and aug.localizer_rotation_deg > 0:
        rot = (_uniform(gen, len(keep), -1, 1) * math.radians(aug.localizer_rotation_deg))
        rot = rot.float().to(dev)
    patch, t = crop_cube(depth_mm[idx], com, intr, cfg.cube_mm, cfg.input_size, rotation_rad=rot)
    target = t.to_normalized(true_center[idx].float()[:, None])[:, 0]
    return patch, target, idx
