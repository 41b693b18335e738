"""HandPoseEstimator: one depth frame -> 3D hand joints (the whole hot path, ROS-free).

depth (mm) -> centre of mass of the nearest hand region -> localizer crop -> refined hand
centre (``localizer_passes`` times, each pass around the last centre) -> pose crop ->
two-task network -> heatmap decoding -> image uvd -> camera xyz (mm).

Finding hands (``detector``): 'learned' runs the whole-frame hand detector (nets/detector.py,
core/detection.py) and starts a crop at each of up to ``max_hands`` detections scoring at least
``detection_threshold``, and at up to MAX_WEAK_PEAKS weaker ones (from
``weak_detection_threshold``) that the pose network confirms; 'nearest' starts one crop at the
centre of mass of the nearest blob (for masked frames with one hand).

Handedness (core/handedness.py): 'auto' reads each hand's crop as it is and mirrored and keeps
the better fit (a left/right classifier instead, where one is loaded), at most two hands, one
of each side; 'right' or 'left' declares every hand that side.
A pose network is trained on one side (``config.handedness``), so a hand of the other side is
mirrored into the crops (both networks see the mirror image) and its joints mirrored back; all
hands of all frames go through one localizer and one pose-network call per pass.

How the networks run is chosen once, at construction (core/precision.py): ``precision``
('auto' = bf16 on CPUs with native bf16, else fp32; 'int8' through ONNX Runtime),
``backend`` ('torch', 'onnxruntime', or the backend of an exported file, core/exported.py)
and ``optimize`` (channels_last + frozen TorchScript on the CPU by default).
"""
from dataclasses import dataclass, field, replace
from pathlib import Path
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .camera import Intrinsics, uvd_to_xyz
from .checkpoint import load_detector, load_localizer, load_pose_model, load_side_classifier
from .crop import center_of_mass, crop_cube, CropTransform
from .detection import (decode, Detection, detector_input, MIN_HAND_SEPARATION_MM,
                        sample_frames, surface_depth)
from .exported import (detector_beside, ExportedDetector, ExportedNet, is_exported,
                       load_exported, localizer_beside, onnx_bytes, to_pose_output)
from .hand_tracker import distinct_hands, FollowedHand, HandTracker
from .handedness import SIDES
from .image_rotation import (quarter_turns, turned_depth, turned_intrinsics, turned_uv,
                             uv_turned_back, xyz_turned_back)
from .nets.detector import HandDetector
from .nets.localizer import Localizer
from .nets.pose_net import PoseNet, PoseOutput
from .nets.side import side_input, SideClassifier
from .precision import build_runner, calibration_runtime, resolve_runtime, Runtime
from .resources import resolve_detector_file, resolve_model_files
from .side_memory import SideMemory
from .skeleton import get_joint_set, joint_selection, JointSet, resolve_joint_order

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
# A followed hand (core/hand_tracker.py) whose pose crop has less than this share of its pixels
# inside the cube is gone: a hand fills a quarter of it open, a tenth as a fist seen end-on.
MIN_FOLLOW_SUPPORT = 0.02
# A float frame whose every depth is below this (mm) is taken for metres: no depth camera
# measures a whole scene within 10 mm; the same scene in metres stays below it out to 10 m.
METRES_MAX = 10.0
# Depth range (mm) where a hand is looked for unless the caller says otherwise (node: near_m,
# far_m; hand-pose estimate: --near-m, --far-m).
DEFAULT_NEAR_MM = 100.0
DEFAULT_FAR_MM = 1500.0
HANDEDNESS_MODES: Tuple[str, ...] = ('auto',) + SIDES
DETECTORS: Tuple[str, ...] = ('learned', 'nearest')
MAX_HANDS = 4
DEFAULT_MAX_HANDS = 2
# The detector's heat at a hand centre, below which a peak is not a hand. Chosen on the
# held-out validation scenes (never the evaluation scenes or a real frame) for the shipped
# detector (its eighth run, detector_cpu_fullres then detector_cpu_fullres_free: trained on
# scenes rendered as a camera gives them) with the shipped pose network and localizer (stage
# 6): end to end, 160 scenes per view (`hand-pose eval --scenes 160 --seed 1
# --detection-threshold T`), at 0.4 / 0.5 it finds 99.5 / 98.6 % of third-person, 93.8 / 93.8 %
# of egocentric and 93.5 / 91.7 % of robot-view hands with 0.050 / 0.031, 0.113 / 0.087 and
# 0.025 / 0.025 false hands per frame, and puts a hand on 3 / 0 of the 160 hand-free frames
# (their peaks score 0.41-0.47, their pose readings a mean joint confidence of 0.11-0.12): 0.5,
# the goal being at most 1 % of hand-free frames, as a false hand is published as a hand and a
# missed frame is not. The detector before (fourth run) was chosen at 0.4 on the same kind of
# sweep (97.7 / 95.4 %, 78.6 / 76.8 %, 85.7 / 81.2 % found at 0.4 / 0.5 with stage 3).
# The detector alone: `python -m hand_pose_ros.training.detector_trainer
# models/compact_detector.pt --config detector_cpu_fullres`.
DEFAULT_DETECTION_THRESHOLD = 0.5
# Weak detector peaks, scoring at least the weak threshold but below ``detection_threshold``,
# are hands only when the pose network fits a hand there: the mean joint confidence of its
# better reading (the crop as it is or mirrored, under 'auto') at least VERIFIED_CONFIDENCE.
# At most MAX_WEAK_PEAKS of them per frame are tried, after the localizer, before the hands'
# own pose pass (a weak peak confirmed is read a second time there, with the frame's other
# hand). Setting the weak threshold to detection_threshold (or above) turns this off.
# Why: most hands the shipped estimator missed had a detector peak below 0.4 (the detector's
# heat at their centre 0.01-0.46), and through the pose network the true ones among peaks of
# 0.1-0.4 read a median mean joint confidence of 0.37-0.60, the false ones 0.10-0.38.
# Chosen end to end on the validation scenes with stage 3 of the pose network and the fourth
# detector run (`hand-pose eval --scenes 160 --seed 1 --weak-threshold W`, the confidence
# swept in a script; never the test scenes or a real frame):
# third person / egocentric / robot found, false hands per frame (hand-free frames: 0.006 in
# every setting):
#   off                       97.7 / 78.6 / 85.7 %, 0.031 / 0.206 / 0.031
#   weak 0.2, confidence 0.45 99.1 / 79.1 / 88.8 %, 0.050 / 0.206 / 0.031   <- default
#   weak 0.2, confidence 0.5  98.6 / 78.6 / 87.4 %, 0.044 / 0.206 / 0.031
#   weak 0.1, confidence 0.45 99.5 / 79.1 / 89.7 %, 0.069 / 0.206 / 0.062
#   weak 0.1, confidence 0.55 98.6 / 78.6 / 87.4 %, 0.044 / 0.206 / 0.037
DEFAULT_WEAK_DETECTION_THRESHOLD = 0.2
VERIFIED_CONFIDENCE = 0.45
MAX_WEAK_PEAKS = 2


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
    score: float = 1.0                        # detection score in [0, 1] (1: nearest blob)
    followed: bool = False                    # cropped where the hand was on the last frame


@dataclass(frozen=True)
class Estimate:
    """The hands of one frame (highest score first); ``pose`` is the first or None, with the
    reason no hand was found."""

    pose: Optional[HandPose]
    reason: Optional[str] = None
    hands: Tuple[HandPose, ...] = ()


def _turned_back(estimate: Estimate, intr: Intrinsics, rotation_deg: int) -> Estimate:
    """An estimate of a frame turned by ``rotation_deg`` with every hand's joints, pixels and
    crop centre in the frame of the camera (of ``intr``) again."""
    def back(pose: HandPose) -> HandPose:
        return replace(pose, xyz=xyz_turned_back(pose.xyz, rotation_deg),
                       uvd=uv_turned_back(pose.uvd, intr, rotation_deg),
                       center=xyz_turned_back(pose.center, rotation_deg))
    hands = tuple(back(h) for h in estimate.hands)
    first = [k for k, h in enumerate(estimate.hands) if h is estimate.pose]
    pose = hands[first[0]] if first else (None if estimate.pose is None else back(estimate.pose))
    return replace(estimate, pose=pose, hands=hands)


def frame_pairs(owner: Sequence[int]) -> List[Tuple[int, int]]:
    """The hands that share their frame two by two (one user's two hands): index pairs into
    ``owner``, the frame of each hand, lower index first."""
    by_frame: Dict[int, List[int]] = {}
    for k, frame in enumerate(owner):
        by_frame.setdefault(frame, []).append(k)
    return [(ks[0], ks[1]) for ks in by_frame.values() if len(ks) == 2]


def _kept(keep: Sequence[bool], depth_t: torch.Tensor, center: torch.Tensor,
          mirror: torch.Tensor, *per_hand: list) -> tuple:
    """The hands' frames (one per hand, or one shared), centres, mirror flags and per-hand
    lists without the hands ``keep`` drops."""
    ks = np.flatnonzero(keep)
    index = torch.as_tensor(ks, device=center.device, dtype=torch.long)
    frames = depth_t[index] if depth_t.shape[0] > 1 else depth_t
    return (frames, center[index], mirror[index]) + tuple([x[k] for k in ks] for x in per_hand)


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


DEPTH_UNIT_HINT = 'check the depth range and the depth unit'  # in the no-hand reason below


def with_range_settings(reason: Optional[str], settings: str) -> str:
    """A no-hand reason ('no hand found' when there is none); when it says that no depth of
    the frame lies in range at all, followed by ``settings``: the caller's names and values of
    what sets the range and the unit (node parameters, command options)."""
    if not reason or DEPTH_UNIT_HINT not in reason:
        return reason or 'no hand found'
    return f'{reason}; {settings}'


def out_of_range_note(depth_mm: np.ndarray, near_mm: float, far_mm: float) -> str:
    """'' when some depth of the frame (mm) lies in [near_mm, far_mm]; else what depth it
    holds, so a wrong range or depth unit reads differently from an empty view."""
    if np.any((depth_mm >= near_mm) & (depth_mm <= far_mm) & (depth_mm > 0)):
        return ''                                 # the usual case: no copy of the frame
    valid = depth_mm[depth_mm > 0]
    if valid.size == 0:
        return ': the frame holds no depth'
    lo, mid, hi = np.percentile(valid, [1, 50, 99])
    return (f': no depth in that range at all, the frame\'s is {lo:.0f}-{hi:.0f} mm (median '
            f'{mid:.0f}); {DEPTH_UNIT_HINT} (millimetres: ROS 16UC1 is mm, 32FC1 metres)')


def load_hand_detector(path: Union[str, Path]) -> Union[HandDetector, ExportedDetector]:
    """A hand detector from a checkpoint (.pt) or an exported file (.onnx, TorchScript)."""
    return load_exported(path, 'detector') if is_exported(path) else load_detector(path)[0]


def fast_detector(det: Optional[Union[HandDetector, ExportedDetector]],
                  device: torch.device):
    """What runs the hand detector: on the CPU, a torch module goes through ONNX Runtime (its
    fp32 graph; measured about 3x faster than eager torch on the 2-core development CPU, and
    its input size changes with the camera, which rules out a traced graph), else as it is."""
    if not isinstance(det, HandDetector) or device.type != 'cpu':
        return det
    try:
        return ExportedDetector('detector', det.config, 'onnxruntime', onnx=onnx_bytes(det))
    except ImportError:          # onnxruntime not installed: eager torch
        return det


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
    ``joint_order``: the joint set returned (default: the network's; a whole-hand network
    gives any selection of it, e.g. 'icvl16' or 'mediapipe21'; 'auto': MediaPipe-21 from a
    whole-hand network, else its own).
    ``threads``: torch and ONNX Runtime threads (None: leave torch's setting;
    torch's setting is process-wide). ``calibration``: (frames, intrinsics) for int8 (required:
    the core renders nothing; ``hand_pose_ros.synthetic.calibration`` makes synthetic ones).
    """

    def __init__(self, model: Union[PoseNet, ExportedNet],
                 localizer: Optional[Union[Localizer, ExportedNet]] = None,
                 device: Union[str, torch.device] = 'auto', near_mm: float = DEFAULT_NEAR_MM,
                 far_mm: float = DEFAULT_FAR_MM, cube_mm: Optional[float] = None,
                 handedness: Optional[str] = None,
                 localizer_passes: int = DEFAULT_LOCALIZER_PASSES,
                 hand_detector: Optional[Union[HandDetector, ExportedDetector]] = None,
                 side_classifier: Optional[SideClassifier] = None,
                 detector: Optional[str] = None, max_hands: int = DEFAULT_MAX_HANDS,
                 detection_threshold: float = DEFAULT_DETECTION_THRESHOLD,
                 weak_detection_threshold: float = DEFAULT_WEAK_DETECTION_THRESHOLD,
                 rotation_deg: int = 0, joint_order: Optional[str] = None,
                 precision: str = 'auto', backend: str = 'auto',
                 optimize: str = 'auto', threads: Optional[int] = None,
                 calibration: Optional[Tuple[Sequence[np.ndarray], Intrinsics]] = None) -> None:
        self.device = select_device(device)
        self.model, self.localizer = model, localizer
        self.config = model.config
        # The joints returned: the network's own, or a selection of a whole-hand network's
        # (``joint_order``: 'icvl16', 'mediapipe21', ...; core.skeleton.joint_selection).
        order = resolve_joint_order(joint_order or self.config.joint_set,
                                    self.config.joint_set)
        self._joint_index = list(joint_selection(self.config.joint_set, order))
        self.joint_set: JointSet = get_joint_set(order)
        self.hand_detector, self.side_classifier = hand_detector, side_classifier
        self.side_path: Optional[Path] = None      # the classifier's file (from_files)
        for net in (hand_detector, side_classifier):
            if net is not None:
                net.to(self.device).eval()
        self._det_run = None           # built at the first detection (fast_detector)
        self._lock = threading.Lock()
        self.near_mm, self.far_mm = 0.0, 0.0
        self.cube_mm, self.localizer_passes = self.config.cube_mm, 1
        self.handedness = self.config.handedness
        self.detector, self.max_hands = 'nearest', 1
        self.detection_threshold = DEFAULT_DETECTION_THRESHOLD
        self.weak_detection_threshold = DEFAULT_WEAK_DETECTION_THRESHOLD
        self.rotation_deg = 0
        # Without a detector network: one hand at the nearest blob, of the declared side.
        learned = hand_detector is not None
        can_tell = learned or side_classifier is not None
        self.configure(near_mm=near_mm, far_mm=far_mm, cube_mm=cube_mm or self.config.cube_mm,
                       handedness=handedness or ('auto' if can_tell else 'right'),
                       localizer_passes=localizer_passes,
                       detector=detector or ('learned' if learned else 'nearest'),
                       max_hands=max_hands, detection_threshold=detection_threshold,
                       weak_detection_threshold=weak_detection_threshold,
                       rotation_deg=rotation_deg)
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.threads = torch.get_num_threads()

        def runtime_of(net, wanted: str, chosen: str = backend) -> Runtime:
            exported = net.backend if isinstance(net, ExportedNet) else None
            return resolve_runtime(wanted, backend if exported else chosen, optimize,
                                   self.device, exported)
        self.runtime = runtime_of(model, precision)
        self.precision, self.backend = self.runtime.precision, self.runtime.backend
        # The localizer always runs in fp32: its regressed centre moves the whole pose crop
        # (a bf16 localizer shifted it 0.6 mm and the joints 6 mm), and its cost is the same.
        # Beside a pose network on ONNX Runtime (int8: the fast path) it runs there too, in
        # fp32: 1.1 ms a pass against 2.3 ms as frozen TorchScript (batch 1, 2 threads, 2-core
        # AVX2 EPYC, 2026-12-02).
        loc_backend = 'onnxruntime' if self.backend == 'onnxruntime' else backend
        self.localizer_runtime = (runtime_of(localizer, 'fp32', loc_backend)
                                  if localizer is not None else None)
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
        (``hand-pose export``); beside an exported pose file, ``<stem>_localizer<suffix>`` and
        ``<stem>_detector<suffix>`` are its default localizer and detector.
        ``detector_model``: 'default' (the shipped model's detector, or ``<stem>_detector.pt``
        beside a model file), 'none', or a path (checkpoint or exported). Other keywords go to
        the constructor (precision, backend, handedness, max_hands, ...).
        """
        pose_path, loc_path = resolve_model_files(model, localizer)
        if localizer == 'default' and loc_path is None and is_exported(pose_path):
            loc_path = localizer_beside(pose_path)
        hand_detector = kwargs.pop('hand_detector', None)
        det_choice = kwargs.pop('detector_model', 'default')
        det_path = None
        if hand_detector is None:
            if det_choice == 'default' and is_exported(pose_path):
                det_path = detector_beside(pose_path)
            det_path = det_path or resolve_detector_file(model, det_choice)
        if det_path is not None:
            hand_detector = load_hand_detector(det_path)
        side_net = kwargs.pop('side_classifier', None)
        side_path = (None if side_net is not None
                     else resolve_detector_file(model, kwargs.pop('side_model', 'default'),
                                                kind='side'))
        if side_path is not None:
            side_net = load_side_classifier(side_path)[0]
        net = (load_exported(pose_path, 'pose') if is_exported(pose_path)
               else load_pose_model(pose_path)[0])
        loc = None
        if loc_path is not None:
            loc = (load_exported(loc_path, 'localizer') if is_exported(loc_path)
                   else load_localizer(loc_path)[0])
        est = cls(net, loc, device=device, hand_detector=hand_detector,
                  side_classifier=side_net, **kwargs)
        est.model_path, est.localizer_path, est.detector_path = pose_path, loc_path, det_path
        est.side_path = side_path
        return est

    def configure(self, near_mm: Optional[float] = None, far_mm: Optional[float] = None,
                  cube_mm: Optional[float] = None, handedness: Optional[str] = None,
                  localizer_passes: Optional[int] = None, detector: Optional[str] = None,
                  max_hands: Optional[int] = None,
                  detection_threshold: Optional[float] = None,
                  weak_detection_threshold: Optional[float] = None,
                  rotation_deg: Optional[int] = None) -> None:
        """Change the depth range (mm), cube edge (mm), the hands to expect ('auto' | 'right' |
        'left'), the localizer passes (1..MAX_LOCALIZER_PASSES), how hands are found
        ('learned' | 'nearest'), at most how many (1..MAX_HANDS), the detection threshold
        ([0, 1]) and the weak one ([0, 1]; peaks between the two count when the pose network
        confirms them, VERIFIED_CONFIDENCE), and how far frames are turned clockwise before
        estimation (core/image_rotation.py: a camera mounted rolled; degrees, 0 | 90 | 180 |
        270); validated, thread-safe."""
        side = self.handedness if handedness is None else str(handedness)
        if side not in HANDEDNESS_MODES:
            raise ValueError(f'handedness must be one of {HANDEDNESS_MODES}, found {side!r}')
        finder = self.detector if detector is None else str(detector)
        if finder not in DETECTORS:
            raise ValueError(f'detector must be one of {DETECTORS}, found {finder!r}')
        if finder == 'learned' and self.hand_detector is None:
            raise ValueError('detector "learned" needs the hand detector network, and none is '
                             'loaded (use detector "nearest", or load a detector)')
        hands = self.max_hands if max_hands is None else int(max_hands)
        if not 1 <= hands <= MAX_HANDS:
            raise ValueError(f'max_hands must be 1..{MAX_HANDS}, found {max_hands}')
        threshold = (self.detection_threshold if detection_threshold is None
                     else float(detection_threshold))
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f'detection_threshold must be in [0, 1], found {threshold}')
        weak = (self.weak_detection_threshold if weak_detection_threshold is None
                else float(weak_detection_threshold))
        if not 0.0 <= weak <= 1.0:
            raise ValueError(f'weak_detection_threshold must be in [0, 1], found {weak}')
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
        turn = self.rotation_deg if rotation_deg is None else int(rotation_deg)
        quarter_turns(turn)                                  # ValueError for another angle
        with self._lock:
            self.near_mm, self.far_mm, self.cube_mm = near, far, cube
            self.localizer_passes = passes
            self.handedness = side
            self.detector, self.max_hands, self.detection_threshold = finder, hands, threshold
            self.weak_detection_threshold = weak
            self.rotation_deg = turn

    @property
    def mirror(self) -> bool:
        """Whether crops are mirrored for a declared side: it is not the network's side."""
        return self.handedness in SIDES and self.handedness != self.config.handedness

    def estimate(self, depth: np.ndarray, intr: Intrinsics) -> Optional[HandPose]:
        """Joints of the highest-scoring hand in ``depth`` (uint16 or float32 mm), or None."""
        return self.estimate_detailed(depth, intr).pose

    def estimate_hands(self, depth: np.ndarray, intr: Intrinsics) -> Tuple[HandPose, ...]:
        """Every hand found in ``depth`` (at most ``max_hands``), highest score first."""
        return self.estimate_detailed(depth, intr).hands

    def estimate_detailed(self, depth: np.ndarray, intr: Intrinsics) -> Estimate:
        """Like ``estimate`` but with every hand and the reason when none was found."""
        return self.estimate_batch([depth], intr)[0]

    @torch.inference_mode()
    def detect(self, frames: Sequence[np.ndarray], intr: Intrinsics,
               threshold: float, max_hands: int) -> List[List[Detection]]:
        """The learned detector on frames (mm): per frame, detections highest score first."""
        det = self.hand_detector
        if self._det_run is None:      # not before: a 'nearest' estimator never exports it
            self._det_run = fast_detector(det, self.device)
        stacked = torch.from_numpy(np.stack(frames)).to(self.device)
        small, _, stride = sample_frames(stacked, intr, det.config)
        maps = self._det_run(detector_input(small, det.config))
        found = decode(maps, det.config, stride, threshold, max_hands, intr)
        return [[surface_depth(f, d, intr) for d in dets] for f, dets in zip(frames, found)]

    def _candidates(self, frames: List[np.ndarray], intr: Intrinsics, settings: dict
                    ) -> List[List[Tuple[np.ndarray, float, str]]]:
        """Per frame: (centre uvd, score, side) of each hand to crop, highest score first;
        the learned detector's weak peaks (scores below ``threshold``: to be verified) after
        the others."""
        near, far, side = settings['near'], settings['far'], settings['side']
        if settings['detector'] == 'learned':
            strong_from = settings['threshold']
            found = self.detect(frames, intr, min(strong_from, settings['weak']), MAX_HANDS * 2)
            hand_side = self.config.handedness if side == 'auto' else side
            out = []
            for dets in found:
                inside = [(d.center_uvd.astype(np.float32), d.score, hand_side) for d in dets
                          if near <= float(d.center_uvd[2]) <= far]
                strong = [h for h in inside if h[1] >= strong_from]
                weak = [h for h in inside if h[1] < strong_from]
                out.append(strong[:self._hand_cap(settings)] + weak[:MAX_WEAK_PEAKS])
            return out
        # Nearest blob: the localizer learnt to refine centres of mass taken with its own cube
        # (training/augment.py): the same cube here, else the CoM of the pose cube.
        com_cube = self.localizer.config.cube_mm if self._loc_run is not None else \
            settings['cube']
        out = []
        for f in frames:
            com = center_of_mass(f, near, far, com_cube, intr)
            if com is None:
                out.append([])
                continue
            hand_side = self.config.handedness if side == 'auto' else side
            out.append([(com.astype(np.float32), 1.0, hand_side)])
        return out

    def _hand_cap(self, settings: dict) -> int:
        """At most this many hands per frame: max_hands, and one per side under 'auto'."""
        return min(2, settings['max_hands']) if settings['side'] == 'auto' \
            else settings['max_hands']

    def _with_followed(self, found: List[Tuple[np.ndarray, float, str]],
                       followed: List[FollowedHand], intr: Intrinsics, settings: dict
                       ) -> Tuple[List[Tuple[np.ndarray, float, str]], List[bool]]:
        """A frame's detections (may be empty) and the followed hands (core/hand_tracker.py)
        not within MIN_HAND_SEPARATION_MM of one, in depth range: highest score first, capped
        like the detections, then the weak peaks (below ``threshold``) away from the followed
        hands; with the flags of the followed ones."""
        side = self.config.handedness if settings['side'] == 'auto' else settings['side']

        def mm_of(c: np.ndarray) -> np.ndarray:
            return uvd_to_xyz(torch.from_numpy(c[None].astype(np.float64)), intr)[0].numpy()

        def apart(mm: np.ndarray, others: List[np.ndarray]) -> bool:
            return all(np.linalg.norm(mm - o) >= MIN_HAND_SEPARATION_MM for o in others)

        rows = [(c, s, sd, False) for c, s, sd in found if s >= settings['threshold']]
        weak = [(c, s, sd, False) for c, s, sd in found if s < settings['threshold']]
        strong_mm = [mm_of(r[0]) for r in rows]
        followed_mm = []
        for hand in followed:
            c = hand.center_uvd.astype(np.float32)
            if not settings['near'] <= float(c[2]) <= settings['far']:
                continue
            mm = mm_of(c)
            if apart(mm, strong_mm):
                rows.append((c, hand.score, side, True))
                followed_mm.append(mm)
        rows.sort(key=lambda r: -r[1])
        rows = rows[:self._hand_cap(settings)]
        # weak peaks (verified later) where no followed hand is
        rows += [r for r in weak if apart(mm_of(r[0]), followed_mm)]
        return [r[:3] for r in rows], [r[3] for r in rows]

    def _given_centers(self, centers_uvd: np.ndarray, n_frames: int, side: str
                       ) -> List[List[Tuple[np.ndarray, float, str]]]:
        """One candidate per frame at the given centre, of the declared side (the network's
        own under 'auto')."""
        centers = np.asarray(centers_uvd, dtype=np.float32)
        if centers.shape != (n_frames, 3) or not np.isfinite(centers).all():
            raise ValueError(f'centers_uvd must be ({n_frames}, 3) finite (u, v pixels, d mm), '
                             f'found shape {centers.shape}')
        hand_side = self.config.handedness if side == 'auto' else side
        return [[(c, 1.0, hand_side)] for c in centers]

    def _classify_sides(self, depth_t: torch.Tensor, center: torch.Tensor, intr: Intrinsics,
                        owner: List[int]) -> List[str]:
        """Each hand's side by the left/right classifier on its (unmirrored) crop. Two hands
        of one frame said to be the same side are one user's two hands: the less certain one
        takes the other side."""
        patch = side_input(depth_t, center, intr, self.side_classifier.config)
        p_left = torch.sigmoid(self.side_classifier(patch).float()).cpu().numpy()
        sides = ['left' if p > 0.5 else 'right' for p in p_left]
        for ks in frame_pairs(owner):
            if sides[ks[0]] == sides[ks[1]]:
                weaker = min(ks, key=lambda k: abs(float(p_left[k]) - 0.5))
                sides[weaker] = 'right' if sides[weaker] == 'left' else 'left'
        return sides

    def _read_rows(self, depth_t: torch.Tensor, center: torch.Tensor, intr: Intrinsics,
                   cube: float, rows: List[Tuple[int, bool]]):
        """The pose network on one crop per (hand, mirrored) row, one call: the (R, 1, S, S)
        crops, their transforms, normalised joints (R, J, 3) and confidences (R, J)."""
        index = torch.tensor([k for k, _ in rows], device=self.device)
        flags = torch.tensor([m for _, m in rows], dtype=torch.bool, device=self.device)
        frames = depth_t if depth_t.shape[0] == 1 else depth_t[index]
        patch, t = crop_cube(frames, center[index], intr, cube, self.config.input_size, flags)
        nuvd, conf = PoseNet.joints(self._run_pose(patch))
        return patch, t, nuvd, conf

    def _verified(self, depth_t: torch.Tensor, center: torch.Tensor, mirror: torch.Tensor,
                  intr: Intrinsics, cube: float, weak: List[bool], both_ways: bool
                  ) -> List[bool]:
        """Which hands stand: every one not ``weak``, and each weak one whose better pose
        reading (as it is and mirrored when ``both_ways``, else as ``mirror`` says) has a mean
        joint confidence of at least VERIFIED_CONFIDENCE (one pose-network call)."""
        rows = [(k, m) for k, w in enumerate(weak) if w
                for m in ((False, True) if both_ways else (bool(mirror[k]),))]
        conf = self._read_rows(depth_t, center, intr, cube, rows)[3]
        best: Dict[int, float] = {}
        for (k, _), c in zip(rows, conf.float().mean(-1).cpu().tolist()):
            best[k] = max(best.get(k, 0.0), c)
        return [not w or best[k] >= VERIFIED_CONFIDENCE for k, w in enumerate(weak)]

    def _capped(self, keep: List[bool], hands: List[Tuple[np.ndarray, float, str]],
                owner: List[int], settings: dict) -> List[bool]:
        """``keep`` with at most the hand cap of each frame kept, the highest scores."""
        by_frame: Dict[int, List[int]] = {}
        for k in np.flatnonzero(keep):
            by_frame.setdefault(owner[k], []).append(int(k))
        out = [False] * len(keep)
        for ks in by_frame.values():
            for k in sorted(ks, key=lambda k: -hands[k][1])[:self._hand_cap(settings)]:
                out[k] = True
        return out

    def _other_side(self) -> str:
        """The side the pose network was not trained on."""
        return 'left' if self.config.handedness == 'right' else 'right'

    def _pose_both_ways(self, depth_t: torch.Tensor, center: torch.Tensor, intr: Intrinsics,
                        cube: float, owner: List[int], prior: Optional[np.ndarray] = None,
                        settled: Optional[np.ndarray] = None):
        """Handedness 'auto' without a left/right classifier: the pose network on each hand's
        crop as it is and mirrored (one call); the hypothesis with the higher mean joint
        confidence wins (a hand of the other side than the network's fits it only mirrored),
        after adding ``prior`` (N,), the left-side evidence a hand brings from its past frames
        (core/side_memory.py); two hands of one frame are one user's two hands, one of each
        side, the one with more left-side evidence the left. A hand whose side is
        ``settled`` (N,: +1 left, -1 right, 0 not) is read only as that side. Returns the
        winning (patch, transform, normalised joints, confidences), the (N,) mirror flags,
        the (N,) left margins of this frame alone (mean confidence as a left hand minus as a
        right one; 0 for a hand read one way) and the (N,) flags of the hands read both
        ways."""
        n = center.shape[0]
        net_left = self.config.handedness == 'left'
        settled = np.zeros(n, np.int64) if settled is None else np.array(settled, np.int64)
        for a, b in frame_pairs(owner):       # a pair settled on one side is read both ways
            if settled[a] != 0 and settled[a] == settled[b]:
                settled[[a, b]] = 0
        rows: List[Tuple[int, bool]] = []                     # (hand, crop mirrored)
        for k in range(n):
            rows += [(k, False), (k, True)] if settled[k] == 0 else \
                [(k, (settled[k] > 0) != net_left)]
        patch, t, nuvd, conf = self._read_rows(depth_t, center, intr, cube, rows)
        c = conf.float().mean(-1).cpu().numpy().astype(np.float64)
        row = {key: r for r, key in enumerate(rows)}
        measured = settled == 0
        left_margin = np.zeros(n, np.float64)
        for k in np.flatnonzero(measured):
            plain, mirrored = c[row[(k, False)]], c[row[(k, True)]]
            left_margin[k] = plain - mirrored if net_left else mirrored - plain
        left = left_margin + (0.0 if prior is None else prior)
        # evidence for the side the network was not trained on: > 0 means mirror the crop
        other = -left if net_left else left
        for k in np.flatnonzero(~measured):              # read one way: that way wins
            other[k] = np.inf if (k, True) in row else -np.inf
        flip = [bool(other[k] > 0) for k in range(n)]
        for a, b in frame_pairs(owner):
            flip[a] = bool(other[a] > other[b])
            flip[b] = not flip[a]
        pick = torch.tensor([row[(k, f)] for k, f in enumerate(flip)], device=self.device)
        chosen = CropTransform(t.affine[pick], t.center_d[pick], t.half_depth_mm[pick], t.size)
        return (patch[pick], chosen, nuvd[pick], conf[pick], torch.tensor(flip), left_margin,
                measured)

    @torch.inference_mode()
    def estimate_batch(self, depths: Sequence[np.ndarray], intr: Intrinsics,
                       centers_uvd: Optional[np.ndarray] = None, *,
                       side_memory: Optional[SideMemory] = None,
                       tracker: Optional[HandTracker] = None,
                       t_s: float = 0.0) -> List[Estimate]:
        """Estimate several frames of one camera at once (one network call per stage for all
        hands of all frames). ``centers_uvd`` (N, 3) (pixels, mm): crop one hand per frame
        exactly there, without detector or localizer (evaluation of the pose network alone).
        ``side_memory`` (one frame at a time, taken at ``t_s`` seconds): under 'auto'
        handedness read both ways, each hand's side also weighs its past frames
        (core/side_memory.py), and the memory learns this frame. ``tracker`` (one frame at a
        time, taken at ``t_s``): hands are followed from the last frame and the detector runs
        only when the tracker says so (core/hand_tracker.py). With ``rotation_deg`` set the
        frames are estimated turned upright and every hand comes back in the camera's own
        frame and pixels (core/image_rotation.py)."""
        with self._lock:
            turn = self.rotation_deg
        if not turn:
            return self._estimate_upright(depths, intr, centers_uvd, side_memory=side_memory,
                                          tracker=tracker, t_s=t_s)
        frames = [turned_depth(as_depth_mm(d, intr), turn) for d in depths]
        centers = None if centers_uvd is None else turned_uv(centers_uvd, intr, turn)
        estimates = self._estimate_upright(frames, turned_intrinsics(intr, turn), centers,
                                           side_memory=side_memory, tracker=tracker, t_s=t_s)
        return [_turned_back(e, intr, turn) for e in estimates]

    def _estimate_upright(self, depths: Sequence[np.ndarray], intr: Intrinsics,
                          centers_uvd: Optional[np.ndarray] = None, *,
                          side_memory: Optional[SideMemory] = None,
                          tracker: Optional[HandTracker] = None,
                          t_s: float = 0.0) -> List[Estimate]:
        """estimate_batch on frames as they are (upright)."""
        if (side_memory is not None or tracker is not None) and len(depths) != 1:
            raise ValueError(f'side_memory and tracker follow hands frame by frame: give one '
                             f'frame, found {len(depths)}')
        with self._lock:
            settings = {'near': self.near_mm, 'far': self.far_mm, 'cube': self.cube_mm,
                        'side': self.handedness, 'passes': self.localizer_passes,
                        'detector': self.detector, 'max_hands': self.max_hands,
                        'threshold': self.detection_threshold,
                        'weak': self.weak_detection_threshold}
        near, far, cube, passes = (settings[k] for k in ('near', 'far', 'cube', 'passes'))
        sync = torch.cuda.synchronize if self.device.type == 'cuda' else (lambda: None)
        t0 = time.perf_counter()
        frames = [as_depth_mm(d, intr) for d in depths]
        detected, followed = True, []
        if centers_uvd is None:
            if tracker is not None:
                detected, followed = tracker.plan(t_s, intr)
            per_frame = (self._candidates(frames, intr, settings) if detected
                         else [[] for _ in frames])
            follows = [[False] * len(hs) for hs in per_frame]
            if followed:
                per_frame[0], follows[0] = self._with_followed(per_frame[0], followed, intr,
                                                               settings)
        else:
            per_frame = self._given_centers(centers_uvd, len(frames), settings['side'])
            follows = [[False] * len(hs) for hs in per_frame]
            passes, settings['detector'] = 0, 'given'
        what = 'hand' if settings['detector'] == 'nearest' else \
            f'hand detected (score >= {settings["threshold"]:.2f})'
        results: List[Estimate] = [
            Estimate(None, f'no {what} in range [{near:.0f}, {far:.0f}] mm'
                     + ('' if hands else out_of_range_note(frame, near, far)))
            for frame, hands in zip(frames, per_frame)]
        owner = [i for i, hands in enumerate(per_frame) for _ in hands]
        if not owner:
            if tracker is not None:
                tracker.update(t_s, detected, np.zeros((0, 3)), np.zeros((0, 3)), [], [])
            return results
        hands = [h for hs in per_frame for h in hs]
        follow = [f for fs in follows for f in fs]
        sync()
        t1 = time.perf_counter()
        # (N, H, W) mm, one frame per hand; (1, H, W) when every hand is of one frame (its crops
        # all sample it: core/crop.py)
        one = frames[owner[0]]
        stacked = (one if one.flags.writeable else one.copy())[None] if len(set(owner)) == 1 \
            else np.stack([frames[i] for i in owner])
        depth_t = torch.from_numpy(stacked).to(self.device)
        center = torch.from_numpy(np.stack([h[0] for h in hands])).to(self.device)
        mirror = torch.tensor([h[2] != self.config.handedness for h in hands],
                              device=self.device)
        if self._loc_run is not None:
            lcfg = self.localizer.config
            # a followed hand starts near: tracker.passes; every other hand: passes
            hand_passes = torch.tensor([tracker.passes if f else passes for f in follow],
                                       device=self.device)
            for p in range(int(hand_passes.max())):   # each around the last pass's centre
                patch, t = crop_cube(depth_t, center, intr, lcfg.cube_mm, lcfg.input_size,
                                     mirror)
                inside = self._loc_run(patch)[0].float()             # (N, 3) crop-normalised
                refined = t.from_normalized(inside[:, None])[:, 0]
                # A centre far outside the localizer's own crop (any of u, v, d) is not
                # trusted: keep the last one.
                ok = (refined[:, 2] > 0) & (inside.abs() <= LOCALIZER_TRUST).all(-1)
                ok &= hand_passes > p
                center = torch.where(ok[:, None], refined, center)
        if any(follow):          # two hands followed onto one: the higher-scoring stays
            keep = distinct_hands(uvd_to_xyz(center, intr).double().cpu().numpy(),
                                  [h[1] for h in hands])
            if not all(keep):
                depth_t, center, mirror, hands, owner, follow = _kept(
                    keep, depth_t, center, mirror, hands, owner, follow)
        sync()
        t2 = time.perf_counter()
        verify_s = 0.0
        weak = [not f and h[1] < settings['threshold'] for h, f in zip(hands, follow)]
        if any(weak):            # weak peaks: hands only where the pose network fits one
            keep = self._capped(self._verified(depth_t, center, mirror, intr, cube, weak,
                                               settings['side'] == 'auto'),
                                hands, owner, settings)
            if not all(keep):
                depth_t, center, mirror, hands, owner, follow = _kept(
                    keep, depth_t, center, mirror, hands, owner, follow)
            sync()
            verify_s = time.perf_counter() - t2
            t2 = time.perf_counter()
            if not owner:
                if tracker is not None:
                    tracker.update(t_s, detected, np.zeros((0, 3)), np.zeros((0, 3)), [], [])
                return results
        side_s = 0.0
        if settings['side'] == 'auto' and self.side_classifier is not None:
            sides = self._classify_sides(depth_t, center, intr, owner)
            hands = [(h[0], h[1], sd) for h, sd in zip(hands, sides)]
            mirror = torch.tensor([sd != self.config.handedness for sd in sides],
                                  device=self.device)
            sync()
            side_s = time.perf_counter() - t2
            t2 = time.perf_counter()
        if settings['side'] == 'auto' and self.side_classifier is None:
            sync()
            t3 = time.perf_counter()
            tracks, prior, settled, center_mm = None, None, None, None
            if side_memory is not None:
                center_mm = uvd_to_xyz(center, intr).double().cpu().numpy()
                tracks = side_memory.match(center_mm, t_s)
                prior, settled = side_memory.priors(tracks), side_memory.settled(tracks)
            patch, transform, nuvd, conf, mirror, left_margin, measured = self._pose_both_ways(
                depth_t, center, intr, cube, owner, prior, settled)
            hands = [(h[0], h[1], self._other_side() if m else self.config.handedness)
                     for h, m in zip(hands, mirror.tolist())]
            if side_memory is not None:
                side_memory.update(tracks, center_mm, left_margin, t_s,
                                   left=[h[2] == 'left' for h in hands], measured=measured)
        else:
            patch, transform = crop_cube(depth_t, center, intr, cube, self.config.input_size,
                                         mirror)
            sync()
            t3 = time.perf_counter()
            nuvd, conf = PoseNet.joints(self._run_pose(patch))
        sync()
        t4 = time.perf_counter()
        uvd = transform.from_normalized(nuvd)
        xyz = uvd_to_xyz(uvd, intr)
        center_xyz = uvd_to_xyz(center, intr)
        patch_uv = transform.to_patch_pixels(nuvd)
        sel = self._joint_index
        cpu = [x.float().cpu().numpy()
               for x in (uvd[:, sel], xyz[:, sel], conf[:, sel], center_xyz, patch[:, 0],
                         patch_uv[:, sel])]
        t5 = time.perf_counter()
        n_frames = len(set(owner))
        stage = {'learned': 'detector', 'nearest': 'com'}.get(settings['detector'], 'given')
        timings = {stage: (t1 - t0) * 1e3 / n_frames,
                   'localizer': (t2 - t1 - side_s - verify_s) * 1e3 / n_frames,
                   'verify': verify_s * 1e3 / n_frames, 'side': side_s * 1e3 / n_frames,
                   'crop': (t3 - t2) * 1e3 / n_frames, 'pose_net': (t4 - t3) * 1e3 / n_frames,
                   'decode': (t5 - t4) * 1e3 / n_frames, 'total': (t5 - t0) * 1e3 / n_frames}
        # A followed hand whose crop holds (almost) no depth inside its cube has gone (out of
        # the depth range, out of view): lost, not returned.
        inside = (patch[:, 0].abs() < 1.0).float().mean((-1, -2)).cpu().numpy()
        gone = [follow[k] and inside[k] < MIN_FOLLOW_SUPPORT for k in range(len(owner))]
        found: Dict[int, List[HandPose]] = {}
        for k, i in enumerate(owner):
            if gone[k]:
                results[i] = Estimate(None, 'the followed hand left its crop (no depth inside '
                                      f'its {cube:.0f} mm cube)')
                continue
            found.setdefault(i, []).append(HandPose(
                xyz=cpu[1][k], uvd=cpu[0][k], confidence=cpu[2][k], center=cpu[3][k],
                joint_set=self.joint_set, timings=dict(timings), patch=cpu[4][k],
                patch_uv=cpu[5][k], handedness=hands[k][2], score=float(hands[k][1]),
                followed=bool(follow[k])))
        if tracker is not None:
            tracker.update(t_s, detected, center.float().cpu().numpy(), cpu[3],
                           [h[1] for h in hands],
                           [0.0 if g else float(c.mean()) for c, g in zip(cpu[2], gone)])
        for i, poses in found.items():
            results[i] = Estimate(poses[0], None, tuple(poses))
        return results

    def _run_pose(self, patch: torch.Tensor) -> PoseOutput:
        """The pose network on (B, 1, S, S) crops, whatever the runtime."""
        return to_pose_output(self._pose_run(patch), self.config)
