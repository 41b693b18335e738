"""hand_pose_node as a separate process over real DDS: outputs carry the input header and are
in metres; every malformed input is counted by reason and followed by an answered good frame;
runtime parameters are validated; the debug image appears and a lost hand's markers are
deleted."""
import time

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100, I202
from geometry_msgs.msg import PoseArray  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from hand_pose_ros.core.camera import Intrinsics  # noqa: E402
from hand_pose_ros.core.skeleton import ICVL16  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from hand_pose_ros.ros.diagnostics import status_values  # noqa: E402
from test.conftest import blob_frame  # noqa: E402
from test.ros.harness import (FrameSender, header_of, set_node_parameters,  # noqa: E402
                              stamp_ns, TIMEOUT_S, tiny_node_parameters)

INTR = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
HAND_MM = 450.0


def hand() -> np.ndarray:
    """A hand-sized blob 45 cm from the camera (mm)."""
    return blob_frame(center=(170, 110), depth=HAND_MM)


class Session:
    """The node under test with its inputs and outputs."""

    def __init__(self, probe, proc, sender=None):
        self.probe, self.proc = probe, proc
        self.sender = sender or FrameSender(probe, INTR)
        self.joints = probe.subscribe(PoseArray, '/hand_pose_node/joints')
        self.cloud = probe.subscribe(PointCloud2, '/hand_pose_node/joints_cloud')
        self.markers = probe.subscribe(MarkerArray, '/hand_pose_node/markers')
        self.debug = probe.subscribe(Image, '/hand_pose_node/debug_image')
        self.diag = probe.subscribe(DiagnosticArray, '/diagnostics')
        assert self.sender.wait_ready(), proc.output()
        self.sender.prime(self.joints, hand())

    def answered(self, header, inbox=None) -> bool:
        """True once an output with this exact stamp arrives."""
        key = stamp_ns(header)
        return (inbox or self.joints).wait_for(
            lambda msgs: any(stamp_ns(header_of(m)) == key for m in msgs))

    def output_for(self, header, inbox=None):
        key = stamp_ns(header)
        return next(m for m in (inbox or self.joints).messages
                    if stamp_ns(header_of(m)) == key)

    def counters(self) -> dict:
        """The newest diagnostics values of the node."""
        msgs = [m for m in self.diag.messages if m.status and
                m.status[0].name.startswith('hand_pose_node')]
        return status_values(msgs[-1]) if msgs else {}

    def wait_counter(self, key: str, at_least: int, timeout_s: float = TIMEOUT_S) -> bool:
        """True once diagnostics report ``key`` >= ``at_least``."""
        return self.diag.wait_for(lambda _: int(self.counters().get(key, 0)) >= at_least,
                                  timeout_s)

    def good_frame_answered(self) -> bool:
        """Send a good frame; True once its joints arrive."""
        return self.answered(self.sender.send(hand()))

    def set_params(self, **values) -> list:
        """Call ~/set_parameters; returns the SetParametersResult list."""
        return set_node_parameters(self.probe, '/hand_pose_node', values)


@pytest.fixture(scope='module')
def session(probe, start_node, tiny_model):
    proc = start_node('hand_pose_ros.ros.node', tiny_node_parameters(tiny_model),
                      'hand_pose_node')
    return Session(probe, proc)


def test_joints_carry_the_input_header_in_metres(session):
    header = session.sender.send(hand())
    assert session.answered(header), session.proc.output()
    joints = session.output_for(header)
    assert joints.header.frame_id == 'camera_depth_optical_frame'
    assert len(joints.poses) == 16
    xyz_m = conv.xyz_mm_from_pose_array(joints) / 1e3
    assert np.isfinite(xyz_m).all() and all(p.orientation.w == 1.0 for p in joints.poses)
    # metres, in front of the camera near the hand (a random net, so only roughly)
    assert 0.0 < np.median(xyz_m[:, 2]) < 1.5 and abs(np.median(xyz_m[:, 2]) - 0.45) < 0.4
    assert session.answered(header, session.cloud)
    cloud = conv.cloud_to_array(session.output_for(header, session.cloud))
    np.testing.assert_allclose(cloud[:, :3], xyz_m, atol=1e-5)
    assert ((cloud[:, 3] >= 0) & (cloud[:, 3] <= 1)).all()
    assert session.answered(header, session.markers)
    markers = session.output_for(header, session.markers).markers
    assert sum(m.type == Marker.SPHERE for m in markers) == 16


def malformed_cases(sender):
    """(name, send function, expected rejection or handled key) for section-1 inputs."""
    base = conv.depth_image(hand(), sender.probe.header())

    def raw(frame_id='camera_depth_optical_frame', info=True, **fields):
        def send():
            h = sender.probe.header(frame_id)
            msg = conv.Image(header=h, height=base.height, width=base.width,
                             encoding=base.encoding, is_bigendian=0, step=base.step,
                             data=bytes(base.data))
            for k, v in fields.items():
                setattr(msg, k, v)
            return sender.send(None, header=h, image=msg, info=info)
        return send

    def info_for(frame_id, intr=INTR, fx=None, lens=None):
        msg = conv.camera_info(intr, sender.probe.header(frame_id))
        if fx is not None:
            msg.k[0] = fx
        if lens is not None:
            msg.distortion_model, msg.d = lens
        return msg

    nan_m = np.full((240, 320), np.nan, '<f4').tobytes()
    partial = (hand() / 1e3).astype('<f4')
    partial[partial == 0] = np.nan
    partial[:4] = np.inf                      # REP 117: +inf = too far, -inf = too near
    partial[-4:] = -np.inf
    big_endian = hand().astype('>u2').tobytes()
    uhd = np.zeros((2160, 3840), np.float32)
    uhd[900:1200, 1800:2100] = HAND_MM
    uhd_intr = Intrinsics(1500.0, 1500.0, 1919.5, 1079.5, 3840, 2160)

    def send_uhd():
        h = sender.probe.header('uhd')
        sender.info.publish(conv.camera_info(uhd_intr, h))
        time.sleep(0.2)
        return sender.send(None, header=h, image=conv.depth_image(uhd, h), info=False)

    return [
        ('unsupported encoding', raw(encoding='rgb8'), 'rejected.unsupported_encoding'),
        ('step too small', raw(step=100), 'rejected.step_too_small'),
        ('data too short', raw(data=bytes(base.data)[:1000]), 'rejected.data_too_short'),
        ('zero width', raw(width=0), 'rejected.empty_image'),
        ('all zero', raw(data=bytes(len(base.data))), 'rejected.all_zero_depth'),
        ('all NaN 32FC1', raw(encoding='32FC1', step=1280, data=nan_m),
         'rejected.nonfinite_depth'),
        ('no CameraInfo', raw(frame_id='never_calibrated', info=False),
         'rejected.no_camera_info'),
        ('fx = 0', raw(frame_id='bad_fx', info=info_for('bad_fx', fx=0.0)),
         'rejected.invalid_camera_info'),
        ('CameraInfo size', raw(frame_id='wrong_size', info=info_for(
            'wrong_size', Intrinsics(241.42, 241.42, 80.0, 60.0, 160, 120))),
         'rejected.camera_info_size_mismatch'),
        ('no hand in range', raw(data=np.where(hand() > 0, 4000, 0).astype('<u2').tobytes()),
         'rejected.no_hand'),
        ('unknown lens model', raw(frame_id='fov_lens', info=info_for(
            'fov_lens', lens=('fov', [0.9]))), 'rejected.unsupported_distortion'),
        ('lens distortion', raw(frame_id='k4a_raw', info=info_for(
            'k4a_raw', lens=('rational_polynomial', [0.5, 0.1, 0, 0, 0, 0.6, 0.1, 0]))),
         'handled.undistorted'),
        ('NaN and inf pixels', raw(encoding='32FC1', step=1280, data=partial.tobytes()),
         'handled.nonfinite_as_missing'),
        ('big-endian', raw(is_bigendian=1, data=big_endian), 'handled.big_endian'),
        ('4K image', send_uhd, 'handled.downscaled'),
    ]


def test_each_malformed_input_is_counted_then_a_good_frame_is_answered(session):
    assert session.good_frame_answered(), session.proc.output()
    for name, send, key in malformed_cases(session.sender):
        before = int(session.counters().get(key, 0))
        counted = False
        for _ in range(3):   # a CameraInfo may race its image on another topic: resend
            send()
            if session.wait_counter(key, before + 1, timeout_s=10.0):
                counted = True
                break
        assert counted, f'{name}: {key} not counted; {session.counters()}'
        assert session.good_frame_answered(), f'no answer after {name}'
    assert session.proc.proc.poll() is None, 'the node died'
    log = session.proc.output()
    assert 'frame skipped (unsupported_encoding)' in log and 'Traceback' not in log
    # the image topic /depth/image is not named rectified: undistorted ('auto'), said once
    assert log.count('rational_polynomial lens distortion of CameraInfo removed from the '
                     'depth images of /depth/image') == 1


def test_runtime_parameters_are_validated(session):
    refused = session.set_params(near_m=2.0)
    assert not refused[0].successful and 'near_m < far_m' in refused[0].reason
    refused = session.set_params(handedness='both')
    assert not refused[0].successful and 'handedness' in refused[0].reason
    refused = session.set_params(model='/elsewhere.pt')
    assert not refused[0].successful                      # read-only
    refused = session.set_params(joint_names=['a'])
    assert not refused[0].successful                      # read-only
    before = int(session.counters().get('rejected.low_confidence', 0))
    assert session.set_params(min_confidence=1.0)[0].successful
    session.sender.send(hand())
    assert session.wait_counter('rejected.low_confidence', before + 1)
    assert all(r.successful for r in session.set_params(
        min_confidence=0.0, near_m=0.2, far_m=1.0, handedness='left'))
    assert session.good_frame_answered()
    restored = session.set_params(near_m=0.1, far_m=1.5, handedness='right')
    assert all(r.successful for r in restored)


def test_joint_names_parameter_gives_the_output_order(session):
    client = session.probe.node.create_client(GetParameters, '/hand_pose_node/get_parameters')
    try:
        assert client.wait_for_service(timeout_sec=TIMEOUT_S)
        future = client.call_async(GetParameters.Request(names=['joint_names']))
        deadline = time.monotonic() + TIMEOUT_S
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        names = list(future.result().values[0].string_array_value)
    finally:
        session.probe.node.destroy_client(client)
    assert names == list(ICVL16.joint_names)


def test_debug_image_and_markers_deleted_when_the_hand_is_lost(session):
    assert session.set_params(publish_debug_image=True)[0].successful
    # the debug publisher appears with the parameter: frames until the probe is matched to it
    session.sender.prime(session.debug, hand())
    debug = session.debug.messages[-1]
    assert debug.encoding == 'bgr8' and debug.width == debug.height > 0
    assert session.set_params(publish_debug_image=False)[0].successful
    lost = session.sender.send(np.where(hand() > 0, 4000.0, 0.0))
    assert session.answered(lost, session.markers)
    markers = session.output_for(lost, session.markers).markers
    assert {m.ns for m in markers} == {'right/joints', 'right/bones'}   # handedness: right
    assert markers and all(m.action == Marker.DELETE for m in markers)
    assert session.good_frame_answered()
