"""Depth frames of a recorded ROS 2 bag (rosbag2: a folder with metadata.yaml, a .db3 or an
.mcap file) or ROS 1 bag (.bag), read without ROS, each with the camera calibration the node
would pair it with.

The bag is read with the ``rosbags`` library (``pip install rosbags``, the package's ``bags``
extra). Its depth stream is a sensor_msgs/Image (16UC1 / mono16 counts, 32FC1 metres) or a
compressedDepth sensor_msgs/CompressedImage (PNG), read as the node reads an Image
(core/depth_messages.py); as the node does, each frame is paired with the latest CameraInfo of
the same ``frame_id`` recorded before it, and a frame without one is skipped and counted.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from .depth_files import camera_calibration, CameraCalibration, DepthFileError
from .depth_messages import (COMPRESSED_DEPTH, ConversionError, decompressed_image, depth_to_mm,
                             raw_depth, stamp_to_s)

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO = 'sensor_msgs/msg/CameraInfo'
BAG_SUFFIXES = ('.db3', '.mcap', '.bag')           # .bag: ROS 1


class BagError(ValueError):
    """A bag that cannot be read as a depth recording; the message says what to do."""


@dataclass(frozen=True)
class BagFrame:
    """One depth frame of a bag: millimetres (0 = missing, the unit applied, not undistorted)
    and the calibration of its camera (None: no CameraInfo of its frame_id before it)."""

    index: int                          # order in the bag's depth topic, from 0
    stamp_s: float                      # header stamp (s)
    depth_mm: Optional[np.ndarray]      # (H, W) float32 mm; None when it could not be read
    calibration: Optional[CameraCalibration]
    problem: str = ''                   # why depth_mm is None or calibration is missing
    frame_id: str = ''                  # header frame_id (the camera's optical frame)


def is_bag(path: Union[str, Path]) -> bool:
    """Whether ``path`` is a bag: a rosbag2 folder with metadata.yaml, a .db3 / .mcap file,
    or a ROS 1 .bag file."""
    path = Path(path)
    if path.is_dir():
        return (path / 'metadata.yaml').is_file()
    return path.suffix in BAG_SUFFIXES and path.is_file()


def _reader(path: Path):
    """An open-able rosbags AnyReader of the bag (BagError when rosbags is missing)."""
    try:
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import get_typestore, Stores
    except ImportError:
        raise BagError('reading bags needs the rosbags package: pip install rosbags (or '
                       "pip install 'hand_pose_ros[bags]')") from None
    # a .db3 bag may not carry its message definitions: ROS 2's standard ones are used then
    return AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY))


def depth_topic(topics: Dict[str, str], wanted: Optional[str]) -> str:
    """The depth image topic of a bag whose topics are ``topics`` (name -> message type):
    ``wanted``, or the one Image / compressedDepth topic whose name says depth; an Image
    recorded beside its own compressedDepth (``ros2 bag record -a`` with image_transport
    plugins running) is that one topic, read raw."""
    if wanted:
        if topics.get(wanted) not in (IMAGE, COMPRESSED):
            images = sorted(t for t, kind in topics.items() if kind in (IMAGE, COMPRESSED))
            raise BagError(f'the bag has no image topic {wanted!r}; its image topics: '
                           f'{", ".join(images) or "none"}')
        return wanted
    suffix = '/' + COMPRESSED_DEPTH
    found = [t for t, kind in sorted(topics.items())
             if 'depth' in t.lower() and (kind == IMAGE or (
                 kind == COMPRESSED and t.rstrip('/').endswith(suffix)))]
    found = [t for t in found if not (t.endswith(suffix) and t[:-len(suffix)] in found)]
    if len(found) != 1:
        raise BagError(f'{"no" if not found else "more than one"} depth image topic in the bag '
                       f'({", ".join(found) or "none named depth"}): name it with --topic')
    return found[0]


def _calibration(info) -> CameraCalibration:
    """The CameraCalibration of a deserialised CameraInfo (read as its YAML echo is; ROS 1
    spells its matrices D, K, R, P)."""
    def matrix(name: str) -> list:
        return list(getattr(info, name) if hasattr(info, name) else getattr(info, name.upper()))

    roi = info.roi
    return camera_calibration({
        'width': int(info.width), 'height': int(info.height), 'k': matrix('k'),
        'd': matrix('d'), 'p': matrix('p'), 'distortion_model': info.distortion_model,
        'binning_x': int(info.binning_x), 'binning_y': int(info.binning_y),
        'roi': {'x_offset': roi.x_offset, 'y_offset': roi.y_offset, 'width': roi.width,
                'height': roi.height}})


def _depth_mm(msg, msgtype: str, depth_unit_mm: float) -> np.ndarray:
    """Millimetres (0 = missing) of a deserialised Image or compressedDepth message."""
    image = decompressed_image(msg) if msgtype == COMPRESSED else msg
    return depth_to_mm(raw_depth(image), image.encoding, depth_unit_mm=depth_unit_mm)[0]


def read_bag(path: Union[str, Path], topic: Optional[str] = None,
             depth_unit_mm: float = 1.0, start_offset_s: float = 0.0,
             max_frames: Optional[int] = None) -> Tuple[str, Iterator[BagFrame]]:
    """(the depth topic, its frames in recording order) of the bag at ``path``. A 16UC1 /
    mono16 count is ``depth_unit_mm`` millimetres. Only the frames recorded ``start_offset_s``
    seconds or more after the bag's start (as ``ros2 bag play --start-offset``), at most
    ``max_frames`` of them (None: all), are read; CameraInfo messages before them still pair.
    BagError when the bag cannot be opened or has no such topic; a frame that cannot be read
    comes with its ``problem``."""
    path = Path(path)
    try:
        reader = _reader(path)
        reader.open()
    except BagError:
        raise
    except Exception as exc:          # rosbags raises its own error types per storage
        raise BagError(f'cannot read {path} as a bag: {exc}') from None
    try:
        topics = {c.topic: c.msgtype for c in reader.connections}
        name = depth_topic(topics, topic)
    except BagError:
        reader.close()
        raise
    start_ns = reader.start_time + int(round(start_offset_s * 1e9))
    return name, _frames(reader, name, depth_unit_mm, start_ns, max_frames)


def _frames(reader, topic: str, depth_unit_mm: float, start_ns: int,
            max_frames: Optional[int]) -> Iterator[BagFrame]:
    """The frames of ``topic`` recorded at or after ``start_ns`` (bag time, ns), at most
    ``max_frames``, each with the latest CameraInfo of its frame_id (closes the reader when
    done)."""
    infos: Dict[str, CameraCalibration] = {}
    problems: Dict[str, str] = {}
    wanted: List = [c for c in reader.connections
                    if c.topic == topic or c.msgtype == CAMERA_INFO]
    index, count = 0, 0
    try:
        for connection, recorded_ns, data in reader.messages(connections=wanted):
            if connection.msgtype != CAMERA_INFO and recorded_ns < start_ns:
                index += 1                        # before the range: not even decoded
                continue
            if max_frames is not None and count >= max_frames:
                break
            try:
                msg = reader.deserialize(data, connection.msgtype)
            except Exception as exc:      # rosbags' own errors: a message it cannot decode
                raise BagError(f'cannot decode a {connection.msgtype} message of '
                               f'{connection.topic}: {exc}') from None
            frame_id = msg.header.frame_id
            if connection.msgtype == CAMERA_INFO:
                try:
                    infos[frame_id] = _calibration(msg)
                    problems.pop(frame_id, None)
                except DepthFileError as exc:
                    infos.pop(frame_id, None)
                    problems[frame_id] = f'invalid CameraInfo: {exc}'
                continue
            stamp_s = stamp_to_s(msg.header.stamp)
            calibration = infos.get(frame_id)
            problem = '' if calibration else problems.get(
                frame_id, f'no CameraInfo of frame_id {frame_id!r} recorded before it')
            try:
                depth = _depth_mm(msg, connection.msgtype, depth_unit_mm)
            except ConversionError as exc:
                depth, problem = None, str(exc)
            yield BagFrame(index, stamp_s, depth, calibration, problem, frame_id)
            index, count = index + 1, count + 1
    finally:
        reader.close()
