"""Depth images as ROS messages carry them, without ROS (core/depth_messages.py): the
compressedDepth transport's PNG of 16UC1 counts and of quantised inverse 32FC1 depth. The raw
Image path is tested through the node's conversions (test/ros/test_conversions.py)."""
import cv2
import numpy as np
import pytest

from hand_pose_ros.core.depth_messages import (compressed_depth, COMPRESSED_DEPTH_HEADER,
                                               ConversionError, DATA_TOO_SHORT,
                                               UNDECODABLE_IMAGE, UNSUPPORTED_ENCODING)


def test_compressed_depth_reads_both_encodings_and_refuses_the_rest():
    depth_mm = np.array([[0, 400, 1200]], np.uint16)
    ok, png = cv2.imencode('.png', depth_mm)
    assert ok
    raw, encoding = compressed_depth('16UC1; compressedDepth',
                                     COMPRESSED_DEPTH_HEADER.pack(0, 0, 0) + png.tobytes())
    assert encoding == '16UC1' and raw.tolist() == [[0, 400, 1200]]
    # 32FC1: quantised inverse depth q = a / z + b (z in metres), 0 = missing
    a, b = 2000.0, -10.0
    q = np.array([[0, round(a / 0.4 + b), round(a / 1.2 + b)]], np.uint16)
    ok, png = cv2.imencode('.png', q)
    assert ok
    raw, encoding = compressed_depth('32FC1; compressedDepth png',
                                     COMPRESSED_DEPTH_HEADER.pack(0, a, b) + png.tobytes())
    assert encoding == '32FC1' and np.isnan(raw[0, 0])
    np.testing.assert_allclose(raw[0, 1:], [0.4, 1.2], rtol=1e-3)
    for fmt, data, reason in (('bgr8; jpeg compressed bgr8', b'\0' * 20, UNSUPPORTED_ENCODING),
                              ('16UC1; compressedDepth rvl', b'\0' * 20, UNSUPPORTED_ENCODING),
                              ('16UC1; compressedDepth', b'\0' * 12, DATA_TOO_SHORT),
                              ('16UC1; compressedDepth', b'\0' * 40, UNDECODABLE_IMAGE)):
        with pytest.raises(ConversionError) as err:
            compressed_depth(fmt, data)
        assert err.value.reason == reason, fmt
