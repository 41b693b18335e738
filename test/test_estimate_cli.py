"""`hand-pose estimate` with the shipped model on saved frames: the real Kinect frame, rendered
right hands stored as a camera stores them (16-bit PNG in 1/8 mm counts), camera_info YAML,
video following, and bad files or options."""
import json

import cv2
import numpy as np
import pytest
import yaml

from hand_pose_ros.cli import main
from hand_pose_ros.core.camera import uvd_to_xyz
from hand_pose_ros.core.image_rotation import turned_depth, turned_intrinsics, turned_uv
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.synthetic import PoseConfig, SyntheticGenerator
from hand_pose_ros.training.reference import reference_candidates

UPRIGHT = PoseConfig(frontal_prob=1.0, frontal_roll_deg=30.0, frontal_tilt_deg=20.0,
                     distance_mm=(300.0, 500.0))
REAL = 'nyu_test_depth_1_0000001.png'


def estimate(capsys, *args):
    """(exit status, JSON records of stdout, stderr) of `hand-pose estimate ... --json`."""
    status = main(['estimate', *map(str, args), '--json'])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines() if line.strip()], err


@pytest.fixture(scope='module')
def right_hand(tmp_path_factory):
    """A rendered right hand (ICVL camera) saved as 1/8 mm counts, with its true joints."""
    intr = dataset_spec('icvl').intrinsics
    batch = SyntheticGenerator(intr, seed=11, pose=UPRIGHT).sample(1)
    depth_mm = batch.depth_mm.numpy()[0]
    path = tmp_path_factory.mktemp('frames') / 'hand.png'
    assert cv2.imwrite(str(path), np.round(depth_mm * 8).astype(np.uint16))
    return path, batch.xyz.numpy()[0], intr


def intrinsics_args(intr):
    return ['--intrinsics', intr.fx, intr.fy, intr.cx, intr.cy]


def test_a_hand_in_eighth_millimetres_is_read_with_its_unit(capsys, right_hand, tmp_path):
    path, truth, intr = right_hand
    status, [record], _ = estimate(capsys, path, *intrinsics_args(intr), '--depth-unit-mm',
                                   0.125, '--joint-order', 'icvl16')
    assert status == 0 and record['reason'] is None
    [hand] = record['hands']
    assert hand['side'] == 'right'
    error = np.linalg.norm(np.array(hand['xyz_mm']) - truth, axis=-1).mean()
    assert error < 25.0, error                # read as millimetres the hand is 8x too far
    status, [record], _ = estimate(capsys, path, *intrinsics_args(intr), '--draw', tmp_path)
    assert status == 0 and record['hands'] == []
    drawing = cv2.imread(str(tmp_path / 'hand_hands.png'))    # the frame alone, no panel
    assert drawing is not None and drawing.shape == (intr.height, intr.width, 3)
    assert 'depth unit' in record['reason']   # says the frame's depth is out of range
    assert '--depth-unit-mm 1' in record['reason'] and '--far-m 1.5' in record['reason']


def test_camera_info_yaml_and_video_following(capsys, right_hand, tmp_path):
    path, _, intr = right_hand
    info = {'header': {'frame_id': 'depth'}, 'height': intr.height, 'width': intr.width,
            'distortion_model': 'plumb_bob', 'd': [0.0] * 5,
            'k': [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0],
            'p': [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]}
    (tmp_path / 'info.yaml').write_text(yaml.safe_dump(info) + '---\n')
    common = ['--depth-unit-mm', 0.125]
    _, [by_k], _ = estimate(capsys, path, *intrinsics_args(intr), *common)
    status, records, _ = estimate(capsys, path, path, path, '--camera-info',
                                  tmp_path / 'info.yaml', '--video', 30, *common)
    assert status == 0 and len(records) == 3
    assert records[0]['intrinsics'] == by_k['intrinsics']
    np.testing.assert_allclose(records[0]['hands'][0]['xyz_mm'], by_k['hands'][0]['xyz_mm'],
                               atol=0.01)
    assert [r['hands'][0]['followed'] for r in records] == [False, True, True]


def test_bad_files_are_named_and_the_others_estimated(capsys, right_hand, tmp_path):
    path, _, intr = right_hand
    cv2.imwrite(str(tmp_path / 'picture.png'), np.full((240, 320), 128, np.uint8))
    status, records, err = estimate(capsys, tmp_path / 'picture.png', path,
                                    *intrinsics_args(intr), '--depth-unit-mm', 0.125)
    assert status == 1 and 'picture.png: ' in err and '8-bit' in err
    assert [r['file'] for r in records] == [str(path)] and records[0]['hands']
    status, records, err = estimate(capsys, path, '--camera', 'kinect_v1_640x480')
    assert status == 1 and records == [] and 'for 640x480 images, the frame is 320x240' in err
    status, _, err = estimate(capsys, path, *intrinsics_args(intr), '--near-m', 2,
                              '--far-m', 1)
    assert status == 2 and '--near-m' in err
    status, _, err = estimate(capsys, path, '--camera', 'nosuch')
    assert status == 2 and 'kinect_v1_640x480' in err               # the known presets


def test_the_real_right_hand_comes_out_right_with_its_thumb_on_the_thumb(capsys, tmp_path):
    folder = next((base.parent / 'real-depth' for base in reference_candidates()
                   if (base.parent / 'real-depth' / REAL).is_file()), None)
    if folder is None:
        pytest.skip('../shared/reference/real-depth is absent (or set HAND_POSE_REFERENCE_DIR)')
    status, [record], _ = estimate(capsys, folder / REAL, '--packing', 'nyu', '--camera',
                                   'kinect_v1_640x480', '--draw', tmp_path)
    assert status == 0
    [hand] = record['hands']
    names = hand['joints']
    uv = np.array(hand['uv_px'])
    assert hand['side'] == 'right'
    assert uv[names.index('thumb_tip'), 0] > uv[names.index('little_tip'), 0]
    truth = uvd_to_xyz(np.loadtxt(folder / 'nyu_test_0001_gt_uvd.txt').reshape(14, 3),
                       dataset_spec('nyu').intrinsics)
    thumb = np.array(hand['xyz_mm'])[names.index('thumb_tip')]
    assert np.linalg.norm(thumb - truth[8]) < 20.0        # NYU14: the thumb tip is 8
    drawing = cv2.imread(str(tmp_path / 'nyu_test_depth_1_0000001_hands.png'))
    assert drawing is not None and drawing.shape[0] == 480 and drawing.shape[1] > 640


def test_mirrored_frames_are_flipped_back_with_mirrored(capsys, right_hand, tmp_path):
    """A right hand in a frame mirrored left-right upstream reads as a left hand; --mirrored
    flips the frame back and gives the right hand where it really is."""
    path, truth, intr = right_hand
    mirrored = tmp_path / 'mirrored.png'
    assert cv2.imwrite(str(mirrored), cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, ::-1])
    common = [*intrinsics_args(intr), '--depth-unit-mm', 0.125, '--joint-order', 'icvl16']
    _, [as_is], _ = estimate(capsys, mirrored, *common)
    assert [h['side'] for h in as_is['hands']] == ['left']
    status, [back], _ = estimate(capsys, mirrored, *common, '--mirrored')
    assert status == 0
    [hand] = back['hands']
    assert hand['side'] == 'right'
    error = np.linalg.norm(np.array(hand['xyz_mm']) - truth, axis=-1).mean()
    assert error < 25.0, error


def test_an_upside_down_camera_s_frames_with_rotation_deg(capsys, right_hand, tmp_path):
    """A camera mounted upside down (the frame turned 180 degrees, its intrinsics with it):
    --rotation-deg 180 estimates it upright and reports the right hand in that camera's own
    frame and pixels."""
    path, truth, intr = right_hand
    rolled = tmp_path / 'upside_down.png'
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert cv2.imwrite(str(rolled), turned_depth(depth, 180))
    cam = turned_intrinsics(intr, 180)
    common = [*intrinsics_args(cam), '--depth-unit-mm', 0.125, '--joint-order', 'icvl16']
    _, [upright], _ = estimate(capsys, path, *intrinsics_args(intr), *common[5:])
    status, [record], _ = estimate(capsys, rolled, *common, '--rotation-deg', 180)
    assert status == 0
    [hand] = record['hands']
    assert hand['side'] == 'right'
    rolled_truth = truth * np.array([-1.0, -1.0, 1.0])        # x and y point the other way
    error = np.linalg.norm(np.array(hand['xyz_mm']) - rolled_truth, axis=-1).mean()
    assert error < 25.0, error
    np.testing.assert_allclose(hand['uv_px'], turned_uv(np.array(upright['hands'][0]['uv_px']),
                                                        intr, 180), atol=0.02)
