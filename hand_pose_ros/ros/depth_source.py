"""depth_source: a camera-free depth camera (a synthetic user raising both hands, a single
synthetic hand, or a folder of dataset depth PNGs, looping) publishing depth/image +
depth/camera_info and the ground truth of every hand in view.

Ground truth is one PoseArray per hand, in metres in the dataset's joint order, on
``~/right/ground_truth`` and ``~/left/ground_truth`` (the side anatomically, as the node's
``~/<side>/joints``); ``~/ground_truth`` repeats the right hand's (or, with none, the only
hand's) for consumers of a single hand. Every message of one frame carries the same header
(stamp at publication, ``frame_id``).
"""
from dataclasses import dataclass
from pathlib import Path
import sys
import time
from typing import Dict, List, Optional, Tuple

from geometry_msgs.msg import PoseArray
import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from . import conversions as conv
from .spin import run_node
from ..core.camera import Intrinsics, uvd_to_xyz
from ..core.handedness import SIDES
from ..core.skeleton import FROM_HAND22
from ..core.specs import camera_spec, dataset_spec

SYNTHETIC_CAMERA = 'realsense_d435_640x480'


@dataclass(frozen=True)
class SourceFrame:
    """One frame to publish: depth (mm, 0 = missing) and the ground-truth joints (J, 3) mm of
    each hand in view by side ('right' / 'left'; empty when unknown)."""

    depth_mm: np.ndarray
    hands: Dict[str, np.ndarray]

    @property
    def xyz_mm(self) -> Optional[np.ndarray]:
        """The joints ~/ground_truth carries: the right hand's, else the only hand's, else
        None."""
        if 'right' in self.hands or len(self.hands) != 1:
            return self.hands.get('right')
        return next(iter(self.hands.values()))


class SyntheticSource:
    """A synthetic scene at D435-like intrinsics: ``hands`` 2, a user facing the camera with
    both hands raised (synthetic.user_scene), or 1, a single right hand
    (synthetic.SyntheticGenerator); truth in ``joint_set`` (any selection of the whole hand)."""

    def __init__(self, joint_set: str = 'icvl16', seed: int = 0, hands: int = 2) -> None:
        if hands not in (1, 2):
            raise ValueError(f'hands must be 1 or 2, found {hands}')
        if joint_set not in FROM_HAND22:
            raise ValueError(f'joint_set must be one of {sorted(FROM_HAND22)} (selections of '
                             f'the synthetic whole hand), found {joint_set!r}')
        self.joint_set = joint_set
        self.intrinsics: Intrinsics = camera_spec(SYNTHETIC_CAMERA).intrinsics
        self.hands = hands
        # the torch renderers are imported only when this source is selected
        if hands == 2:
            from ..synthetic.user_scene import UserSceneGenerator
            self._user = UserSceneGenerator(seed=seed, full_resolution=True)
        else:
            from ..synthetic import SyntheticGenerator
            self._gen = SyntheticGenerator(self.intrinsics, joint_set=joint_set, device='cpu',
                                           seed=seed)

    def frame(self, t_s: float) -> SourceFrame:
        """The scene at time ``t_s`` (seconds since start)."""
        if self.hands == 2:
            depth, labelled = self._user.animate(t_s, camera=SYNTHETIC_CAMERA,
                                                 joint_set=self.joint_set)
            hands = {side: np.asarray(xyz, np.float64) for xyz, side in labelled}
        else:
            depth, xyz = self._gen.animate(t_s)
            hands = {'right': np.asarray(xyz, np.float64)}
        return SourceFrame(np.asarray(depth, np.float32), hands)


def truth_topic(side: str) -> str:
    """Relative name (below the node) of one side's ground-truth topic: '<side>/ground_truth'."""
    return f'{side}/ground_truth'


class FolderSource:
    """An ICVL or NYU folder, looping: labelled frames through the training dataset readers
    (one hand, of the dataset's side), or, where the folder has no labels, every depth PNG
    under it (no ground truth)."""

    def __init__(self, folder: str, dataset: str, split: str = 'test') -> None:
        from ..training import datasets  # torch Dataset classes: only when selected

        spec = dataset_spec(dataset)
        readers = {'icvl': (datasets.ICVLDataset, datasets.read_icvl_depth),
                   'nyu': (datasets.NYUDataset, datasets.read_nyu_depth)}
        if dataset not in readers:
            raise ValueError(f"dataset must be one of {sorted(readers)}, found {dataset!r}")
        self.intrinsics, self.side = spec.intrinsics, spec.handedness
        dataset_cls, self._read_depth = readers[dataset]
        self._index = 0
        self._paths: List[Path] = []
        try:
            self._dataset = dataset_cls(folder, split=split)
            self.note = f'{len(self._dataset)} labelled {dataset} frames ({split})'
        except datasets.DatasetError as exc:
            self._dataset = None
            self._paths = sorted(Path(folder).expanduser().rglob('*.png'))
            if not self._paths:
                raise FileNotFoundError(f'no {dataset} labels ({exc}) and no depth PNGs '
                                        f'(*.png) under {folder}') from None
            self.note = (f'{len(self._paths)} unlabelled depth PNGs, no ground truth '
                         f'({exc})')

    def frame(self, t_s: float) -> SourceFrame:
        """The next frame (loops over the folder)."""
        i, self._index = self._index, self._index + 1
        if self._dataset is not None:
            sample = self._dataset[i % len(self._dataset)]
            return SourceFrame(sample.depth_mm, {self.side: uvd_to_xyz(
                sample.uvd.astype(np.float64), sample.intrinsics)})
        path = self._paths[i % len(self._paths)]
        return SourceFrame(self._read_depth(path, self.intrinsics), {})


class DepthSource(Node):
    """Publishes one frame every 1 / rate_hz seconds."""

    def __init__(self, **kwargs) -> None:
        super().__init__('depth_source', **kwargs)
        p = self._declare()
        self._frame_id, self._encoding = p['frame_id'], p['encoding']
        if self._encoding not in ('16UC1', '32FC1'):
            raise ValueError(f"encoding must be '16UC1' or '32FC1', found {self._encoding!r}")
        if p['source'] == 'synthetic':
            self.source = SyntheticSource(p['joint_set'], p['seed'], p['hands'])
        elif p['source'] == 'folder':
            self.source = FolderSource(p['folder'], p['dataset'], p['split'])
            self.get_logger().info(f"{p['folder']}: {self.source.note}")
        else:
            raise ValueError(f"source must be 'synthetic' or 'folder', found {p['source']!r}")
        qos = conv.depth_qos(p['reliable'])
        self.pub_image = self.create_publisher(Image, 'depth/image', qos)
        self.pub_info = self.create_publisher(CameraInfo, 'depth/camera_info', qos)
        self.pub_truth = self.create_publisher(PoseArray, '~/ground_truth', 10)
        self.pub_side_truth = {side: self.create_publisher(PoseArray, '~/' + truth_topic(side), 10)
                               for side in SIDES}
        self._cache = self._render_loop(p['loop_frames'], p['rate_hz'])
        self._t0 = time.monotonic()
        self.frames = 0
        self.create_timer(1.0 / p['rate_hz'], self._tick)
        intr = self.source.intrinsics
        self.get_logger().info(f"publishing {p['source']} depth {intr.width}x{intr.height} "
                               f"{self._encoding} at {p['rate_hz']} Hz in {self._frame_id!r}")

    def _declare(self) -> dict:
        """Declare the parameters (with descriptors) and return their values."""
        specs: List[Tuple[str, object, str]] = [
            ('source', 'synthetic', "'synthetic' (animated user) or 'folder' (dataset PNGs)"),
            ('hands', 2, 'hands of the synthetic source: 2 = a user raising both hands '
             '(icvl16 only), 1 = a single right hand (any joint set)'),
            ('folder', '', 'folder of depth PNGs (source=folder)'),
            ('dataset', 'icvl', "format and intrinsics of the folder: 'icvl' or 'nyu'"),
            ('split', 'test', "labels of the folder: 'train', 'test' or an ICVL labels file"),
            ('rate_hz', 15.0, 'publication rate (Hz)'),
            ('frame_id', 'camera_depth_optical_frame', 'frame_id of every published header'),
            ('encoding', '16UC1', "'16UC1' (uint16 mm) or '32FC1' (float32 m)"),
            ('reliable', False, 'RELIABLE instead of sensor-data (BEST_EFFORT) QoS'),
            ('joint_set', 'icvl16', 'joint set of the synthetic hand and its ground truth'),
            ('seed', 0, 'random seed of the synthetic hand'),
            ('loop_frames', 0, '0 = make every frame live (animation time = wall clock); '
             'N = make N frames (time = index / rate_hz) before publishing and replay them in '
             'a loop: full rate where rendering is slower than rate_hz (0..600)'),
        ]
        values = {}
        for name, default, text in specs:
            desc = ParameterDescriptor(description=text, read_only=True)
            if name == 'rate_hz':
                desc.floating_point_range = [FloatingPointRange(from_value=0.1, to_value=1000.0)]
            if name == 'hands':
                desc.integer_range = [IntegerRange(from_value=1, to_value=2, step=1)]
            if name == 'loop_frames':
                desc.integer_range = [IntegerRange(from_value=0, to_value=600, step=1)]
            values[name] = self.declare_parameter(name, default, desc).value
        return values

    def _render_loop(self, frames: int, rate_hz: float) -> List[SourceFrame]:
        """The ``frames`` frames of the loop (time = index / rate_hz), made before the first
        is published so the loop plays at full rate from the start; [] for live frames."""
        if frames > 0:
            self.get_logger().info(f'rendering the {frames} frames of the loop ...')
        return [self.source.frame(k / rate_hz) for k in range(frames)]

    def _next_frame(self) -> SourceFrame:
        """A live frame, or the next frame of the loop."""
        if not self._cache:
            return self.source.frame(time.monotonic() - self._t0)
        return self._cache[self.frames % len(self._cache)]

    def _tick(self) -> None:
        """Render or read the next frame and publish image, CameraInfo and ground truth."""
        frame = self._next_frame()
        if not self.context.ok():   # Ctrl-C arrived while rendering
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self._frame_id)
        self.pub_info.publish(conv.camera_info(self.source.intrinsics, header))
        self.pub_image.publish(conv.depth_image(frame.depth_mm, header, self._encoding))
        if frame.xyz_mm is not None:
            self.pub_truth.publish(conv.pose_array(frame.xyz_mm, header))
        for side, xyz_mm in frame.hands.items():
            self.pub_side_truth[side].publish(conv.pose_array(xyz_mm, header))
        self.frames += 1


def main(args: Optional[List[str]] = None) -> int:
    """Run the depth source until Ctrl-C; 1 with one error line on a bad configuration."""
    return run_node(DepthSource, (ValueError, FileNotFoundError, KeyError, ImportError),
                    'depth_source', args)


if __name__ == '__main__':
    sys.exit(main())
