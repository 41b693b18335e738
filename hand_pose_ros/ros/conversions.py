"""sensor_msgs <-> numpy at the ROS edge: depth Image/CameraInfo in, joints (metres) out.

No cv_bridge: depth images are read as strided numpy views (honouring ``step`` and
``is_bigendian``). The core works in millimetres; every message built here is in metres
(REP 103), in the camera optical frame of the input header. Every malformed input raises a
``ConversionError`` whose ``reason`` is a short key counted by the node's diagnostics.
"""
from dataclasses import dataclass
import math
from typing import Optional, Tuple

from geometry_msgs.msg import Point, Pose, PoseArray, Quaternion
import numpy as np
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from ..core.camera import Intrinsics, published_intrinsics, unmirror
from ..core.depth_messages import (COMPRESSED_DEPTH, ConversionError,  # noqa: F401
                                   DATA_TOO_SHORT, decompressed_image, DEPTH_ENCODINGS,
                                   depth_to_mm, EMPTY_IMAGE, INPUT_TRANSPORTS, NONFINITE_DEPTH,
                                   raw_depth, stamp_to_s, STEP_TOO_SMALL, UNDECODABLE_IMAGE,
                                   UNDISTORT_MODES, undistorts, UNSUPPORTED_ENCODING)
from ..core.detection import sampled_intrinsics
from ..core.lens_distortion import (DepthRectifier, is_distorted, lens_distortion,
                                    LensDistortion)

# Rejection reasons (diagnostics counters) besides those of reading the image
# (core/depth_messages.py); the node adds 'no_hand' and 'low_confidence'.
ALL_ZERO_DEPTH = 'all_zero_depth'
NO_CAMERA_INFO = 'no_camera_info'
INVALID_CAMERA_INFO = 'invalid_camera_info'
CAMERA_INFO_SIZE_MISMATCH = 'camera_info_size_mismatch'
UNSUPPORTED_DISTORTION = 'unsupported_distortion'
MM_PER_M = 1e3


@dataclass(frozen=True)
class DepthFrame:
    """A validated depth frame (mm, 0 = missing) with the intrinsics of *this* array."""

    depth_mm: np.ndarray     # (H, W) float32 millimetres
    intrinsics: Intrinsics   # of depth_mm (scaled when the frame was decimated)
    stride: int              # decimation factor applied (1 = full resolution)
    undistorted: str         # the lens model removed from the image ('' = none)
    nonfinite: int           # non-finite pixels treated as missing (32FC1 only)
    big_endian: bool         # the message was big-endian (converted)


def depth_qos(reliable: bool = False) -> QoSProfile:
    """QoS of depth Image/CameraInfo streams: sensor data (best effort, keep last 5), or the
    same with RELIABLE delivery (recorded bags, tests, loopback demos)."""
    return QoSProfile(
        history=qos_profile_sensor_data.history, depth=qos_profile_sensor_data.depth,
        durability=qos_profile_sensor_data.durability,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)


def intrinsics_from_camera_info(msg: CameraInfo) -> Intrinsics:
    """Pinhole intrinsics of the published image from CameraInfo ``k`` (fx=k[0], fy=k[4],
    cx=k[2], cy=k[5]), its size, region of interest and binning."""
    k = [float(x) for x in msg.k]
    return _published(msg, k[0], k[4], k[2], k[5])


def _published(msg: CameraInfo, fx: float, fy: float, cx: float, cy: float) -> Intrinsics:
    """A calibration of the full sensor as the image the camera publishes (``roi``,
    ``binning_x`` / ``binning_y`` applied: core.camera.published_intrinsics)."""
    roi = msg.roi
    try:
        return published_intrinsics(fx, fy, cx, cy, msg.width, msg.height, msg.binning_x,
                                    msg.binning_y, (roi.x_offset, roi.y_offset, roi.width,
                                                    roi.height))
    except ValueError as exc:
        raise ConversionError(INVALID_CAMERA_INFO, f'invalid CameraInfo: {exc}') from None


def lens_from_camera_info(msg: CameraInfo) -> Optional[LensDistortion]:
    """The lens distortion ``distortion_model`` and ``d`` describe (None: none, all zero)."""
    try:
        return lens_distortion(msg.distortion_model, [float(x) for x in msg.d])
    except ValueError as exc:
        raise ConversionError(UNSUPPORTED_DISTORTION, f'cannot undistort the depth image: '
                              f'{exc}; publish rectified depth (image_proc) or set undistort '
                              'to never') from None


def rectified_intrinsics(msg: CameraInfo) -> Intrinsics:
    """Pinhole intrinsics of a *rectified* image from CameraInfo ``p`` (fx=p[0], fy=p[5],
    cx=p[2], cy=p[6]; ``k`` when ``p`` is unset), region of interest and binning applied, as
    image_geometry reads them."""
    p = [float(x) for x in msg.p]
    if len(p) != 12 or not (p[0] > 0 and p[5] > 0):
        return intrinsics_from_camera_info(msg)
    return _published(msg, p[0], p[5], p[2], p[6])


def decimation_stride(width: int, height: int, max_pixels: int) -> int:
    """Smallest odd stride s with ceil(W/s) x ceil(H/s) <= max_pixels (1 when it fits)."""
    stride = 1
    while max_pixels > 0 and math.ceil(width / stride) * math.ceil(height / stride) > max_pixels:
        stride += 2
    return stride


def decimate(raw: np.ndarray, intr: Intrinsics, stride: int) -> Tuple[np.ndarray, Intrinsics]:
    """Keep every ``stride``-th pixel (odd stride: the centre pixel of each block; no depth
    mixing across edges) and the matching intrinsics (core.detection.sampled_intrinsics, as
    the detector's sampling and the undistortion map keep pixels)."""
    if stride == 1:
        return raw, intr
    if stride % 2 == 0:
        raise ValueError(f'decimation stride must be odd, found {stride}')
    return raw[stride // 2::stride, stride // 2::stride], sampled_intrinsics(intr, stride)


def depth_frame(image: Image, info: Optional[CameraInfo], max_pixels: int = 0,
                reject_nonfinite: bool = False,
                rectifier: Optional[DepthRectifier] = None,
                depth_unit_mm: float = 1.0, mirrored: bool = False) -> DepthFrame:
    """Validate an Image + CameraInfo pair and return millimetres with matching intrinsics.

    Frames over ``max_pixels`` (0 = no limit) are decimated before any copy is made. With a
    ``rectifier``, a frame whose CameraInfo has a non-zero distortion is resampled onto the
    pinhole grid of ``k`` (nearest pixel, decimated in the same pass); without one it is
    taken as rectified, with the intrinsics of ``p`` when there is a distortion. A 16UC1 /
    mono16 count is ``depth_unit_mm`` millimetres (REP 118: 1). A ``mirrored`` image is
    flipped back first (core.camera.unmirror), so the CameraInfo, the camera's own, applies.
    """
    if info is None:
        raise ConversionError(NO_CAMERA_INFO, f'no CameraInfo received yet for frame_id '
                              f'{image.header.frame_id!r}')
    intr = intrinsics_from_camera_info(info)
    raw = raw_depth(image)
    if mirrored:
        raw = unmirror(raw)
    if (intr.width, intr.height) != (image.width, image.height):
        raise ConversionError(CAMERA_INFO_SIZE_MISMATCH, f'CameraInfo is for '
                              f'{intr.width}x{intr.height} but the image is '
                              f'{image.width}x{image.height}')
    stride = decimation_stride(image.width, image.height, max_pixels)
    lens = lens_from_camera_info(info) if rectifier is not None else None
    if lens is not None:
        raw, intr = rectifier.rectify(raw, intr, lens, stride)
    else:
        if rectifier is None and is_distorted(info.d):
            intr = rectified_intrinsics(info)
        raw, intr = decimate(raw, intr, stride)
    depth, nonfinite = depth_to_mm(raw, image.encoding, reject_nonfinite, depth_unit_mm)
    if not np.any(depth):
        raise ConversionError(ALL_ZERO_DEPTH, 'every depth pixel is 0 (no measurement)')
    return DepthFrame(depth, intr, stride, lens.model if lens else '', nonfinite,
                      bool(image.is_bigendian))


def depth_image(depth_mm: np.ndarray, header: Header, encoding: str = '16UC1') -> Image:
    """(H, W) depth in mm -> Image: '16UC1' (uint16 mm) or '32FC1' (float32 metres)."""
    if encoding == '16UC1':
        data = np.clip(np.nan_to_num(depth_mm), 0, 65535).round().astype('<u2')
    elif encoding == '32FC1':
        data = (np.asarray(depth_mm, np.float32) / np.float32(MM_PER_M)).astype('<f4')
    else:
        raise ValueError(f'encoding must be 16UC1 or 32FC1, found {encoding!r}')
    h, w = data.shape
    return Image(header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                 step=w * data.dtype.itemsize, data=data.tobytes())


def bgr_image(bgr: np.ndarray, header: Header) -> Image:
    """(H, W, 3) uint8 BGR array -> bgr8 Image."""
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f'expected (H, W, 3) uint8 BGR, found {bgr.shape} {bgr.dtype}')
    h, w = bgr.shape[:2]
    return Image(header=header, height=h, width=w, encoding='bgr8', is_bigendian=0, step=w * 3,
                 data=np.ascontiguousarray(bgr).tobytes())


def camera_info(intr: Intrinsics, header: Header) -> CameraInfo:
    """CameraInfo of an undistorted pinhole camera (plumb_bob, zero distortion)."""
    k = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    p = [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return CameraInfo(header=header, width=intr.width, height=intr.height,
                      distortion_model='plumb_bob', d=[0.0] * 5, k=k,
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], p=p)


def pose_array(xyz_mm: np.ndarray, header: Header) -> PoseArray:
    """(J, 3) joints in mm -> PoseArray in metres, identity orientations, same order."""
    xyz_m = np.asarray(xyz_mm, dtype=np.float64) / MM_PER_M
    ident = Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)
    return PoseArray(header=header, poses=[
        Pose(position=Point(x=float(x), y=float(y), z=float(z)), orientation=ident)
        for x, y, z in xyz_m])


def xyz_mm_from_pose_array(msg: PoseArray) -> np.ndarray:
    """PoseArray (metres) -> (J, 3) float64 millimetres."""
    return np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses],
                    dtype=np.float64).reshape(-1, 3) * MM_PER_M


CLOUD_FIELDS = ('x', 'y', 'z', 'confidence')


def point_cloud(xyz_mm: np.ndarray, confidence: np.ndarray, header: Header) -> PointCloud2:
    """(J, 3) mm + (J,) confidence -> PointCloud2 (1 x J): float32 x, y, z (m), confidence."""
    n = len(xyz_mm)
    points = np.empty((n, 4), dtype='<f4')
    points[:, :3] = np.asarray(xyz_mm, np.float32) / np.float32(MM_PER_M)
    points[:, 3] = confidence
    fields = [PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
              for i, name in enumerate(CLOUD_FIELDS)]
    return PointCloud2(header=header, height=1, width=n, fields=fields, is_bigendian=False,
                       point_step=16, row_step=16 * n, data=points.tobytes(), is_dense=True)


def cloud_to_array(msg: PointCloud2) -> np.ndarray:
    """PointCloud2 written by ``point_cloud`` -> (N, 4) float32 (x, y, z metres, confidence)."""
    names = [f.name for f in msg.fields]
    if names != list(CLOUD_FIELDS) or msg.point_step != 16:
        raise ValueError(f'expected fields {list(CLOUD_FIELDS)} with point_step 16, found '
                         f'{names} with point_step {msg.point_step}')
    return np.frombuffer(msg.data, dtype='<f4').reshape(-1, 4)
