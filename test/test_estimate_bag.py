"""`hand-pose estimate` on recorded ROS 2 bags (written here with rosbags in the real rosbag2
format, no ROS): a rendered right hand as a camera driver records it (raw 16UC1 and
compressedDepth), paired with the bag's CameraInfo by frame_id, followed by header stamp."""
import json

import cv2
import numpy as np
import pytest
import yaml

from hand_pose_ros.cli import main
from hand_pose_ros.core.depth_messages import COMPRESSED_DEPTH_HEADER
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.synthetic import PoseConfig, SyntheticGenerator

rosbags = pytest.importorskip('rosbags', reason='needs rosbags (pip install rosbags)')
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402, I100, I202
from rosbags.typesys import get_typestore, Stores  # noqa: E402

UPRIGHT = PoseConfig(frontal_prob=1.0, frontal_roll_deg=30.0, frontal_tilt_deg=20.0,
                     distance_mm=(300.0, 500.0))
RAW = '/camera/depth/image_rect_raw'
COMPRESSED = RAW + '/compressedDepth'
INFO = '/camera/depth/camera_info'
TS = get_typestore(Stores.ROS2_JAZZY)
T = TS.types


def header(stamp_ns: int, frame_id: str = 'depth_optical'):
    return T['std_msgs/msg/Header'](
        stamp=T['builtin_interfaces/msg/Time'](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id=frame_id)


def image_msg(depth_mm: np.ndarray, stamp_ns: int):
    counts = np.round(depth_mm).astype('<u2')
    return T['sensor_msgs/msg/Image'](
        header=header(stamp_ns), height=counts.shape[0], width=counts.shape[1],
        encoding='16UC1', is_bigendian=0, step=counts.shape[1] * 2,
        data=np.frombuffer(counts.tobytes(), np.uint8))


def compressed_msg(depth_mm: np.ndarray, stamp_ns: int):
    ok, png = cv2.imencode('.png', np.round(depth_mm).astype(np.uint16))
    assert ok
    data = COMPRESSED_DEPTH_HEADER.pack(0, 0.0, 0.0) + png.tobytes()
    return T['sensor_msgs/msg/CompressedImage'](
        header=header(stamp_ns), format='16UC1; compressedDepth png',
        data=np.frombuffer(data, np.uint8))


def info_msg(intr, stamp_ns: int):
    return T['sensor_msgs/msg/CameraInfo'](
        header=header(stamp_ns), height=intr.height, width=intr.width,
        distortion_model='plumb_bob', d=np.zeros(5),
        k=np.array([intr.fx, 0, intr.cx, 0, intr.fy, intr.cy, 0, 0, 1], float),
        r=np.eye(3).ravel(),
        p=np.array([intr.fx, 0, intr.cx, 0, 0, intr.fy, intr.cy, 0, 0, 0, 1, 0], float),
        binning_x=0, binning_y=0,
        roi=T['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0, width=0,
                                                  do_rectify=False))


def camera_info_yaml(folder) -> str:
    """The recording's camera as a calibration file (camera_calibration_parsers' form)."""
    intr = dataset_spec('icvl').intrinsics
    path = folder / 'camera.yaml'
    path.write_text(yaml.safe_dump({
        'image_width': intr.width, 'image_height': intr.height,
        'camera_matrix': {'rows': 3, 'cols': 3,
                          'data': [intr.fx, 0, intr.cx, 0, intr.fy, intr.cy, 0, 0, 1]},
        'distortion_model': 'plumb_bob',
        'distortion_coefficients': {'rows': 1, 'cols': 5, 'data': [0.0] * 5}}))
    return str(path)


def write_bag(path, messages, storage=StoragePlugin.SQLITE3):
    """A rosbag2 bag (a folder, sqlite3 or mcap) of (topic, stamp ns, message) in order."""
    with Writer(path, version=9, storage_plugin=storage) as writer:
        connections = {}
        for topic, stamp_ns, msg in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(connections[topic], stamp_ns,
                         TS.serialize_cdr(msg, msg.__msgtype__))
    return path


@pytest.fixture(scope='module')
def recording(tmp_path_factory):
    """A bag of a rendered right hand: one frame before the camera's CameraInfo, then three
    frames 33 ms apart, each raw and compressedDepth; and the true joints (mm)."""
    intr = dataset_spec('icvl').intrinsics
    batch = SyntheticGenerator(intr, seed=11, pose=UPRIGHT).sample(1)
    depth_mm, truth = batch.depth_mm.numpy()[0], batch.xyz.numpy()[0]
    stamps = [10**9 + k * 33_000_000 for k in range(4)]
    messages = [(RAW, stamps[0], image_msg(depth_mm, stamps[0])),
                (INFO, stamps[0] + 1, info_msg(intr, stamps[0]))]
    for stamp in stamps[1:]:
        messages += [(RAW, stamp, image_msg(depth_mm, stamp)),
                     (COMPRESSED, stamp, compressed_msg(depth_mm, stamp))]
    path = write_bag(tmp_path_factory.mktemp('bags') / 'hand', messages)
    return path, truth, messages


def estimate(capsys, *args):
    """(exit status, JSON records of stdout, stderr) of `hand-pose estimate ... --json`."""
    status = main(['estimate', *map(str, args), '--json', '--joint-order', 'icvl16'])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_a_bag_is_estimated_as_the_node_would_on_its_playback(capsys, recording, tmp_path):
    path, truth, _ = recording
    # an Image recorded beside its own compressedDepth is one depth topic, read raw
    status, records, err = estimate(capsys, path, '--draw', tmp_path)
    assert {r['topic'] for r in records} == {RAW}
    # the frame recorded before any CameraInfo is skipped and said, as the node rejects it
    assert status == 0 and '1 frame skipped' in err and 'no CameraInfo' in err
    assert [r['file'] for r in records] == [f'{path}@{s:.3f}' for s in (1.033, 1.066, 1.099)]
    assert [(r['bag'], r['topic'], r['index'], r['frame_id']) for r in records] == [
        (str(path), RAW, k, 'depth_optical') for k in (1, 2, 3)]
    assert [r['stamp_s'] for r in records] == pytest.approx([1.033, 1.066, 1.099])
    for record in records:
        [hand] = record['hands']
        error_mm = np.linalg.norm(np.array(hand['xyz_mm']) - truth, axis=-1).mean()
        assert hand['side'] == 'right' and error_mm < 25.0, error_mm
    assert [r['hands'][0]['followed'] for r in records] == [False, True, True]
    assert sorted(p.name for p in tmp_path.glob('*.png')) == [
        'hand_00001_hands.png', 'hand_00002_hands.png', 'hand_00003_hands.png']
    # the same frames as compressedDepth (lossless PNG) give the same hands
    status, packed, _ = estimate(capsys, path, '--topic', COMPRESSED)
    assert status == 0 and len(packed) == 3
    for a, b in zip(records, packed):
        np.testing.assert_allclose(a['hands'][0]['xyz_mm'], b['hands'][0]['xyz_mm'], atol=0.01)


def test_a_part_of_a_bag(capsys, recording, tmp_path):
    path, _, _ = recording
    # the bag starts at 1.000 s; from 0.05 s on: the frames of 1.066 and 1.099 s, the
    # CameraInfo recorded before them still pairs (no frame skipped)
    status, records, err = estimate(capsys, path, '--topic', RAW, '--start-offset', 0.05,
                                    '--draw', tmp_path)
    assert status == 0 and 'skipped' not in err
    assert [r['file'] for r in records] == [f'{path}@{s:.3f}' for s in (1.066, 1.099)]
    assert [r['hands'][0]['followed'] for r in records] == [False, True]
    assert sorted(p.name for p in tmp_path.glob('*.png')) == [     # named by index in the bag
        'hand_00002_hands.png', 'hand_00003_hands.png']
    status, records, err = estimate(capsys, path, '--topic', RAW, '--frames', 2)
    assert status == 0 and '1 frame skipped' in err    # the first of the two has no CameraInfo
    assert [r['file'] for r in records] == [f'{path}@1.033']
    status, records, err = estimate(capsys, path, '--topic', RAW, '--start-offset', 5)
    assert status == 1 and records == [] and 'no frame recorded 5 s or more after' in err
    frame = tmp_path / 'frame.png'
    assert cv2.imwrite(str(frame), np.full((8, 8), 500, np.uint16))
    for bad, said in ((('--frames', 0), '--frames must be >= 1'),
                      (('--start-offset', -1), '--start-offset must be >= 0'),
                      (('--start-offset', 'nan'), '--start-offset must be >= 0')):
        status, _, err = estimate(capsys, path, *bad)
        assert status == 2 and said in err
    status, _, err = estimate(capsys, frame, '--frames', 3, '--intrinsics', 1, 1, 1, 1)
    assert status == 2 and 'no bag was given' in err


def test_an_mcap_file_alone_is_a_bag(capsys, recording, tmp_path):
    _, truth, messages = recording
    folder = write_bag(tmp_path / 'mcap', messages[1:3], StoragePlugin.MCAP)
    [mcap] = folder.glob('*.mcap')
    status, [record], _ = estimate(capsys, mcap)      # the one depth topic: no --topic needed
    [hand] = record['hands']
    assert status == 0 and hand['side'] == 'right'
    assert np.linalg.norm(np.array(hand['xyz_mm']) - truth, axis=-1).mean() < 25.0


def test_a_ros1_bag(capsys, recording, tmp_path):
    """A ROS 1 .bag (its own message definitions; CameraInfo spells D, K, R, P) gives the
    hands of the same frames in a ROS 2 bag."""
    from rosbags.rosbag1 import Writer as Ros1Writer
    path, _, messages = recording
    ts1 = get_typestore(Stores.ROS1_NOETIC)
    t1 = ts1.types
    bag = tmp_path / 'hand.bag'
    with Ros1Writer(bag) as writer:
        connections = {}
        for topic, stamp_ns, msg in messages[:3]:         # two frames, CameraInfo between
            fields = {k: getattr(msg, k) for k in msg.__dataclass_fields__ if k != '__msgtype__'}
            fields['header'] = t1['std_msgs/msg/Header'](
                seq=0, stamp=msg.header.stamp, frame_id=msg.header.frame_id)
            if msg.__msgtype__ == 'sensor_msgs/msg/CameraInfo':
                fields = {k.upper() if k in 'dkrp' else k: v for k, v in fields.items()}
            ros1 = t1[msg.__msgtype__](**fields)
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=ts1)
            writer.write(connections[topic], stamp_ns, ts1.serialize_ros1(ros1, msg.__msgtype__))
    status, records, err = estimate(capsys, bag)       # one depth topic: no --topic needed
    assert status == 0 and '1 frame skipped' in err
    status, ros2, _ = estimate(capsys, path, '--topic', RAW, '--frames', 2)
    assert [r['file'].split('@')[1] for r in records] == ['1.033']
    np.testing.assert_allclose(records[0]['hands'][0]['xyz_mm'], ros2[0]['hands'][0]['xyz_mm'],
                               atol=0.01)
    assert records[0]['hands'][0]['side'] == 'right'


def test_bag_and_option_errors(capsys, recording, tmp_path):
    path, _, _ = recording
    status, _, err = estimate(capsys, path, '--topic', '/nope')
    assert status == 1 and "no image topic '/nope'" in err and RAW in err
    # two cameras' depth topics: which one must be said
    _, _, messages = recording
    second = '/second/depth/image_raw'
    two = write_bag(tmp_path / 'two', messages[:3] + [(second, t, m) for _, t, m in messages[:1]])
    status, records, err = estimate(capsys, two)
    assert status == 1 and records == [] and 'more than one depth image topic' in err
    assert RAW in err and second in err and '--topic' in err
    # a message that does not decode ends that bag with its reason, not a traceback
    broken = tmp_path / 'broken'
    with Writer(broken, version=9) as writer:
        connection = writer.add_connection(RAW, 'sensor_msgs/msg/Image', typestore=TS)
        writer.write(connection, 1, b'\x00\x01\x00\x00\x07')
    status, records, err = estimate(capsys, broken, '--intrinsics', 1, 1, 1, 1)
    assert status == 1 and records == [] and 'cannot decode' in err and RAW in err
    # a bag recorded without its CameraInfo: the command says how to give the camera
    _, _, messages = recording
    bare = write_bag(tmp_path / 'bare', [m for m in messages if m[0] == RAW])
    status, records, err = estimate(capsys, bare)
    assert status == 1 and records == [] and '4 frames skipped' in err
    assert 'none had a CameraInfo: give the camera with --camera-info' in err
    status, records, _ = estimate(capsys, bare, '--camera-info', camera_info_yaml(tmp_path))
    assert status == 0 and len(records) == 4 and all(r['hands'] for r in records)
    # a depth file needs the camera from the options; a bag does not
    frame = tmp_path / 'frame.png'
    assert cv2.imwrite(str(frame), np.full((8, 8), 500, np.uint16))
    status, _, err = estimate(capsys, frame)
    assert status == 2 and '--camera-info' in err
    status, _, err = estimate(capsys, tmp_path / 'missing.mcap')
    assert status == 2          # not a bag (no such file) and no camera for it as a frame
