"""depth_source: a camera-free depth camera (synthetic animated hand, or a folder of dataset
depth PNGs, looping) publishing depth/image + depth/camera_info and ~/ground_truth.

Every message of one frame carries the same header (stamp at publication, ``frame_id``);
ground truth is a PoseArray in metres in the dataset's joint order.
"""
from dataclasses import dataclass
from pathlib import Path
import sys
import time
from typing import List, Optional, Tuple

from geometry_msgs.msg import PoseArray
import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from . import conversions as conv
from .spin import run_node
from ..core.camera import Intrinsics, uvd_to_xyz
from ..core.specs import camera_spec, dataset_spec

SYNTHETIC_CAMERA = 'realsense_d435_640x480'


@dataclass(frozen=True)
class SourceFrame:
    """One frame to publish: depth (mm, 0 = missing) and ground-truth joints (mm) if known."""

    depth_mm: np.ndarray
    xyz_mm: Optional[np.ndarray]


class SyntheticSource:
    """A smoothly animated synthetic hand (hand_pose_ros.synthetic) at D435-like intrinsics."""

    def __init__(self, joint_set: str = 'icvl16', seed: int = 0) -> None:
        from ..synthetic import SyntheticGenerator  # torch renderer: only when selected

        self.intrinsics: Intrinsics = camera_spec(SYNTHETIC_CAMERA).intrinsics
        self._gen = SyntheticGenerator(self.intrinsics, joint_set=joint_set, device='cpu',
                                       seed=seed)

    def frame(self, t_s: float) -> SourceFrame:
        """The hand at time ``t_s`` (seconds since start)."""
        depth, xyz = self._gen.animate(t_s)
        return SourceFrame(np.asarray(depth, np.float32), np.asarray(xyz, np.float64))


class FolderSource:
    """An ICVL or NYU folder, looping: labelled frames through the training dataset readers,
    or, where the folder has no labels, every depth PNG under it (no ground truth)."""

    def __init__(self, folder: str, dataset: str, split: str = 'test') -> None:
        from ..training import datasets  # torch Dataset classes: only when selected

        spec = dataset_spec(dataset)
        readers = {'icvl': (datasets.ICVLDataset, datasets.read_icvl_depth),
                   'nyu': (datasets.NYUDataset, datasets.read_nyu_depth)}
        if dataset not in readers:
            raise ValueError(f"dataset must be one of {sorted(readers)}, found {dataset!r}")
        self.intrinsics = spec.intrinsics
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
            return SourceFrame(sample.depth_mm, uvd_to_xyz(
                sample.uvd.astype(np.float64), sample.intrinsics))
        path = self._paths[i % len(self._paths)]
        return SourceFrame(self._read_depth(path, self.intrinsics), None)


class DepthSource(Node):
    """Publishes one frame every 1 / rate_hz seconds."""

    def __init__(self, **kwargs) -> None:
        super().__init__('depth_source', **kwargs)
        p = self._declare()
        self._frame_id, self._encoding = p['frame_id'], p['encoding']
        if self._encoding not in ('16UC1', '32FC1'):
            raise ValueError(f"encoding must be '16UC1' or '32FC1', found {self._encoding!r}")
        if p['source'] == 'synthetic':
            self.source = SyntheticSource(p['joint_set'], p['seed'])
        elif p['source'] == 'folder':
            self.source = FolderSource(p['folder'], p['dataset'], p['split'])
            self.get_logger().info(f"{p['folder']}: {self.source.note}")
        else:
            raise ValueError(f"source must be 'synthetic' or 'folder', found {p['source']!r}")
        qos = conv.depth_qos(p['reliable'])
        self.pub_image = self.create_publisher(Image, 'depth/image', qos)
        self.pub_info = self.create_publisher(CameraInfo, 'depth/camera_info', qos)
        self.pub_truth = self.create_publisher(PoseArray, '~/ground_truth', 10)
        self._t0 = time.monotonic()
        self._rate_hz, self._loop_frames = p['rate_hz'], p['loop_frames']
        self._cache: List[SourceFrame] = []
        self.frames = 0
        self.create_timer(1.0 / p['rate_hz'], self._tick)
        intr = self.source.intrinsics
        self.get_logger().info(f"publishing {p['source']} depth {intr.width}x{intr.height} "
                               f"{self._encoding} at {p['rate_hz']} Hz in {self._frame_id!r}")

    def _declare(self) -> dict:
        """Declare the parameters (with descriptors) and return their values."""
        specs: List[Tuple[str, object, str]] = [
            ('source', 'synthetic', "'synthetic' (animated hand) or 'folder' (dataset PNGs)"),
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
             'N = keep the first N frames (time = index / rate_hz) and replay them in a loop: '
             'full rate once cached, when rendering is slower than rate_hz (0..600)'),
        ]
        values = {}
        for name, default, text in specs:
            desc = ParameterDescriptor(description=text, read_only=True)
            if name == 'rate_hz':
                desc.floating_point_range = [FloatingPointRange(from_value=0.1, to_value=1000.0)]
            if name == 'loop_frames':
                desc.integer_range = [IntegerRange(from_value=0, to_value=600, step=1)]
            values[name] = self.declare_parameter(name, default, desc).value
        return values

    def _next_frame(self) -> SourceFrame:
        """A live frame, or the next frame of the loop (rendered once, then replayed)."""
        if self._loop_frames <= 0:
            return self.source.frame(time.monotonic() - self._t0)
        if len(self._cache) < self._loop_frames:
            self._cache.append(self.source.frame(len(self._cache) / self._rate_hz))
            return self._cache[-1]
        return self._cache[self.frames % self._loop_frames]

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
        self.frames += 1


def main(args: Optional[List[str]] = None) -> int:
    """Run the depth source until Ctrl-C; 1 with one error line on a bad configuration."""
    return run_node(DepthSource, (ValueError, FileNotFoundError, KeyError, ImportError),
                    'depth_source', args)


if __name__ == '__main__':
    sys.exit(main())
