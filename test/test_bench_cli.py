"""`hand-pose bench` and `hand-pose export` on tiny checkpoints: figures present, no timing."""
import json
import shutil

import numpy as np
import pytest
import torch

from hand_pose_ros.benchmark import dds, stages
from hand_pose_ros.benchmark.models import build_estimator, model_files, random_networks
from hand_pose_ros.cli import main
from hand_pose_ros.core.checkpoint import save_checkpoint
from hand_pose_ros.core.config import SideConfig
from hand_pose_ros.core.estimator import HandPoseEstimator
from hand_pose_ros.core.exported import onnxruntime_available
from hand_pose_ros.core.nets.localizer import Localizer
from hand_pose_ros.core.nets.pose_net import PoseNet
from hand_pose_ros.core.nets.side import SideClassifier
from hand_pose_ros.core.resources import find_resource

QUICK = ['--frames', '2', '--runs', '1', '--warmup', '0']


@pytest.fixture
def tiny_ckpt(tmp_path, tiny_config, tiny_localizer_config):
    """A random tiny pose net with its localizer beside it (``<stem>_localizer.pt``)."""
    torch.manual_seed(0)
    path = tmp_path / 'tiny.pt'
    save_checkpoint(path, PoseNet(tiny_config), tiny_config)
    save_checkpoint(tmp_path / 'tiny_localizer.pt', Localizer(tiny_localizer_config),
                    tiny_localizer_config)
    return path


@pytest.fixture
def tiny_detector(tiny_ckpt):
    """The shipped hand detector beside the tiny model (``<stem>_detector.pt``): its peaks are
    the rendered hands, so a followed hand is a hand (a random detector's depth is anywhere,
    and its crops miss the hand as chance has it)."""
    path = tiny_ckpt.with_name('tiny_detector.pt')
    shutil.copyfile(find_resource('models/compact_detector.pt'), path)
    return path


def _bench_json(capsys, *argv) -> dict:
    assert main(['bench', '--json'] + QUICK + list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_json_has_every_stage_and_the_model_size(tiny_ckpt, capsys):
    r = _bench_json(capsys, '--model', str(tiny_ckpt), '--no-node', '--precision', 'fp32',
                    '--detector', 'none')
    assert set(r['stages_ms']) == set(stages.STAGES)
    for key in ('com', 'localizer', 'crop', 'pose_net', 'decode'):
        assert r['stages_ms'][key] > 0
    assert r['estimator_ms'] > 0 and r['estimator_fps'] == pytest.approx(1e3 / r['estimator_ms'])
    assert r['networks']['pose']['gflops'] > 0 and r['networks']['localizer']['params'] > 0
    assert r['gflops'] == pytest.approx(r['networks']['pose']['gflops']
                                        + r['networks']['localizer']['gflops'])
    assert (r['precision'], r['backend'], r['device']) == ('fp32', 'torch', 'cpu')
    assert r['node'] == {'status': 'skipped', 'reason': '--no-node'}
    assert r['model_files']['pose'] == str(tiny_ckpt)
    for key in ('image_conversion', 'message_building'):   # null only with a reason
        assert r['stages_ms'][key] is not None or key in r['notes']


def test_bench_text_names_every_stage(tiny_ckpt, capsys):
    assert main(['bench', '--model', str(tiny_ckpt), '--no-node', '--localizer', 'none',
                 '--detector', 'none'] + QUICK) == 0
    out = capsys.readouterr().out
    for key in stages.STAGES:
        assert key in out
    assert 'estimator per frame' in out and 'node end to end      skipped' in out
    assert 'hands per frame      skipped: no hand detector network' in out


def test_bench_times_the_detector_and_the_pipeline_for_1_and_2_hands(tiny_detector, capsys):
    """Catches a report without the detector stage, or a 2-hand row that estimates fewer
    hands (a random detector's peaks are not hands unless the count is pinned)."""
    r = _bench_json(capsys, '--model', str(tiny_detector.with_name('tiny.pt')), '--no-node',
                    '--precision', 'fp32')
    assert r['finder'] == 'learned' and r['model_files']['detector'] == str(tiny_detector)
    assert r['stages_ms']['detector'] > 0 and r['stages_ms']['com'] is None
    assert 'com' in r['notes']
    assert r['networks']['detector']['input_size'] == [128, 160]   # ICVL 320x240, stride 2
    steal = r['cpu']['steal_share']               # null only where /proc/stat is unreadable
    assert steal is None or 0.0 <= steal <= 1.0
    hands = r['hands']
    assert hands['status'] == 'ok' and hands['frame_size'] == [640, 480]
    assert [row['hands'] for row in hands['rows']] == [1, 2]
    for row in hands['rows']:
        assert row['estimated_hands'] == row['hands']
        assert row['stages_ms']['detector'] > 0 and row['stages_ms']['pose_net'] > 0
        assert row['pipeline_ms'] >= row['estimator_ms'] > 0
    # one hand followed over video with the node's left/right memory ('auto' handedness):
    # what a camera stream costs, and the value the goal reads
    followed = hands['followed']
    # 2 s of stream; a followed hand may be lost on a frame (random weights drift off the
    # hand) and found again by the detector on the next
    assert followed['frames'] >= 60 and followed['found'] >= 0.9 * followed['frames']
    assert 0.0 <= followed['one_way_share'] <= 1.0
    assert 0.0 < followed['detector_share'] <= 1.0    # the tracker's first frame at least
    assert followed['pipeline_ms'] >= followed['estimator_ms'] > 0
    assert followed['stages_ms']['detector'] > 0 and followed['stages_ms']['pose_net'] > 0
    goal = r['goals']['one_hand_pipeline_ms']
    assert goal['value'] == followed['pipeline_ms']
    assert goal['met'] == (goal['value'] <= goal['limit'])
    assert r['goals']['node_ratio'] == {'limit': 1.15, 'value': None, 'met': None}


def test_bench_text_has_the_hand_rows_and_the_goals(tiny_ckpt, capsys):
    assert main(['bench', '--model', str(tiny_ckpt), '--no-node', '--detector', 'random']
                + QUICK) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith('hands    detector'))
    assert [ln.split()[0] for ln in lines[header + 1:header + 3]] == ['1', '2']
    assert any(ln.startswith('goal one_hand_pipeline_ms') for ln in lines)


def test_the_node_gets_the_benchmarked_detector(tiny_ckpt, tmp_path):
    """Catches a node that loads the model without the bench's detector (random weights or
    a file not beside the model) or without the left/right classifier beside the model, and
    so runs another pipeline than the timed estimator."""
    side_cfg = SideConfig(width=4, input_size=64)
    save_checkpoint(tiny_ckpt.with_name('tiny_side.pt'), SideClassifier(side_cfg), side_cfg)
    est = build_estimator(str(tiny_ckpt), detector='random', device='cpu', precision='fp32')
    assert est.side_classifier is not None
    folder = tmp_path / 'node'
    folder.mkdir()
    pose_path, loc_path = model_files(est, folder)
    node_est = HandPoseEstimator.from_files(str(pose_path), str(loc_path), device='cpu')
    assert node_est.detector_path == folder / 'pose_detector.pt'
    assert torch.equal(next(node_est.hand_detector.parameters()),
                       next(est.hand_detector.parameters()))
    assert node_est.side_classifier.config == side_cfg


def test_missing_conversions_are_null_with_a_reason(tiny_ckpt, icvl, monkeypatch):
    monkeypatch.setattr(stages, '_conversions', lambda: (None, 'no ros here'))
    est = HandPoseEstimator.from_files(str(tiny_ckpt), device='cpu', precision='fp32')
    frames, intr, _ = stages.bench_frames(2)
    values, why = stages.time_conversions(est, frames, intr, 0, 1)
    assert values == {'image_conversion': None, 'message_building': None}
    assert why['image_conversion'] == 'no ros here'


def test_missing_node_is_skipped_with_the_reason(monkeypatch, tmp_path, icvl):
    monkeypatch.setattr(dds, 'node_available', lambda: 'rclpy is not installed')
    frames = [np.zeros((240, 320), np.float32)]
    r = dds.measure_node(tmp_path / 'x.pt', None, frames, icvl.intrinsics, {})
    assert r == {'status': 'skipped', 'reason': 'rclpy is not installed'}


def test_bad_model_exits_2_with_one_message(tmp_path, capsys):
    assert main(['bench', '--no-node', '--model', str(tmp_path / 'missing.pt')] + QUICK) == 2
    assert 'missing.pt' in capsys.readouterr().err
    assert main(['bench', '--no-node', '--model', 'nosuch-random'] + QUICK) == 2
    assert 'config/models/nosuch.yaml' in capsys.readouterr().err


def test_random_networks_follow_the_model_config():
    pose, loc = random_networks('compact')
    assert pose.config.width == 32 and loc.config.width == 16
    again, _ = random_networks('compact')
    assert torch.equal(next(pose.parameters()), next(again.parameters()))


@pytest.mark.parametrize('fmt, suffix', [
    pytest.param('onnx', '.onnx', marks=pytest.mark.skipif(
        not onnxruntime_available(), reason='onnxruntime is not installed')),
    ('torchscript', '.ts')])
def test_export_writes_every_network_and_they_load(tiny_ckpt, tiny_detector, tmp_path, capsys,
                                                   fmt, suffix):
    out = tmp_path / 'out' / f'hand{suffix}'
    assert main(['export', '--format', fmt, '--model', str(tiny_ckpt), '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and printed.count('max |exported - eager|') == 3
    assert 'HandDetector' in printed
    est = HandPoseEstimator.from_files(str(out), device='cpu')
    assert est.localizer_path == out.with_name(f'hand_localizer{suffix}')
    assert est.detector_path == out.with_name(f'hand_detector{suffix}')
    assert est.precision == 'fp32' and est.detector == 'learned'


def test_export_refuses_a_wrong_suffix(tiny_ckpt, tmp_path, capsys):
    assert main(['export', '--format', 'onnx', '--model', str(tiny_ckpt),
                 '--out', str(tmp_path / 'hand.pt')]) == 2
    assert 'must end in .onnx' in capsys.readouterr().err


@pytest.mark.ros
@pytest.mark.slow
def test_bench_measures_the_node_over_dds(tiny_ckpt, capsys):
    reason = dds.node_available()
    if reason is not None:
        pytest.skip(reason)
    r = _bench_json(capsys, '--model', str(tiny_ckpt), '--node-frames', '3',
                    '--precision', 'fp32')
    node = r['node']
    assert node['status'] == 'ok', node
    assert node['frames'] == 3 and node['lost'] == 0
    # the node runs with its own default threads (the cores minus one), and its ratio is
    # against the estimator timed at those threads
    from hand_pose_ros.core.precision import network_threads
    assert node['threads'] == network_threads(0)
    assert node['parameters']['threads'] == str(node['threads'])
    assert node['ratio'] == pytest.approx(node['end_to_end_ms'] / node['estimator_ms'])
    if node['threads'] == r['threads']:
        assert node['estimator_ms'] == r['estimator_ms']
    assert node['parameters']['min_confidence'] == '0.0'
    # every frame read as the timed estimator reads it: no left/right memory in the node
    assert node['parameters']['handedness_memory_frames'] == '0.0'
    # ... and each frame alone, as the timed estimator: the bench's frames are unrelated
    # scenes, which a following node would first crop where the last frame's hands were
    assert node['parameters']['redetect_every'] == '1'
    # the estimator's own time inside the node, read from the node's /diagnostics windows
    assert node['parameters']['diagnostics_period_s'] == str(dds.DIAGNOSTICS_PERIOD_S)
    # (None when no window timed a hand, as with this untrained model: see the next test)
    assert 'inside_estimator_ms' in node


def test_stolen_cpu_time_is_the_steal_share_of_the_ticks_between_two_readings():
    from hand_pose_ros.benchmark.report import steal_share
    assert steal_share((100, 1000), (150, 1200)) == pytest.approx(0.25)
    assert steal_share(None, (150, 1200)) is None and steal_share((1, 5), (1, 5)) is None


def test_the_node_estimator_time_comes_from_diagnostics_windows_that_timed_a_hand():
    into = []
    dds._record_inside({'estimator_p50_ms': '41.5', 'frames_out': '3'}, into, measuring=True)
    dds._record_inside({'estimator_p50_ms': 'nan', 'frames_out': '3'}, into, measuring=True)
    dds._record_inside({'estimator_p50_ms': '99.0'}, into, measuring=False)   # warm-up
    dds._record_inside({'frames_out': '3'}, into, measuring=True)            # another node
    assert into == [41.5]
