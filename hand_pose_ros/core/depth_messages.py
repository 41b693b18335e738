"""Depth images as ROS messages carry them, read by attribute: a sensor_msgs/Image (rclpy's, or
one a bag reader deserialised) and a compressedDepth CompressedImage -> numpy millimetres.

No ROS import: the node (ros/conversions.py) and `hand-pose estimate` on recorded bags read
depth the same way. REP 118: 16UC1 (and mono16) millimetres, 32FC1 metres; ``step`` and
``is_bigendian`` honoured. Every malformed image raises a ``ConversionError`` whose ``reason``
is a short key counted by the node's diagnostics.
"""
from dataclasses import dataclass
import struct
from typing import Any, Tuple

import cv2
import numpy as np

# Rejection reasons of reading a depth image (diagnostics counters)
UNSUPPORTED_ENCODING = 'unsupported_encoding'
EMPTY_IMAGE = 'empty_image'
STEP_TOO_SMALL = 'step_too_small'
DATA_TOO_SHORT = 'data_too_short'
NONFINITE_DEPTH = 'nonfinite_depth'
UNDECODABLE_IMAGE = 'undecodable_image'

# undistort modes: 'auto' undistorts unless the image topic's name says it is rectified
UNDISTORT_MODES = ('auto', 'always', 'never')
# How depth images arrive (image_transport's names): sensor_msgs/Image on the topic, or a
# compressedDepth sensor_msgs/CompressedImage on <topic>/compressedDepth.
RAW, COMPRESSED_DEPTH = 'raw', 'compressedDepth'
INPUT_TRANSPORTS = (RAW, COMPRESSED_DEPTH)

# compressed_depth_image_transport: a CompressedImage whose format reads '<encoding>;
# compressedDepth[ png | rvl]' holds a 12-byte header (int32 format, float32 depthParam[2],
# little-endian) and then the image: for 16UC1 a 16-bit PNG of the counts; for 32FC1 a 16-bit
# PNG of quantised inverse depth q, depth_m = depthParam[0] / (q - depthParam[1]), 0 = missing.
COMPRESSED_DEPTH_HEADER = struct.Struct('<iff')

# encoding -> (numpy dtype, factor from the stored unit to millimetres)
DEPTH_ENCODINGS = {
    '16UC1': (np.dtype(np.uint16), 1.0),    # REP 118: millimetres
    'mono16': (np.dtype(np.uint16), 1.0),   # some OpenNI drivers: millimetres
    '32FC1': (np.dtype(np.float32), 1e3),   # REP 118: metres
}


class ConversionError(ValueError):
    """A message that cannot be turned into a valid depth frame; ``reason`` is a counter key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def stamp_to_s(stamp) -> float:
    """builtin_interfaces/Time -> seconds (float)."""
    return stamp.sec + stamp.nanosec * 1e-9


def raw_depth(msg) -> np.ndarray:
    """Zero-copy (H, W) view of a depth Image in its own dtype and byte order; validated."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ConversionError(UNSUPPORTED_ENCODING, f'depth encoding must be one of '
                              f'{sorted(DEPTH_ENCODINGS)}, found {msg.encoding!r}')
    if msg.width == 0 or msg.height == 0:
        raise ConversionError(EMPTY_IMAGE, f'depth image has zero size: {msg.width}x{msg.height}')
    dtype = DEPTH_ENCODINGS[msg.encoding][0].newbyteorder('>' if msg.is_bigendian else '<')
    row_bytes = msg.width * dtype.itemsize
    if msg.step < row_bytes:
        raise ConversionError(STEP_TOO_SMALL, f'step must be >= width x {dtype.itemsize} bytes = '
                              f'{row_bytes}, found {msg.step}')
    if len(msg.data) < msg.step * msg.height:
        raise ConversionError(DATA_TOO_SHORT, f'data must hold step x height = '
                              f'{msg.step * msg.height} bytes, found {len(msg.data)}')
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    return np.ndarray((msg.height, msg.width), dtype=dtype, buffer=buffer,
                      strides=(msg.step, dtype.itemsize))


def depth_to_mm(raw: np.ndarray, encoding: str, reject_nonfinite: bool = False,
                depth_unit_mm: float = 1.0) -> Tuple[np.ndarray, int]:
    """(float32 mm array with non-finite pixels set to 0, number of non-finite pixels).

    An integer encoding's counts are ``depth_unit_mm`` millimetres each (REP 118: 1);
    32FC1 is metres whatever it says."""
    depth = raw.astype(np.float32)  # native byte order, contiguous copy
    nonfinite = 0
    if raw.dtype.kind == 'f':
        finite = np.isfinite(depth)
        nonfinite = int(depth.size - np.count_nonzero(finite))
        if nonfinite and reject_nonfinite:
            raise ConversionError(NONFINITE_DEPTH, f'{nonfinite} non-finite depth pixels and '
                                  'reject_nonfinite is true')
        if nonfinite == depth.size:
            raise ConversionError(NONFINITE_DEPTH, 'no finite depth pixel in the frame')
        if nonfinite:
            depth[~finite] = 0.0
    scale = DEPTH_ENCODINGS[encoding][1]
    if raw.dtype.kind == 'u':
        scale *= float(depth_unit_mm)
    if scale != 1.0:
        depth *= np.float32(scale)
    return depth, nonfinite


def undistorts(mode: str, image_topic: str) -> bool:
    """Whether a depth image with a non-zero distortion in its CameraInfo is undistorted:
    'always', 'never', or 'auto': unless the last name of its topic says it is rectified
    (contains 'rect', as image_proc's ``image_rect`` and RealSense's ``image_rect_raw``)."""
    if mode not in UNDISTORT_MODES:
        raise ValueError(f'undistort must be one of {UNDISTORT_MODES}, found {mode!r}')
    if mode != 'auto':
        return mode == 'always'
    return 'rect' not in image_topic.rstrip('/').rsplit('/', 1)[-1]


def compressed_depth(fmt: str, data) -> Tuple[np.ndarray, str]:
    """(H, W) depth array in its encoding's unit and the encoding ('16UC1' or '32FC1', NaN =
    missing) of a compressedDepth CompressedImage's ``format`` and ``data`` (PNG only)."""
    encoding, _, codec = (part.strip() for part in str(fmt).partition(';'))
    if not codec.startswith('compressedDepth'):
        raise ConversionError(UNSUPPORTED_ENCODING, f'a CompressedImage of format {fmt!r} is '
                              "not depth (compressedDepth); a 'compressed' colour image is not "
                              'read')
    codec = codec[len('compressedDepth'):].strip() or 'png'
    if codec != 'png' or encoding not in ('16UC1', '32FC1'):
        raise ConversionError(UNSUPPORTED_ENCODING, f'compressedDepth {encoding} {codec} is not '
                              'read (16UC1 or 32FC1 in png are); republish it raw: ros2 run '
                              'image_transport republish compressedDepth raw')
    buffer = np.frombuffer(bytes(data), np.uint8)
    if buffer.size <= COMPRESSED_DEPTH_HEADER.size:
        raise ConversionError(DATA_TOO_SHORT, f'compressedDepth data of {buffer.size} bytes has '
                              'no image after its header')
    _, quant_a, quant_b = COMPRESSED_DEPTH_HEADER.unpack(buffer[:COMPRESSED_DEPTH_HEADER.size])
    image = cv2.imdecode(buffer[COMPRESSED_DEPTH_HEADER.size:], cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2 or image.dtype != np.uint16:
        raise ConversionError(UNDECODABLE_IMAGE, 'compressedDepth data is not a single-channel '
                              '16-bit PNG')
    if encoding == '16UC1':
        return image, encoding
    depth_m = np.full(image.shape, np.nan, np.float32)
    measured = image > 0
    depth_m[measured] = quant_a / (image[measured].astype(np.float32) - quant_b)
    return depth_m, encoding


@dataclass(frozen=True)
class DecodedImage:
    """A compressedDepth message decoded into the fields of the sensor_msgs/Image it carried
    (little-endian, rows packed), so it is read as any Image is (raw_depth)."""

    header: Any
    height: int
    width: int
    encoding: str
    step: int
    data: bytes
    is_bigendian: bool = False


def decompressed_image(msg) -> DecodedImage:
    """The depth Image a compressedDepth CompressedImage ``msg`` carries (ConversionError when
    it is not one, or not readable)."""
    raw, encoding = compressed_depth(msg.format, msg.data)
    raw = np.ascontiguousarray(raw, raw.dtype.newbyteorder('<'))
    return DecodedImage(msg.header, raw.shape[0], raw.shape[1], encoding,
                        raw.shape[1] * raw.itemsize, raw.tobytes())
