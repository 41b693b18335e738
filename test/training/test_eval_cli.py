"""`hand-pose eval`: table, JSON lines, plot, and exit status 2 with one message on bad input."""
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from hand_pose_ros.cli import main
from hand_pose_ros.training import reference
from hand_pose_ros.training.evaluate import write_uvd
from hand_pose_ros.training.scene_eval import FACINGS, FLAT_BINS, MISS_REASONS

SKIP_REASON = ('reference folder ../shared/reference/hand-pose-eval not found '
               '(set HAND_POSE_REFERENCE_DIR)')


@pytest.fixture
def files(tmp_path):
    """A 4-frame ICVL ground truth and two predictions: exact, and 10 mm deeper."""
    rng = np.random.default_rng(0)
    gt = np.concatenate([rng.uniform(100, 220, (4, 16, 2)), rng.uniform(300, 500, (4, 16, 1))],
                        axis=-1)
    paths = {'gt': write_uvd(tmp_path / 'gt.txt', gt),
             'exact': write_uvd(tmp_path / 'exact.txt', gt),
             'deeper': write_uvd(tmp_path / 'deeper.txt', gt + np.array([0.0, 0.0, 10.0]))}
    return {k: str(v) for k, v in paths.items()}


def run_cli(capsys, *argv):
    """(exit status, stdout, stderr) of the CLI run in this process."""
    status = main(['eval', *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_json_lines_have_the_keys(capsys, files):
    status, out, err = run_cli(capsys, files['exact'], files['deeper'], '--dataset', 'icvl',
                               '--gt', files['gt'], '--json')
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 2
    for rec in records:
        assert {'file', 'dataset', 'mean_mm', 'median_mm', 'auc', 'per_joint_mm', 'success',
                'frames', 'intrinsics'} <= set(rec)
        assert rec['frames'] == 4 and rec['dataset'] == 'icvl'
        assert rec['intrinsics']['fx'] == 241.42 and len(rec['per_joint_mm']) == 16
        assert set(rec['success']) == {str(t) for t in range(81)}
    exact, deeper = records
    assert exact['mean_mm'] == 0.0 and exact['success']['0'] == 1.0
    assert exact['file'] == files['exact']
    # d + 10 mm at fixed (u, v) moves each joint by 10 * |(x, y, z)| / z mm: more than 10.
    assert deeper['mean_mm'] > 10.0 and deeper['success']['10'] == 0.0


def test_table_names_files_and_intrinsics(capsys, files):
    status, out, _ = run_cli(capsys, files['exact'], '--dataset', 'icvl', '--gt', files['gt'])
    assert status == 0
    assert 'fx=241.42 fy=241.42 cx=160 cy=120 (320x240)' in out
    assert files['exact'] in out and 'mean mm' in out and '<=40 mm' in out
    assert '0.000' in out


def test_plot_is_written(capsys, files, tmp_path):
    out_png = tmp_path / 'curves.png'
    status, _, err = run_cli(capsys, files['exact'], files['deeper'], '--dataset', 'icvl',
                             '--gt', files['gt'], '--plot', str(out_png))
    assert status == 0, err
    assert out_png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def _bad(tmp_path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


@pytest.mark.parametrize('name, content, message', [
    ('columns.txt', '1 2 3\n' * 4, ':1: expected 48 values'),
    ('frames.txt', (' '.join(['100'] * 48) + '\n') * 3, '3 frames, but the ground truth'),
    ('text.txt', (' '.join(['100'] * 47) + ' abc\n') * 4, "non-numeric value 'abc'"),
    ('nan.txt', (' '.join(['100'] * 47) + ' nan\n') * 4, 'non-finite value'),
    ('inf.txt', (' '.join(['100'] * 47) + ' -inf\n') * 4, 'non-finite value'),
    ('empty.txt', '', 'empty file'),
])
def test_bad_files_exit_2_with_one_message(capsys, files, tmp_path, name, content, message):
    bad = _bad(tmp_path, name, content)
    status, out, err = run_cli(capsys, bad, '--dataset', 'icvl', '--gt', files['gt'])
    assert status == 2 and out == ''
    assert message in err and bad in err and len(err.strip().splitlines()) == 1


def test_missing_prediction_and_gt_files(capsys, files, tmp_path):
    status, _, err = run_cli(capsys, str(tmp_path / 'nope.txt'), '--dataset', 'icvl',
                             '--gt', files['gt'])
    assert status == 2 and 'nope.txt: file not found' in err
    status, _, err = run_cli(capsys, files['exact'], '--dataset', 'icvl',
                             '--gt', str(tmp_path / 'nogt.txt'))
    assert status == 2 and 'nogt.txt: file not found' in err


def test_no_reference_and_no_gt(capsys, files, tmp_path, monkeypatch):
    monkeypatch.setattr(reference, 'reference_candidates', lambda: [tmp_path / 'missing'])
    status, _, err = run_cli(capsys, files['exact'], '--dataset', 'icvl')
    assert status == 2 and 'reference ground truth for icvl not found' in err and '--gt' in err


def test_nothing_to_evaluate(capsys):
    status, _, err = run_cli(capsys, '--dataset', 'icvl')
    assert status == 2 and 'PRED' in err


@pytest.mark.reference
def test_reference_figures_through_the_cli(capsys):
    ref = reference.reference_dir()
    if ref is None:
        pytest.skip(SKIP_REASON)
    status, out, _ = run_cli(capsys, str(ref / 'results/icvl/CVPR18_ICVL_V2V_PoseNet.txt'),
                             str(ref / 'results/icvl/ICIP17_ICVL_REN_4x6x6.txt'),
                             '--dataset', 'icvl', '--json')
    assert status == 0
    means = [round(json.loads(line)['mean_mm'], 3) for line in out.splitlines()]
    assert means == [6.276, 7.618]


def test_console_script(files, tmp_path):
    script = Path(sys.executable).with_name('hand-pose')
    if not script.exists():
        pytest.skip(f'console script not installed next to {sys.executable} (pip install -e .)')
    bad = _bad(tmp_path, 'bad.txt', '1 2 x\n')
    done = subprocess.run([str(script), 'eval', files['exact'], bad, '--dataset', 'icvl',
                           '--gt', files['gt']], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    assert done.stderr.strip() == (f'hand-pose eval: {bad}:1: expected 48 values '
                                   '(16 joints x u v d), found 3')


# ---------------------------------------------------------------- render mode
def open_hand_uvd(distances_mm) -> np.ndarray:
    """(n, 16, 3) ICVL16 uvd of an open right hand, palm facing the camera, at each distance."""
    from hand_pose_ros.core.camera import xyz_to_uvd
    from hand_pose_ros.core.specs import dataset_spec

    roots = {'thumb': (-45.0, 10.0), 'index': (-22.0, -35.0), 'middle': (0.0, -40.0),
             'ring': (20.0, -35.0), 'little': (38.0, -25.0)}
    tips = {'thumb': (-40.0, -25.0), 'index': (-8.0, -45.0), 'middle': (0.0, -50.0),
            'ring': (8.0, -45.0), 'little': (15.0, -35.0)}
    frames = []
    for z in distances_mm:
        joints = [(0.0, 0.0, z)]
        for finger in ('thumb', 'index', 'middle', 'ring', 'little'):
            (rx, ry), (dx, dy) = roots[finger], tips[finger]
            joints += [(rx + dx * f, ry + dy * f, z - 5.0 * f) for f in (0.0, 0.5, 1.0)]
        frames.append(joints)
    return xyz_to_uvd(np.array(frames), dataset_spec('icvl').intrinsics)


@pytest.fixture
def tiny_model(tmp_path, tiny_config):
    """A random-weight pose checkpoint (16 channels, one stack, 64x64 input)."""
    from hand_pose_ros.core.checkpoint import save_checkpoint
    from hand_pose_ros.core.nets.pose_net import build_pose_net
    path = tmp_path / 'tiny.pt'
    save_checkpoint(path, build_pose_net(tiny_config), tiny_config)
    return str(path)


@pytest.mark.slow
def test_render_mode_runs_end_to_end(capsys, tmp_path, tiny_model):
    pytest.importorskip('hand_pose_ros.synthetic', reason='synthetic renderer not available')
    gt = write_uvd(tmp_path / 'gt.txt', open_hand_uvd([400.0, 3000.0, 450.0]))
    saved, png = tmp_path / 'pred.txt', tmp_path / 'render.png'
    status, out, err = run_cli(capsys, '--render', str(gt), '--dataset', 'icvl', '--model',
                               tiny_model, '--localizer', 'none', '--batch-size', '2', '--json',
                               '--precision', 'fp32', '--optimize', 'none',
                               '--save-predictions', str(saved), '--plot', str(png))
    assert status == 0, err
    rec = json.loads(out)
    assert {'file', 'dataset', 'mean_mm', 'median_mm', 'auc', 'per_joint_mm', 'success',
            'frames', 'intrinsics', 'failures', 'failure_scoring', 'model', 'seed'} <= set(rec)
    assert rec['frames'] == 3 and rec['file'] == f'render:{gt}'
    assert rec['failures'] >= 1            # the hand at 3 m is beyond the 1.5 m search range
    assert np.isfinite(rec['mean_mm']) and rec['localizer'] is None
    assert png.read_bytes()[:4] == b'\x89PNG'
    # the saved predictions score the same as the render run did
    status, out, err = run_cli(capsys, str(saved), '--dataset', 'icvl', '--gt', str(gt),
                               '--json')
    assert status == 0, err
    assert json.loads(out)['mean_mm'] == pytest.approx(rec['mean_mm'], abs=1e-2)


@pytest.mark.slow
def test_render_mode_stride_table_and_bad_model(capsys, tmp_path, tiny_model):
    pytest.importorskip('hand_pose_ros.synthetic', reason='synthetic renderer not available')
    gt = write_uvd(tmp_path / 'gt.txt', open_hand_uvd([350.0, 400.0, 450.0]))
    status, out, err = run_cli(capsys, '--render', str(gt), '--dataset', 'icvl', '--model',
                               tiny_model, '--localizer', 'none', '--stride', '2',
                               '--precision', 'fp32', '--optimize', 'none')
    assert status == 0, err
    assert 'render:gt.txt' in out and 'no hand found in' in out and ' 2 ' in out
    status, _, err = run_cli(capsys, '--render', str(gt), '--dataset', 'icvl', '--model',
                             str(tmp_path / 'missing.pt'))
    assert status == 2 and 'missing.pt' in err and len(err.strip().splitlines()) == 1
    status, _, err = run_cli(capsys, '--render', str(gt), '--dataset', 'nyu')
    assert status == 2 and 'needs ICVL16 ground truth' in err


@pytest.mark.slow
def test_render_mode_true_centre_skips_finding_the_hand(capsys, tmp_path, tiny_model):
    """--center truth crops at the true centre: even the hand at 3 m (beyond the search
    range, a failure with estimated centres) is estimated, and the crop sits on the hand."""
    pytest.importorskip('hand_pose_ros.synthetic', reason='synthetic renderer not available')
    gt = write_uvd(tmp_path / 'gt.txt', open_hand_uvd([400.0, 3000.0]))
    args = ['--render', str(gt), '--dataset', 'icvl', '--model', tiny_model, '--localizer',
            'none', '--precision', 'fp32', '--optimize', 'none', '--json']
    status, out, err = run_cli(capsys, *args, '--center', 'truth')
    assert status == 0, err
    rec = json.loads(out)
    assert rec['center'] == 'truth' and rec['failures'] == 0
    # random weights put joints anywhere in the crop, but the crop is on the hand: every
    # joint lies within the 250 mm cube around its true centre
    assert rec['mean_mm'] < 250.0
    status, out, err = run_cli(capsys, *args)
    assert status == 0 and json.loads(out)['failures'] == 1, err
    status, _, err = run_cli(capsys, '--synthetic', '2', '--dataset', 'icvl', '--center',
                             'truth')
    assert status == 2 and 'only with --render' in err


@pytest.mark.slow
def test_synthetic_mode_scores_the_shipped_model_on_both_hands(capsys):
    pytest.importorskip('hand_pose_ros.synthetic', reason='synthetic renderer not available')
    status, out, err = run_cli(capsys, '--synthetic', '16', '--hands', 'both', '--dataset',
                               'icvl', '--precision', 'fp32', '--json')
    assert status == 0, err
    rec = json.loads(out)
    assert rec['frames'] == 16 and rec['hands'] == 'both' and rec['failures'] == 0
    assert rec['localizer_passes'] >= 1 and rec['file'] == 'synthetic:16'
    # the shipped model on 1,024 such hands: 15.5 mm (README, Evaluation); hands of the wrong
    # side score about 58 mm
    assert rec['mean_mm'] < 35.0
    status, _, err = run_cli(capsys, '--synthetic', '0', '--dataset', 'icvl')
    assert status == 2 and '--synthetic and --batch-size must be >= 1' in err


def test_scenes_mode_reports_every_viewpoint_and_hand_free_frames(capsys):
    """`--scenes N`: one row per viewpoint and the hand-free frames, with the counts it was
    asked for; the nearest blob on hand-free frames finds something (a false hand)."""
    code, out, err = run_cli(capsys, '--scenes', '2', '--batch-size', '2', '--json',
                             '--detector', 'nearest', '--handedness', 'right',
                             '--precision', 'fp32')
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    rows = record['scenes']
    assert list(rows) == ['third_person', 'egocentric', 'robot', 'hand_free']
    assert all(r['frames'] == 2 for r in rows.values())
    assert rows['hand_free']['hands'] == 0 and rows['third_person']['hands'] >= 2
    assert rows['hand_free']['false_per_frame'] > 0          # the nearest blob always "finds"
    assert (record['detector'], record['handedness']) == ('nearest', 'right')
    assert record['min_confidence'] == 0.0
    # --min-confidence: what the node would not publish is not counted (none reaches 1.0)
    code, out, err = run_cli(capsys, '--scenes', '2', '--batch-size', '2', '--json',
                             '--detector', 'nearest', '--handedness', 'right',
                             '--precision', 'fp32', '--min-confidence', '1.0')
    assert code == 0, err
    gated = json.loads(out.strip().splitlines()[-1])
    assert gated['min_confidence'] == 1.0
    assert gated['scenes']['hand_free']['false_per_frame'] == 0.0
    assert gated['scenes']['third_person']['found'] == 0.0
    code, out, err = run_cli(capsys, '--scenes', '0')
    assert code == 2 and '--scenes must be >= 1' in err
    code, out, err = run_cli(capsys, '--scenes', '2', '--min-confidence', '1.5')
    assert code == 2 and '--min-confidence in [0, 1]' in err


def test_scenes_seen_by_a_rolled_camera_and_turned_back(capsys):
    """`--turn-scenes DEG` renders the scenes as a camera rolled about its optical axis sees
    them, labels turned with them; `--rotation-deg` (the node's input_rotation_deg) turning
    them back scores exactly as the upright scenes."""
    common = ['--scenes', '3', '--batch-size', '3', '--json', '--seed', '5']
    rows = {}
    back = ['--turn-scenes', '90', '--rotation-deg', '270']
    for name, extra in (('upright', []), ('back', back)):
        code, out, err = run_cli(capsys, *common, *extra)
        assert code == 0, err
        rows[name] = json.loads(out.strip().splitlines()[-1])
    assert (rows['back']['turn_scenes_deg'], rows['back']['rotation_deg']) == (90, 270)
    assert rows['back']['scenes'] == rows['upright']['scenes']
    assert rows['upright']['scenes']['third_person']['found'] > 0
    code, _, err = run_cli(capsys, '--scenes', '2', '--turn-scenes', '180', '--misses')
    assert code == 2 and 'not with --turn-scenes' in err


def test_scenes_mode_takes_a_side_classifier_file(capsys, tmp_path):
    """`--side-model PATH`: that left/right classifier tells the sides (named in the JSON and
    the header); 'none' leaves them to the pose network; a missing file is a clear error."""
    from hand_pose_ros.core.checkpoint import save_checkpoint
    from hand_pose_ros.core.config import SideConfig
    from test.conftest import constant_side_classifier
    net = constant_side_classifier(SideConfig(width=4, input_size=32, cube_mm=600.0), 50.0)
    mine = tmp_path / 'always_left.pt'
    save_checkpoint(mine, net, net.config, {'steps': 0})
    code, out, err = run_cli(capsys, '--scenes', '2', '--batch-size', '2', '--json',
                             '--side-model', str(mine), '--precision', 'fp32',
                             '--handedness', 'auto')
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record['side_model'] == str(mine)
    code, out, err = run_cli(capsys, '--scenes', '2', '--batch-size', '2', '--json',
                             '--side-model', 'none', '--precision', 'fp32')
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])['side_model'] == ''
    code, out, err = run_cli(capsys, '--scenes', '1', '--batch-size', '1',
                             '--side-model', str(mine), '--precision', 'fp32')
    assert code == 0 and f'sides told by {mine}' in out, err
    code, out, err = run_cli(capsys, '--scenes', '1', '--side-model', str(tmp_path / 'no.pt'))
    assert code == 2 and 'no.pt' in err


def test_scenes_mode_takes_a_detector_file_and_a_threshold(capsys, tmp_path):
    """`--detector-model PATH --detection-threshold T --weak-threshold W`: the detector a user
    trained is the one scored (reported in the JSON); thresholds no peak reaches find no hand;
    a missing file is a clear error."""
    from hand_pose_ros.core.resources import resolve_detector_file
    shipped = resolve_detector_file()
    if shipped is None:
        pytest.skip('no shipped hand detector')
    mine = tmp_path / 'my_detector.pt'
    mine.write_bytes(shipped.read_bytes())
    code, out, err = run_cli(capsys, '--scenes', '2', '--batch-size', '2', '--json',
                             '--detector-model', str(mine), '--detection-threshold', '1.0',
                             '--weak-threshold', '1.0', '--precision', 'fp32', '--misses')
    assert code == 0, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record['detector_model'] == str(mine) and record['detection_threshold'] == 1.0
    assert record['weak_detection_threshold'] == 1.0
    assert record['scenes']['third_person']['found'] == 0.0
    assert record['scenes']['hand_free']['false_per_frame'] == 0.0
    # --misses: every seen hand missed, each for want of a peak at the (unreachable) weak
    # threshold: none near it at all, or one under it
    for name in ('third_person', 'egocentric', 'robot'):
        row = record['scenes'][name]
        why = row['misses']
        assert sum(why[r] for r in MISS_REASONS) == row['hands'] >= 1
        assert why['no_peak'] + why['below_weak'] == row['hands']
        assert 0.25 <= why['visible_median'] <= 1.0           # seen: at least SEEN_FRACTION
        assert all(row['sides'][k] == [0, 0] for k in FLAT_BINS + FACINGS)   # none found
    code, out, err = run_cli(capsys, '--scenes', '2', '--batch-size', '2', '--misses',
                             '--detector-model', str(mine), '--detection-threshold', '1.0',
                             '--weak-threshold', '1.0', '--precision', 'fp32')
    assert code == 0, err
    assert 'Why the missed hands were missed' in out and '| peak < weak |' in out
    assert 'told the wrong side' in out and '| flatness < 5 mm |' in out
    code, out, err = run_cli(capsys, '--scenes', '2', '--detector-model',
                             str(tmp_path / 'absent.pt'))
    assert code == 2 and 'absent.pt' in err
