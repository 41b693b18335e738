"""Evaluator: reference figures, metric definitions, uvd text I/O, plots, reference lookup."""
from pathlib import Path

import numpy as np
import pytest
import torch

from hand_pose_ros.core.skeleton import ICVL16
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.training import reference
from hand_pose_ros.training.evaluate import (evaluate_files, evaluate_uvd, evaluate_xyz,
                                             EvalUtil, plot_success, read_uvd, UvdFileError,
                                             write_uvd)

SKIP_REASON = ('reference folder ../shared/reference/hand-pose-eval not found '
               '(set HAND_POSE_REFERENCE_DIR)')
# Published mean errors (mm) of the reference README.
PUBLISHED = [
    ('icvl', 'results/icvl/CVPR18_ICVL_V2V_PoseNet.txt', 6.276),
    ('icvl', 'results/icvl/ICIP17_ICVL_REN_4x6x6.txt', 7.618),
    ('nyu', 'results/nyu/CVPR18_NYU_V2V_PoseNet.txt', 8.419),
    ('nyu', 'results/nyu/ICCVW17_NYU_DeepPrior++.txt', 12.238),
    ('nyu', 'results/nyu/ICIP17_NYU_REN_4x6x6.txt', 13.393),
]


def reference_or_skip() -> Path:
    """The reference folder, or skip the test with the reason."""
    found = reference.reference_dir()
    if found is None:
        pytest.skip(SKIP_REASON)
    return found


def random_hands(n: int = 20, seed: int = 0) -> np.ndarray:
    """(n, 16, 3) plausible xyz joints (whole mm, so offsets are exact) in front of the camera."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0.0, 40.0, (n, 16, 3))) + np.array([0.0, 0.0, 400.0])


@pytest.mark.reference
@pytest.mark.parametrize('dataset, rel, mean_mm', PUBLISHED)
def test_published_mean_errors_reproduce(dataset, rel, mean_mm):
    ref = reference_or_skip()
    spec = dataset_spec(dataset)
    result = evaluate_files(ref / rel, reference.gt_file(dataset), spec.intrinsics,
                            spec.joint_set)
    assert abs(result.mean_mm - mean_mm) < 5e-4
    assert result.frames == {'icvl': 1596, 'nyu': 8252}[dataset]


@pytest.mark.reference
@pytest.mark.parametrize('dataset, columns', [('icvl', 48), ('nyu', 42)])
def test_reference_column_counts(dataset, columns):
    reference_or_skip()
    assert dataset_spec(dataset).joint_set.num_joints * 3 == columns
    gt = read_uvd(reference.gt_file(dataset))
    assert gt.shape[1:] == (columns // 3, 3)


@pytest.mark.reference
def test_icvl_intrinsics_matter_in_the_second_decimal():
    ref = reference_or_skip()
    spec = dataset_spec('icvl')
    assert (spec.intrinsics.fx, spec.intrinsics.fy) == (241.42, 241.42)
    pred = read_uvd(ref / PUBLISHED[0][1], 16)
    gt = read_uvd(reference.gt_file('icvl'), 16)
    other = type(spec.intrinsics)(240.99, 240.96, 160.0, 120.0, 320, 240)
    assert abs(evaluate_uvd(pred, gt, other, ICVL16).mean_mm - 6.284) < 5e-4


def test_identical_predictions_have_zero_error():
    gt = random_hands()
    r = evaluate_xyz(gt.copy(), gt, ICVL16)
    assert r.mean_mm == 0.0 and r.median_mm == 0.0 and r.auc == 1.0
    assert r.success[0] == 1.0 and r.success_at(0) == 1.0
    assert np.all(r.per_joint_mm == 0.0)


def test_known_offset_gives_known_error():
    gt = random_hands()
    r = evaluate_xyz(gt + np.array([3.0, 4.0, 0.0]), gt, ICVL16)       # 5 mm everywhere
    assert r.mean_mm == pytest.approx(5.0) and r.median_mm == pytest.approx(5.0)
    np.testing.assert_allclose(r.per_joint_mm, 5.0)
    assert r.success_at(4.9) == 0.0 and r.success_at(5.0) == 1.0
    assert list(r.success[:5]) == [0.0] * 5 and np.all(r.success[5:] == 1.0)
    assert r.auc == pytest.approx(75.5 / 80)           # trapezoid: half a step at 4..5 mm


def test_success_uses_the_maximum_joint_error():
    gt = random_hands(4)
    pred = gt.copy()
    pred[0, 3] += np.array([0.0, 0.0, 20.0])           # one joint of one frame is 20 mm off
    r = evaluate_xyz(pred, gt, ICVL16)
    assert r.mean_mm == pytest.approx(20.0 / (4 * 16))
    assert r.success_at(10) == 0.75 and r.success_at(20) == 1.0
    assert r.per_joint_mm[3] == pytest.approx(5.0)


def test_success_curve_is_monotone_and_in_range():
    gt = random_hands(50)
    pred = gt + np.random.default_rng(1).normal(0.0, 12.0, gt.shape)
    r = evaluate_xyz(pred, gt, ICVL16)
    assert np.all(np.diff(r.success) >= 0)
    assert 0.0 <= r.success[0] <= r.success[-1] <= 1.0 and 0.0 < r.auc < 1.0
    assert list(r.thresholds_mm) == list(range(81))


def test_uvd_evaluation_converts_with_intrinsics(icvl):
    gt = np.tile(np.array([icvl.intrinsics.cx, icvl.intrinsics.cy, 400.0]), (2, 16, 1))
    pred = gt + np.array([0.0, 0.0, 7.0])                 # on the optical axis: 7 mm in depth
    assert evaluate_uvd(pred, gt, icvl.intrinsics, ICVL16).mean_mm == pytest.approx(7.0)


def test_evalutil_accumulates_frames_and_tensors():
    gt = random_hands(10)
    pred = gt + np.random.default_rng(2).normal(0.0, 5.0, gt.shape)
    util = EvalUtil(ICVL16)
    for k in range(10):
        util.feed(torch.from_numpy(pred[k]), torch.from_numpy(gt[k]))     # (J, 3) frames
    assert util.frames == 10
    whole = evaluate_xyz(pred, gt, ICVL16)
    assert util.result().mean_mm == pytest.approx(whole.mean_mm, abs=1e-12)
    np.testing.assert_allclose(util.result().success, whole.success)
    util.reset()
    with pytest.raises(ValueError, match='no frames'):
        util.result()
    with pytest.raises(ValueError, match='shape'):
        util.feed(np.zeros((2, 16, 3)), np.zeros((2, 15, 3)))
    with pytest.raises(ValueError, match=r'\(N, 16, 3\)'):
        util.feed(np.zeros((2, 14, 3)), np.zeros((2, 14, 3)))


def test_to_dict_keys():
    d = evaluate_xyz(random_hands(3), random_hands(3, seed=1), ICVL16).to_dict()
    assert {'frames', 'mean_mm', 'median_mm', 'auc', 'per_joint_mm', 'success'} <= set(d)
    assert list(d['per_joint_mm']) == list(ICVL16.joint_names)
    assert '10' in d['success'] and '80' in d['success'] and len(d['success']) == 81


def test_uvd_round_trip(tmp_path, icvl):
    uvd = np.random.default_rng(3).uniform(50.0, 300.0, (5, 16, 3))
    path = write_uvd(tmp_path / 'pred.txt', uvd)
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and len(lines[0].split()) == 48
    np.testing.assert_allclose(read_uvd(path, 16), uvd, atol=1e-4)
    path.write_text(path.read_text() + '\n\n')            # trailing blank lines are fine
    assert read_uvd(path).shape == (5, 16, 3)


@pytest.mark.parametrize('content, message', [
    ('1 2 3 4 5 6\n', 'expected 48 values'),
    ('1 2 3\n', 'expected 48 values'),
    (' '.join(['1'] * 47) + ' x\n', "non-numeric value 'x' in column 48"),
    (' '.join(['1'] * 47) + ' nan\n', 'non-finite'),
    (' '.join(['1'] * 47) + ' inf\n', 'non-finite'),
    ('', 'empty file'),
    ('\n\n', 'empty file'),
    (' '.join(['1'] * 48) + '\n\n' + ' '.join(['1'] * 48) + '\n', ':2: empty line'),
])
def test_bad_uvd_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / 'bad.txt'
    path.write_text(content)
    with pytest.raises(UvdFileError, match=message) as info:
        read_uvd(path, 16)
    assert str(path) in str(info.value)


def test_missing_file_and_inconsistent_lines(tmp_path):
    with pytest.raises(UvdFileError, match='file not found'):
        read_uvd(tmp_path / 'nope.txt')
    path = tmp_path / 'ragged.txt'
    path.write_text('1 2 3 4 5 6\n1 2 3\n')
    with pytest.raises(UvdFileError, match=r'ragged.txt:2: expected 6 values'):
        read_uvd(path)


def test_frame_count_must_match(tmp_path, icvl):
    write_uvd(tmp_path / 'gt.txt', np.full((3, 16, 3), 200.0))
    write_uvd(tmp_path / 'pred.txt', np.full((2, 16, 3), 200.0))
    with pytest.raises(UvdFileError, match='2 frames, but the ground truth'):
        evaluate_files(tmp_path / 'pred.txt', tmp_path / 'gt.txt', icvl.intrinsics, ICVL16)


def test_plot_writes_png(tmp_path):
    gt = random_hands(30)
    rng = np.random.default_rng(4)
    curves = [(f'noise {s} mm', evaluate_xyz(gt + rng.normal(0, s, gt.shape), gt, ICVL16))
              for s in (4, 8)]
    out = plot_success(curves, tmp_path / 'curves.png', title='test')
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_reference_lookup(tmp_path, monkeypatch):
    folder = tmp_path / 'ref'
    (folder / 'groundtruth' / 'icvl').mkdir(parents=True)
    gt = folder / 'groundtruth' / 'icvl' / 'icvl_test_groundtruth_label.txt'
    gt.write_text(' '.join(['1'] * 48) + '\n')
    monkeypatch.setenv(reference.ENV_VAR, str(folder))
    assert reference.reference_dir() == folder
    assert reference.gt_file('icvl') == gt
    monkeypatch.setattr(reference, 'reference_candidates', lambda: [tmp_path / 'missing'])
    assert reference.reference_dir() is None
    with pytest.raises(FileNotFoundError, match='HAND_POSE_REFERENCE_DIR'):
        reference.gt_file('icvl')
    with pytest.raises(KeyError, match='msra'):
        reference.gt_file('msra')
