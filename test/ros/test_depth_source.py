"""depth_source over real DDS: synthetic frames with consistent CameraInfo and ground truth;
a labelled ICVL folder; and the node answering it end to end (joints matched to the ground
truth by stamp; with the shipped model, within the MODEL_CARD bound)."""
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from hand_pose_ros.core.camera import uvd_to_xyz, xyz_to_uvd  # noqa: E402
from hand_pose_ros.core.specs import camera_spec, dataset_spec  # noqa: E402
from hand_pose_ros.ros import conversions as conv  # noqa: E402
from test.ros.harness import stamp_ns  # noqa: E402

# Mean joint error (mm) of the shipped model on the animated synthetic source, through DDS.
# The shipped CPU model scores 14.8 mm on ICVL renders (models/MODEL_CARD.md); on the first 10
# frames of this source's animation (t = 0..1.8 s, replayed, so the same frames every run) it
# measured 5.9 mm (per frame 4-7 mm). The bound (5x) guards the pipeline and the model:
# metres vs millimetres, optical frame, stamp pairing, joint order or a broken model each
# cost far more.
SHIPPED_MODEL_MAX_MEAN_ERROR_MM = 30.0
ACCURACY_FRAMES = 10


def by_stamp(inbox) -> dict:
    return {stamp_ns(m.header): m for m in inbox.messages}


@pytest.fixture(scope='module')
def synthetic(probe, start_node):
    """A synthetic depth_source (reliable QoS) and inboxes for its three topics."""
    proc = start_node('hand_pose_ros.ros.depth_source', {'reliable': True, 'rate_hz': 5.0},
                      'depth_source')
    inboxes = {'image': probe.subscribe(Image, '/depth/image'),
               'info': probe.subscribe(CameraInfo, '/depth/camera_info'),
               'truth': probe.subscribe(PoseArray, '/depth_source/ground_truth')}
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
    # the rendered surface lies just in front of the palm joint
    depth = conv.depth_frame(image, info).depth_mm
    u, v, d = xyz_to_uvd(xyz_mm[0], intr)
    window = depth[int(v) - 3:int(v) + 4, int(u) - 3:int(u) + 4]
    surface = np.median(window[window > 0])
    assert d - 60 < surface <= d + 5, (surface, d)


def test_node_answers_the_source_by_stamp(synthetic, start_node, probe, tiny_model):
    _, inbox = synthetic
    proc = start_node('hand_pose_ros.ros.node', {
        'model': str(tiny_model), 'reliable_input': True, 'min_confidence': 0.0,
        'device': 'cpu'}, 'hand_pose_node')
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
    """The shipped model on the first ACCURACY_FRAMES frames of the animation (replayed, so
    the same frames every run), in its own namespace."""
    model = shipped_model()
    ns = ['-r', '__ns:=/accuracy']
    start_node('hand_pose_ros.ros.depth_source', {
        'reliable': True, 'rate_hz': 5.0, 'loop_frames': ACCURACY_FRAMES},
        'depth_source_accuracy', ns)
    proc = start_node('hand_pose_ros.ros.node', {
        'model': model, 'reliable_input': True, 'min_confidence': 0.0, 'device': 'cpu'},
        'hand_pose_node_shipped', ns)
    truth = probe.subscribe(PoseArray, '/accuracy/depth_source/ground_truth')
    joints = probe.subscribe(PoseArray, '/accuracy/hand_pose_node/joints')

    def errors():
        gt = by_stamp(truth)
        return [np.linalg.norm(conv.xyz_mm_from_pose_array(m) -
                               conv.xyz_mm_from_pose_array(gt[stamp_ns(m.header)]), axis=1)
                for m in joints.messages if stamp_ns(m.header) in gt]

    assert joints.wait_for(lambda _: len(errors()) >= ACCURACY_FRAMES), proc.output()
    per_frame = np.array([e.mean() for e in errors()[:ACCURACY_FRAMES]])
    print(f'shipped model {model}: mean joint error {per_frame.mean():.1f} mm, per frame '
          f'{np.round(per_frame).tolist()}')
    assert per_frame.mean() < SHIPPED_MODEL_MAX_MEAN_ERROR_MM, np.round(per_frame).tolist()
    proc.stop()


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
    assert truth.wait_count(4), proc.output()
    assert all(m.header.frame_id == 'icvl_cam' for m in truth.messages)
    intr = dataset_spec('icvl').intrinsics
    got = [conv.xyz_mm_from_pose_array(m) for m in truth.messages]
    expected = uvd_to_xyz(labels.astype(np.float64), intr)
    index = int(np.argmin([np.abs(got[0] - e).max() for e in expected]))
    for k, xyz in enumerate(got[:4]):          # consecutive frames, looping over the folder
        np.testing.assert_allclose(xyz, expected[(index + k) % 3], atol=1e-3)
    proc.stop()
