"""Synthetic depth frames for int8 calibration: the core never renders, its callers pass these.

    est = HandPoseEstimator.from_files('default', precision='int8',
                                       calibration=int8_calibration('int8'))
"""
from typing import List, Optional, Tuple

import numpy as np
import torch

from .generator import SyntheticGenerator
from ..core.camera import Intrinsics
from ..core.specs import dataset_spec

CALIBRATION_FRAMES = 32     # synthetic renders used to calibrate int8 activations
CALIBRATION_SEED = 20_240_617


def calibration_frames(count: int = CALIBRATION_FRAMES, seed: int = CALIBRATION_SEED
                       ) -> Tuple[List[np.ndarray], Intrinsics]:
    """``count`` rendered ICVL-camera depth frames (float32 mm) and their intrinsics."""
    intr = dataset_spec('icvl').intrinsics
    gen = SyntheticGenerator(intr, device='cpu', seed=seed)
    depth = gen.sample(count).depth_mm
    depth = depth.numpy() if isinstance(depth, torch.Tensor) else np.asarray(depth)
    return [np.ascontiguousarray(d, dtype=np.float32) for d in depth], intr


def int8_calibration(precision: str) -> Optional[Tuple[List[np.ndarray], Intrinsics]]:
    """Calibration frames when ``precision`` is 'int8', else None (nothing is rendered)."""
    return calibration_frames() if precision == 'int8' else None
