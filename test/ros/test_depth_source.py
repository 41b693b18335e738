"""depth_source: the two-handed synthetic user (each hand's truth labelled with its side) and
the single hand, in process; over real DDS, synthetic frames with consistent CameraInfo and
per-side ground truth; a labelled ICVL folder; and the node answering it end to end (joints
matched to the ground truth by stamp; with the shipped model, every finger within a bound that
a joint-order or chirality mistake exceeds)."""
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from hand_pose_ros.core.camera import uvd_to_xyz, xyz_to_uvd  # noqa: E402
from hand_pose_ros.core.handedness import hand_side  # noqa: E402
from hand_pose_ros.core.skeleton import FINGER_NAMES, ICVL16, MEDIAPIPE21  # noqa: E402
from hand_pose_ros.core.specs import camera_spec, dataset_spec  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from hand_pose_ros.ros.depth_source import SyntheticSource  # noqa: E402
from test.ros.harness import stamp_ns  # noqa: E402

# The shipped model on the first ACCURACY_FRAMES frames of this source's single-hand animation
# (hands 1, where these were measured; t = 0..1.8 s at 5 Hz, replayed, so the same frames
# every run), through DDS. Measured per finger (mean over
# the frames and the finger's joints, mm): palm 4.3, thumb 5.8, index 6.6, middle 5.8, ring 4.5,
# little 7.1 (whole hand 5.8; every frame 3.5-7.0). The same predictions with a joint-order or
# chirality mistake put at least one finger far above that: index<->middle 27.6 (index),
# ring<->little 28.5 (ring), middle<->ring 21.6, thumb<->index 66.3, every finger reversed
# root-to-tip 35.3 (thumb), thumb<->little + index<->ring (a mirrored hand's labels) 78.0,
# the hand mirrored about its centre 73.5 (little); yet their whole-hand means (13.6, 14.2,
# 11.9, 27.7, 28.5) stayed below the 30 mm bound this test used to have. Hence a bound per
# finger, twice the worst finger measured and below the smallest swap (21.6 mm):
SHIPPED_MODEL_MAX_FINGER_ERROR_MM = 15.0
# ... and one per frame (a lost or upside-down hand in a single frame), 3x the worst frame:
SHIPPED_MODEL_MAX_FRAME_ERROR_MM = 20.0
ACCURACY_FRAMES = 10


def by_stamp(inbox) -> dict:
    return {stamp_ns(m.header): m for m in inbox.messages}


def surface_mm(depth_mm: np.ndarray, u: float, v: float) -> float:
    """Median valid depth in a 7x7 window around pixel (u, v)."""
    window = depth_mm[int(v) - 3:int(v) + 4, int(u) - 3:int(u) + 4]
    return float(np.median(window[window > 0]))


@pytest.mark.parametrize('t_s', [0.0, 1.7])
def test_synthetic_user_shows_both_hands_with_their_sides(t_s):
    """Two hands, each truth labelled with its anatomical side (a swapped label fails the
    chirality check), the user's right hand on the image's left (the user faces the camera),
    each rendered where its truth is; ~/ground_truth keeps the right hand."""
    source = SyntheticSource()
    frame = source.frame(t_s)
    intr = source.intrinsics
    assert frame.depth_mm.shape == (intr.height, intr.width)
    assert sorted(frame.hands) == ['left', 'right']
    for side, xyz_mm in frame.hands.items():
        assert xyz_mm.shape == (16, 3)
        assert hand_side(xyz_mm, ICVL16) == side
        u, v, d = xyz_to_uvd(xyz_mm[0], intr)        # the palm joint
        assert d - 60 < surface_mm(frame.depth_mm, u, v) <= d + 5, side
    u_right = xyz_to_uvd(frame.hands['right'], intr)[:, 0]
    u_left = xyz_to_uvd(frame.hands['left'], intr)[:, 0]
    assert u_right.max() < intr.width / 2 < u_left.min()
    assert frame.xyz_mm is frame.hands['right']


def test_synthetic_single_hand_on_request():
    frame = SyntheticSource(hands=1).frame(0.5)
    assert list(frame.hands) == ['right'] and frame.xyz_mm is frame.hands['right']
    assert hand_side(frame.xyz_mm, ICVL16) == 'right'
    two = SyntheticSource('mediapipe21', hands=2).frame(0.5)      # any whole-hand selection
    assert {k: v.shape for k, v in two.hands.items()} == {'right': (21, 3), 'left': (21, 3)}
    assert hand_side(two.hands['left'], MEDIAPIPE21) == 'left'
    with pytest.raises(ValueError, match='joint_set must be one of'):
        SyntheticSource('mano', hands=2)
    with pytest.raises(ValueError, match='hands must be 1 or 2'):
        SyntheticSource(hands=3)


@pytest.fixture(scope='module')
def synthetic(probe, start_node):
    """A synthetic depth_source (reliable QoS) and inboxes for its five topics."""
    proc = start_node('hand_pose_ros.ros.depth_source', {'reliable': True, 'rate_hz': 5.0},
                      'depth_source')
    inboxes = {'image': probe.subscribe(Image, '/depth/image'),
               'info': probe.subscribe(CameraInfo, '/depth/camera_info'),
               'truth': probe.subscribe(PoseArray, '/depth_source/ground_truth'),
               'right': probe.subscribe(PoseArray, '/depth_source/right/ground_truth'),
               'left': probe.subscribe(PoseArray, '/depth_source/left/ground_truth')}
    return proc, inboxes


def test_synthetic_frames_are_consistent(synthetic):
    proc, inbox = synthetic
    assert inbox['truth'].wait_count(2), proc.output()
    truth = inbox['truth'].messages[1]
    key = stamp_ns(truth.header)
    assert inbox['image'].wait_for(lambda m: key in by_stamp(inbox['image']))
    assert inbox['info'].wait_for(lambda m: key in by_stamp(inbox['info']))
    image, info = by_stamp(inbox['image'])[key], by_stamp(inbox['info'])[key]
    intr = camera_spec('realsense_d435_640x480').intrinsics
    assert (image.width, image.height, image.encoding) == (640, 480, '16UC1')
    assert conv.intrinsics_from_camera_info(info) == intr
    assert image.header.frame_id == truth.header.frame_id == 'camera_depth_optical_frame'
    xyz_mm = conv.xyz_mm_from_pose_array(truth)
    assert xyz_mm.shape == (16, 3) and 150 < xyz_mm[:, 2].min() < xyz_mm[:, 2].max() < 1500
    # each side's truth with the frame's stamp: ~/ground_truth is the right hand's
    assert inbox['left'].wait_for(lambda m: key in by_stamp(inbox['left']))
    assert inbox['right'].wait_for(lambda m: key in by_stamp(inbox['right']))
    sides = {side: conv.xyz_mm_from_pose_array(by_stamp(inbox[side])[key])
             for side in ('right', 'left')}
    np.testing.assert_allclose(sides['right'], xyz_mm, atol=1e-6)
    # the rendered surface lies just in front of each palm joint; the right hand on the left
    depth = conv.depth_frame(image, info).depth_mm
    for side, joints_mm in sides.items():
        assert hand_side(joints_mm, ICVL16) == side
        u, v, d = xyz_to_uvd(joints_mm[0], intr)
        assert d - 60 < surface_mm(depth, u, v) <= d + 5, (side, d)
    assert xyz_to_uvd(sides['right'][0], intr)[0] < xyz_to_uvd(sides['left'][0], intr)[0]


def test_node_answers_the_source_by_stamp(synthetic, start_node, probe, tiny_model):
    _, inbox = synthetic
    proc = start_node('hand_pose_ros.ros.node', {
        'model': str(tiny_model), 'reliable_input': True, 'min_confidence': 0.0,
        'device': 'cpu', 'handedness': 'right', 'detector': 'nearest'}, 'hand_pose_node')
    joints = probe.subscribe(PoseArray, '/hand_pose_node/joints')

    def matched(msgs):
        truth = by_stamp(inbox['truth'])
        return any(stamp_ns(m.header) in truth for m in msgs)

    assert joints.wait_for(matched), proc.output()
    msg = next(m for m in joints.messages if stamp_ns(m.header) in by_stamp(inbox['truth']))
    assert len(msg.poses) == 16 and msg.header.frame_id == 'camera_depth_optical_frame'
    proc.stop()


def shipped_model() -> str:
    from hand_pose_ros.core.resources import resolve_model_files
    try:
        return str(resolve_model_files('default', None)[0])
    except FileNotFoundError as exc:
        pytest.skip(f'no shipped model yet ({exc})')


@pytest.mark.slow
def test_shipped_model_accuracy_on_the_synthetic_source(start_node, probe):
    """The shipped model through DDS on the first ACCURACY_FRAMES frames of the animation
    (replayed, so the same frames every run), in its own namespace, compared with the source's
    ground truth joint by joint. Guards the whole chain, model included: joint order (two
    fingers swapped, a finger reversed root-to-tip), chirality (a hand mirrored, left and right
    mixed up), metres vs millimetres, the optical frame, stamp pairing, and a broken model or
    a frame whose hand is lost: every finger's mean error must stay within
    SHIPPED_MODEL_MAX_FINGER_ERROR_MM and every frame's within SHIPPED_MODEL_MAX_FRAME_ERROR_MM
    (see the measurements above those constants)."""
    model = shipped_model()
    ns = ['-r', '__ns:=/accuracy']
    start_node('hand_pose_ros.ros.depth_source', {
        'reliable': True, 'rate_hz': 5.0, 'loop_frames': ACCURACY_FRAMES, 'hands': 1},
        'depth_source_accuracy', ns)
    proc = start_node('hand_pose_ros.ros.node', {
        'model': model, 'reliable_input': True, 'min_confidence': 0.0, 'device': 'cpu',
        # one right hand, found as when the bounds were measured, in the ICVL16 order the
        # source's truth and the bounds are in
        'handedness': 'right', 'detector': 'nearest', 'joint_order': 'icvl16'},
        'hand_pose_node_shipped', ns)
    truth = probe.subscribe(PoseArray, '/accuracy/depth_source/ground_truth')
    joints = probe.subscribe(PoseArray, '/accuracy/hand_pose_node/joints')

    def errors():
        gt = by_stamp(truth)
        return [np.linalg.norm(conv.xyz_mm_from_pose_array(m) -
                               conv.xyz_mm_from_pose_array(gt[stamp_ns(m.header)]), axis=1)
                for m in joints.messages if stamp_ns(m.header) in gt]

    assert joints.wait_for(lambda _: len(errors()) >= ACCURACY_FRAMES), proc.output()
    proc.stop()
    report = accuracy_report(np.array(errors()[:ACCURACY_FRAMES]))
    print(f'shipped model {model}: {report["text"]}')
    assert max(report['per_finger'].values()) < SHIPPED_MODEL_MAX_FINGER_ERROR_MM, report['text']
    assert max(report['per_frame']) < SHIPPED_MODEL_MAX_FRAME_ERROR_MM, report['text']


def accuracy_report(errors_mm: np.ndarray) -> dict:
    """Per-finger (mean over frames and the finger's joints) and per-frame mean errors (mm) of
    (frames, 16) ICVL16 joint errors, and a line of text with both."""
    fingers = np.array(ICVL16.fingers)
    per_finger = {name: float(errors_mm[:, fingers == f].mean())
                  for f, name in enumerate(FINGER_NAMES)}
    per_frame = errors_mm.mean(axis=1).tolist()
    text = (f'mean {errors_mm.mean():.1f} mm; per finger ' +
            ', '.join(f'{n} {e:.1f}' for n, e in per_finger.items()) +
            f'; per frame {np.round(per_frame, 1).tolist()}')
    return {'per_finger': per_finger, 'per_frame': per_frame, 'text': text}


def write_icvl_folder(root: Path, frames: int = 3) -> np.ndarray:
    """A tiny ICVL-format folder (labels.txt + Depth/*.png); returns the labels (uvd)."""
    spec = dataset_spec('icvl')
    intr = spec.intrinsics
    (root / 'Depth').mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels, lines = [], []
    for i in range(frames):
        depth = np.zeros((intr.height, intr.width), np.uint16)
        depth[100:140, 150:190] = 400 + 10 * i
        uvd = np.column_stack([rng.uniform(150, 190, 16), rng.uniform(100, 140, 16),
                               np.full(16, 400.0 + 10 * i)]).astype(np.float32)
        cv2.imwrite(str(root / 'Depth' / f'{i:04d}.png'), depth)
        lines.append(f'{i:04d}.png ' + ' '.join(f'{x:.3f}' for x in uvd.ravel()))
        labels.append(uvd)
    (root / 'labels.txt').write_text('\n'.join(lines) + '\n')
    return np.stack(labels)


def test_folder_source_publishes_labelled_frames(tmp_path, start_node, probe):
    labels = write_icvl_folder(tmp_path / 'icvl')
    proc = start_node('hand_pose_ros.ros.depth_source', {
        'source': 'folder', 'folder': str(tmp_path / 'icvl'), 'dataset': 'icvl',
        'split': 'labels.txt', 'reliable': True, 'rate_hz': 20.0, 'frame_id': 'icvl_cam'},
        'depth_source_folder', ['-r', '__node:=folder_source', '-r', '__ns:=/folder'])
    truth = probe.subscribe(PoseArray, '/folder/folder_source/ground_truth')
    # ICVL hands are left hands: the same truth on the left side's topic
    left = probe.subscribe(PoseArray, '/folder/folder_source/left/ground_truth')
    assert truth.wait_count(4), proc.output()
    assert left.wait_for(lambda _: stamp_ns(truth.messages[0].header) in by_stamp(left))
    np.testing.assert_allclose(
        conv.xyz_mm_from_pose_array(by_stamp(left)[stamp_ns(truth.messages[0].header)]),
        conv.xyz_mm_from_pose_array(truth.messages[0]), atol=1e-6)
    assert all(m.header.frame_id == 'icvl_cam' for m in truth.messages)
    intr = dataset_spec('icvl').intrinsics
    got = [conv.xyz_mm_from_pose_array(m) for m in truth.messages]
    expected = uvd_to_xyz(labels.astype(np.float64), intr)
    index = int(np.argmin([np.abs(got[0] - e).max() for e in expected]))
    for k, xyz in enumerate(got[:4]):          # consecutive frames, looping over the folder
        np.testing.assert_allclose(xyz, expected[(index + k) % 3], atol=1e-3)
    proc.stop()
