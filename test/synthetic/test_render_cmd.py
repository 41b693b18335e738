"""`hand-pose render`: PNGs + ICVL-style labels, read back; bad ground truth exits 2."""
import cv2
import numpy as np
import pytest
import torch

from hand_pose_ros.cli import main
from hand_pose_ros.core.camera import xyz_to_uvd
from hand_pose_ros.core.skeleton import FROM_HAND22
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.synthetic import SyntheticGenerator


def _read_labels(path):
    rows = [line.split() for line in path.read_text().splitlines()]
    return [r[0] for r in rows], np.array([[float(x) for x in r[1:]] for r in rows])


def test_random_frames_are_written_and_read_back(tmp_path):
    assert main(['render', '--random', '3', '--out', str(tmp_path), '--seed', '1']) == 0
    names, labels = _read_labels(tmp_path / 'labels.txt')
    assert names == ['Depth/000000.png', 'Depth/000001.png', 'Depth/000002.png']
    assert labels.shape == (3, 48)
    for name in names:
        png = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16 and png.shape == (240, 320) and png.max() > 0
    assert (tmp_path / 'render.yaml').is_file()


def test_gt_file_renders_and_labels_round_trip(tmp_path):
    intr = dataset_spec('icvl').intrinsics
    hand22 = SyntheticGenerator(intr, seed=3).sample_hand22(3)
    uvd = xyz_to_uvd(hand22[:, list(FROM_HAND22['icvl16'])], intr).reshape(3, 48).numpy()
    gt = tmp_path / 'gt.txt'
    gt.write_text('\n'.join(' '.join(f'{x:.3f}' for x in row) for row in uvd) + '\n')
    out = tmp_path / 'out'
    assert main(['render', '--gt', str(gt), '--dataset', 'icvl', '--out', str(out),
                 '--stride', '2', '--no-background']) == 0
    names, labels = _read_labels(out / 'labels.txt')
    assert names == ['Depth/000000.png', 'Depth/000002.png']
    np.testing.assert_allclose(labels, uvd[[0, 2]], atol=0.01)
    png = cv2.imread(str(out / names[1]), cv2.IMREAD_UNCHANGED)
    u, v, d = (int(round(x)) for x in labels[1, :3])               # palm: the hand is there
    assert png.dtype == np.uint16 and abs(int(png[v - 2:v + 3, u - 2:u + 3].max()) - d) < 30


@pytest.mark.parametrize('content, message', [
    ('1 2 3\n', 'expected 48 numbers'),
    (' '.join(['1'] * 47 + ['x']) + '\n', "found 'x'"),
    ('', 'no frames'),
])
def test_bad_gt_file_exits_2_with_one_message(tmp_path, capsys, content, message):
    gt = tmp_path / 'bad.txt'
    gt.write_text(content)
    assert main(['render', '--gt', str(gt), '--out', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err and len(err.strip().splitlines()) == 1


def test_help_describes_the_layout(capsys):
    with pytest.raises(SystemExit) as done:
        main(['render', '--help'])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert '--gt' in out and 'labels.txt' in out and 'uint16' in out


def test_render_joints_output_is_torch():
    depth = SyntheticGenerator(dataset_spec('icvl').intrinsics.scaled(0.25)).sample(1).depth_mm
    assert isinstance(depth, torch.Tensor)
