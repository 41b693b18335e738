"""HandPoseEstimator: one depth frame -> 3D hand joints (the whole hot path, ROS-free).

depth (mm) -> centre of mass of the nearest hand region -> localizer crop -> refined hand
centre -> pose crop -> two-task network -> heatmap decoding -> image uvd -> camera xyz (mm).
"""
from dataclasses import dataclass, field
import threading
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from .camera import Intrinsics, uvd_to_xyz
from .checkpoint import load_localizer, load_pose_model
from .crop import center_of_mass, crop_cube
from .nets.localizer import Localizer
from .nets.pose_net import PoseNet
from .resources import resolve_model_files
from .skeleton import get_joint_set, JointSet


@dataclass(frozen=True)
class HandPose:
    """One hand: joints in the camera optical frame (mm) with per-joint confidence."""

    xyz: np.ndarray              # (J, 3) float32 mm, camera optical frame (x right, y down, z fwd)
    uvd: np.ndarray              # (J, 3) float32 pixels + mm
    confidence: np.ndarray       # (J,) float32 in [0, 1]
    center: np.ndarray           # (3,) float32 xyz mm of the crop centre
    joint_set: JointSet
    timings: Dict[str, float]    # ms per stage: com, localizer, crop, pose_net, decode, total
    patch: np.ndarray = field(repr=False)     # (S, S) float32 normalised crop fed to the net
    patch_uv: np.ndarray = field(repr=False)  # (J, 2) float32 joints in crop pixels


@dataclass(frozen=True)
class Estimate:
    """A HandPose, or None with the reason no hand was found."""

    pose: Optional[HandPose]
    reason: Optional[str] = None


def select_device(device: Union[str, torch.device] = 'auto') -> torch.device:
    """'auto' -> CUDA when present, else CPU; an explicit device is honoured (and checked)."""
    if str(device) == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'device {device!r} requested but CUDA is not available')
    return dev


def as_depth_mm(depth: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Check a depth frame against its intrinsics and return float32 mm (non-finite -> 0)."""
    if not isinstance(depth, np.ndarray) or depth.ndim != 2:
        raise ValueError('depth must be a 2-D numpy array (H, W), found '
                         f'{type(depth).__name__} of shape {getattr(depth, "shape", None)}')
    if depth.shape != (intr.height, intr.width):
        raise ValueError(f'depth is {depth.shape[1]}x{depth.shape[0]} but the intrinsics are for '
                         f'{intr.width}x{intr.height}')
    if depth.dtype == np.uint16:
        return depth.astype(np.float32)
    if depth.dtype in (np.float32, np.float64):
        d = depth.astype(np.float32, copy=False)
        return np.where(np.isfinite(d), d, np.float32(0)) if not np.isfinite(d).all() else d
    raise ValueError(f'depth dtype must be uint16 or float32 millimetres, found {depth.dtype}')


class HandPoseEstimator:
    """Runs localizer + pose net on the best device; thread-safe ``configure``."""

    def __init__(self, model: PoseNet, localizer: Optional[Localizer] = None,
                 device: Union[str, torch.device] = 'auto', near_mm: float = 100.0,
                 far_mm: float = 1500.0, cube_mm: Optional[float] = None,
                 mirror: bool = False) -> None:
        self.device = select_device(device)
        self.model = model.to(self.device).eval()
        self.localizer = localizer.to(self.device).eval() if localizer is not None else None
        self.config = model.config
        self.joint_set: JointSet = get_joint_set(self.config.joint_set)
        self._lock = threading.Lock()
        self.near_mm, self.far_mm = 0.0, 0.0
        self.cube_mm, self.mirror = self.config.cube_mm, False
        self.configure(near_mm=near_mm, far_mm=far_mm, cube_mm=cube_mm or self.config.cube_mm,
                       mirror=mirror)

    @classmethod
    def from_files(cls, model: str = 'default', localizer: Optional[str] = 'default',
                   device: Union[str, torch.device] = 'auto', **kwargs) -> 'HandPoseEstimator':
        """Load shipped models by name ('default', 'compact', ...) or checkpoints by path."""
        pose_path, loc_path = resolve_model_files(model, localizer)
        net, _, _ = load_pose_model(pose_path)
        loc = load_localizer(loc_path)[0] if loc_path is not None else None
        est = cls(net, loc, device=device, **kwargs)
        est.model_path, est.localizer_path = pose_path, loc_path
        return est

    def configure(self, near_mm: Optional[float] = None, far_mm: Optional[float] = None,
                  cube_mm: Optional[float] = None, mirror: Optional[bool] = None) -> None:
        """Change the depth range (mm), cube edge (mm) or mirroring; validated, thread-safe."""
        near = self.near_mm if near_mm is None else float(near_mm)
        far = self.far_mm if far_mm is None else float(far_mm)
        cube = self.cube_mm if cube_mm is None else float(cube_mm)
        if not 0 <= near < far:
            raise ValueError(f'need 0 <= near_mm < far_mm, found {near} and {far}')
        if cube <= 0:
            raise ValueError(f'cube_mm must be positive, found {cube}')
        with self._lock:
            self.near_mm, self.far_mm, self.cube_mm = near, far, cube
            if mirror is not None:
                self.mirror = bool(mirror)

    def estimate(self, depth: np.ndarray, intr: Intrinsics) -> Optional[HandPose]:
        """Joints of the nearest hand in ``depth`` (uint16 or float32 mm), or None."""
        return self.estimate_detailed(depth, intr).pose

    def estimate_detailed(self, depth: np.ndarray, intr: Intrinsics) -> Estimate:
        """Like ``estimate`` but says why no hand was found."""
        return self.estimate_batch([depth], intr)[0]

    @torch.inference_mode()
    def estimate_batch(self, depths: Sequence[np.ndarray], intr: Intrinsics) -> List[Estimate]:
        """Estimate several frames of one camera at once (one network call per stage)."""
        with self._lock:
            near, far, cube, mirror = self.near_mm, self.far_mm, self.cube_mm, self.mirror
        sync = torch.cuda.synchronize if self.device.type == 'cuda' else (lambda: None)
        t0 = time.perf_counter()
        frames = [as_depth_mm(d, intr) for d in depths]
        coms = [center_of_mass(f, near, far, cube, intr) for f in frames]
        results: List[Estimate] = [
            Estimate(None, f'no hand in range [{near:.0f}, {far:.0f}] mm') for _ in frames]
        keep = [i for i, c in enumerate(coms) if c is not None]
        if not keep:
            return results
        t1 = time.perf_counter()
        depth_t = torch.from_numpy(np.stack([frames[i] for i in keep])).to(self.device)
        center = torch.from_numpy(np.stack([coms[i] for i in keep])).to(self.device)
        if self.localizer is not None:
            lcfg = self.localizer.config
            patch, t = crop_cube(depth_t, center, intr, lcfg.cube_mm, lcfg.input_size, mirror)
            refined = t.from_normalized(self.localizer(patch).float()[:, None])[:, 0]
            # A centre the localizer moved out of its own crop is not trusted: keep the CoM.
            ok = (refined[:, 2] > 0) & ((refined - center).abs()[:, 2] < lcfg.cube_mm / 2)
            center = torch.where(ok[:, None], refined, center)
        sync()
        t2 = time.perf_counter()
        patch, transform = crop_cube(depth_t, center, intr, cube, self.config.input_size, mirror)
        sync()
        t3 = time.perf_counter()
        out = self.model(patch)
        sync()
        t4 = time.perf_counter()
        nuvd, conf = PoseNet.joints(out)
        uvd = transform.from_normalized(nuvd)
        xyz = uvd_to_xyz(uvd, intr)
        center_xyz = uvd_to_xyz(center, intr)
        patch_uv = transform.to_patch_pixels(nuvd)
        cpu = [x.float().cpu().numpy()
               for x in (uvd, xyz, conf, center_xyz, patch[:, 0], patch_uv)]
        t5 = time.perf_counter()
        per_frame = (t5 - t0) * 1e3 / len(keep)
        timings = {'com': (t1 - t0) * 1e3 / len(keep), 'localizer': (t2 - t1) * 1e3 / len(keep),
                   'crop': (t3 - t2) * 1e3 / len(keep), 'pose_net': (t4 - t3) * 1e3 / len(keep),
                   'decode': (t5 - t4) * 1e3 / len(keep), 'total': per_frame}
        for k, i in enumerate(keep):
            results[i] = Estimate(HandPose(
                xyz=cpu[1][k], uvd=cpu[0][k], confidence=cpu[2][k], center=cpu[3][k],
                joint_set=self.joint_set, timings=dict(timings), patch=cpu[4][k],
                patch_uv=cpu[5][k]))
        return results
