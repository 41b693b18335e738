"""HandPoseEstimator: one depth frame -> 3D hand joints (the whole hot path, ROS-free).

depth (mm) -> centre of mass of the nearest hand region -> localizer crop -> refined hand
centre (``localizer_passes`` times, each pass around the last centre) -> pose crop ->
two-task network -> heatmap decoding -> image uvd -> camera xyz (mm).

Handedness (core/handedness.py): ``handedness`` says which hand to expect ('right' or 'left');
a pose network is trained on one side (``config.handedness``), so a hand of the other side is
mirrored into the crops (both networks see the mirror image) and its joints mirrored back.

How the networks run is chosen once, at construction (core/precision.py): ``precision``
('auto' = bf16 on CPUs with native bf16, else fp32; 'int8' through ONNX Runtime),
``backend`` ('torch', 'onnxruntime', or the backend of an exported file, core/exported.py)
and ``optimize`` (channels_last + frozen TorchScript on the CPU by default).
"""
from dataclasses import dataclass, field
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .camera import Intrinsics, uvd_to_xyz
from .checkpoint import load_localizer, load_pose_model
from .crop import center_of_mass, crop_cube
from .exported import ExportedNet, is_exported, load_exported, localizer_beside, to_pose_output
from .handedness import check_side
from .nets.localizer import Localizer
from .nets.pose_net import PoseNet, PoseOutput
from .precision import build_runner, calibration_runtime, resolve_runtime, Runtime
from .resources import resolve_model_files
from .skeleton import get_joint_set, JointSet

# Default and most localizer passes, chosen on 1,024 held-out synthetic hands of both sides
# (never the ICVL test poses): the shipped compact model's mean joint error after 1..6 passes
# is 19.4 / 17.1 / 16.4 / 15.8 / 15.9 / 15.7 mm (median 9.9-10.1 mm: later passes rescue the
# frames whose centre of mass fell on the forearm). Each pass costs one localizer run (3.4 ms
# on 2 threads, `hand-pose bench`): 2 is the last pass that buys >= 1 mm, and keeps the whole
# estimator within 30 fps on 2 cores (about 29 ms; 4 passes: 36.0 ms). Offline users who want
# the last 1.3 mm: localizer_passes 4. Reproduce: `hand-pose eval --dataset icvl --synthetic
# 1024 --hands both --precision fp32 --localizer-passes N`.
DEFAULT_LOCALIZER_PASSES = 2
MAX_LOCALIZER_PASSES = 8
# How far from its crop's centre the localizer's answer is trusted, in the crop's normalised
# units (1 = the cube's half edge), for u, v and d alike. The true centre of a training frame
# lies outside the crop when the centre of mass falls on the forearm: |normalised| > 1 for 8 %
# of 512 synthetic training renders, at most 1.70 / 1.24 / 1.72 in u / v / d; beyond 2 the
# localizer extrapolates past anything it was trained on.
LOCALIZER_TRUST = 2.0
# A float frame whose every depth is below this (mm) is taken for metres: no depth camera
# measures a whole scene within 10 mm; the same scene in metres stays below it out to 10 m.
METRES_MAX = 10.0


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
    handedness: str = 'right'                 # which hand: 'right' | 'left'


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
        d = np.where(np.isfinite(d), d, np.float32(0)) if not np.isfinite(d).all() else d
        if 0 < d.max() < METRES_MAX:
            raise ValueError(f'depth must be millimetres, but its largest value is {d.max():.3g}: '
                             'metres? (multiply by 1000; ROS 32FC1 images are metres)')
        return d
    raise ValueError(f'depth dtype must be uint16 or float32 millimetres, found {depth.dtype}')


class _Recorder:
    """Wraps a runner and keeps a CPU copy of every input (int8 calibration)."""

    def __init__(self, runner) -> None:
        self.runner, self.patches = runner, []

    def __call__(self, patch: torch.Tensor):
        self.patches.append(patch.detach().float().cpu().numpy())
        return self.runner(patch)


class HandPoseEstimator:
    """Runs localizer + pose net on the best device; thread-safe ``configure``.

    ``model`` / ``localizer``: networks (PoseNet, Localizer) or exported files loaded with
    ``core.exported.load_exported`` (ONNX runs on ONNX Runtime, TorchScript on torch).
    ``precision``: 'auto' | 'fp32' | 'bf16' | 'int8'; ``backend``: 'auto' | 'torch' |
    'onnxruntime'; ``optimize``: 'auto' | 'none' | 'channels_last' | 'freeze' | 'compile'
    (see core/precision.py; ``est.precision``, ``est.backend`` and ``est.runtime`` say what
    the pose network uses; the localizer always runs in fp32, ``est.localizer_runtime``).
    ``threads``: torch and ONNX Runtime threads (None: leave torch's setting;
    torch's setting is process-wide). ``calibration``: (frames, intrinsics) for int8 (required:
    the core renders nothing; ``hand_pose_ros.synthetic.calibration`` makes synthetic ones).
    """

    def __init__(self, model: Union[PoseNet, ExportedNet],
                 localizer: Optional[Union[Localizer, ExportedNet]] = None,
                 device: Union[str, torch.device] = 'auto', near_mm: float = 100.0,
                 far_mm: float = 1500.0, cube_mm: Optional[float] = None,
                 handedness: str = 'right',
                 localizer_passes: int = DEFAULT_LOCALIZER_PASSES,
                 precision: str = 'auto', backend: str = 'auto',
                 optimize: str = 'auto', threads: Optional[int] = None,
                 calibration: Optional[Tuple[Sequence[np.ndarray], Intrinsics]] = None) -> None:
        self.device = select_device(device)
        self.model, self.localizer = model, localizer
        self.config = model.config
        self.joint_set: JointSet = get_joint_set(self.config.joint_set)
        self._lock = threading.Lock()
        self.near_mm, self.far_mm = 0.0, 0.0
        self.cube_mm, self.localizer_passes = self.config.cube_mm, 1
        self.handedness = self.config.handedness
        self.configure(near_mm=near_mm, far_mm=far_mm, cube_mm=cube_mm or self.config.cube_mm,
                       handedness=handedness, localizer_passes=localizer_passes)
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.threads = torch.get_num_threads()

        def runtime_of(net, wanted: str) -> Runtime:
            exported = net.backend if isinstance(net, ExportedNet) else None
            return resolve_runtime(wanted, backend, optimize, self.device, exported)
        self.runtime = runtime_of(model, precision)
        self.precision, self.backend = self.runtime.precision, self.runtime.backend
        # The localizer always runs in fp32: its regressed centre moves the whole pose crop
        # (a bf16 localizer shifted it 0.6 mm and the joints 6 mm), and its cost is the same.
        self.localizer_runtime = (runtime_of(localizer, 'fp32') if localizer is not None
                                  else None)
        self._loc_run = (build_runner(localizer, self.localizer_runtime, self.device,
                                      self.threads) if localizer is not None else None)
        calib = self._calibrate(calibration) if self.precision == 'int8' else None
        self._pose_run = build_runner(model, self.runtime, self.device, self.threads, calib)

    def _calibrate(self, calibration) -> np.ndarray:
        """The crops the exact fp32 pipeline makes of the calibration frames (int8)."""
        if calibration is None:
            raise ValueError('precision int8 needs calibration=(frames, intrinsics): depth frames '
                             'of hands like those it will see (synthetic renders: hand_pose_ros.'
                             'synthetic.calibration.calibration_frames)')
        frames, intr = calibration
        recorder = _Recorder(build_runner(self.model, calibration_runtime(self.model),
                                          self.device, self.threads))
        self._pose_run = recorder
        for start in range(0, len(frames), 8):
            self.estimate_batch(list(frames[start:start + 8]), intr)
        if not recorder.patches:
            raise ValueError(f'int8 calibration found no hand in any of the {len(frames)} '
                             f'calibration frames (depth range [{self.near_mm:.0f}, '
                             f'{self.far_mm:.0f}] mm)')
        return np.concatenate(recorder.patches)

    @classmethod
    def from_files(cls, model: str = 'default', localizer: Optional[str] = 'default',
                   device: Union[str, torch.device] = 'auto', **kwargs) -> 'HandPoseEstimator':
        """Load shipped models by name ('default', 'compact', ...) or files by path.

        A path may be a checkpoint (.pt), an ONNX file (.onnx) or a TorchScript archive
        (``hand-pose export``); beside an exported pose file, ``<stem>_localizer<suffix>`` is
        its default localizer. Other keywords go to the constructor (precision, backend, ...).
        """
        pose_path, loc_path = resolve_model_files(model, localizer)
        if localizer == 'default' and loc_path is None and is_exported(pose_path):
            loc_path = localizer_beside(pose_path)
        net = (load_exported(pose_path, 'pose') if is_exported(pose_path)
               else load_pose_model(pose_path)[0])
        loc = None
        if loc_path is not None:
            loc = (load_exported(loc_path, 'localizer') if is_exported(loc_path)
                   else load_localizer(loc_path)[0])
        est = cls(net, loc, device=device, **kwargs)
        est.model_path, est.localizer_path = pose_path, loc_path
        return est

    def configure(self, near_mm: Optional[float] = None, far_mm: Optional[float] = None,
                  cube_mm: Optional[float] = None, handedness: Optional[str] = None,
                  localizer_passes: Optional[int] = None) -> None:
        """Change the depth range (mm), cube edge (mm), the hand to expect ('right' | 'left')
        or the number of localizer passes (1..MAX_LOCALIZER_PASSES); validated, thread-safe."""
        side = self.handedness if handedness is None else check_side(handedness)
        passes = self.localizer_passes if localizer_passes is None else int(localizer_passes)
        if not 1 <= passes <= MAX_LOCALIZER_PASSES:
            raise ValueError(f'localizer_passes must be 1..{MAX_LOCALIZER_PASSES}, '
                             f'found {localizer_passes}')
        near = self.near_mm if near_mm is None else float(near_mm)
        far = self.far_mm if far_mm is None else float(far_mm)
        cube = self.cube_mm if cube_mm is None else float(cube_mm)
        if not 0 <= near < far:
            raise ValueError(f'need 0 <= near_mm < far_mm, found {near} and {far}')
        if cube <= 0:
            raise ValueError(f'cube_mm must be positive, found {cube}')
        with self._lock:
            self.near_mm, self.far_mm, self.cube_mm = near, far, cube
            self.localizer_passes = passes
            self.handedness = side

    @property
    def mirror(self) -> bool:
        """Whether crops are mirrored: the expected hand is not the network's side."""
        return self.handedness != self.config.handedness

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
            near, far, cube, side = self.near_mm, self.far_mm, self.cube_mm, self.handedness
            passes = self.localizer_passes
        mirror = side != self.config.handedness
        sync = torch.cuda.synchronize if self.device.type == 'cuda' else (lambda: None)
        t0 = time.perf_counter()
        frames = [as_depth_mm(d, intr) for d in depths]
        # The localizer learnt to refine centres of mass taken with its own cube (training/
        # augment.py): the same cube here, else the CoM of the pose cube.
        com_cube = self.localizer.config.cube_mm if self._loc_run is not None else cube
        coms = [center_of_mass(f, near, far, com_cube, intr) for f in frames]
        results: List[Estimate] = [
            Estimate(None, f'no hand in range [{near:.0f}, {far:.0f}] mm') for _ in frames]
        keep = [i for i, c in enumerate(coms) if c is not None]
        if not keep:
            return results
        t1 = time.perf_counter()
        stacked = frames[keep[0]][None] if len(keep) == 1 else np.stack([frames[i] for i in keep])
        depth_t = torch.from_numpy(stacked).to(self.device)                 # (B, H, W) mm
        center = torch.from_numpy(np.stack([coms[i] for i in keep])).to(self.device)
        if self._loc_run is not None:
            lcfg = self.localizer.config
            for _ in range(passes):      # each pass crops around the previous pass's centre
                patch, t = crop_cube(depth_t, center, intr, lcfg.cube_mm, lcfg.input_size,
                                     mirror)
                inside = self._loc_run(patch)[0].float()             # (B, 3) crop-normalised
                refined = t.from_normalized(inside[:, None])[:, 0]
                # A centre far outside the localizer's own crop (any of u, v, d) is not
                # trusted: keep the last one.
                ok = (refined[:, 2] > 0) & (inside.abs() <= LOCALIZER_TRUST).all(-1)
                center = torch.where(ok[:, None], refined, center)
        sync()
        t2 = time.perf_counter()
        patch, transform = crop_cube(depth_t, center, intr, cube, self.config.input_size, mirror)
        sync()
        t3 = time.perf_counter()
        out = self._run_pose(patch)
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
                patch_uv=cpu[5][k], handedness=side))
        return results

    def _run_pose(self, patch: torch.Tensor) -> PoseOutput:
        """The pose network on (B, 1, S, S) crops, whatever the runtime."""
        return to_pose_output(self._pose_run(patch), self.config)
