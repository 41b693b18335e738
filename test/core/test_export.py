"""Exported networks (ONNX, TorchScript): the same joints as the eager model, config inside."""
import numpy as np
import pytest
import torch

from hand_pose_ros.core.checkpoint import save_checkpoint
from hand_pose_ros.core.config import DetectorConfig, ModelConfig
from hand_pose_ros.core.detection import detector_input
from hand_pose_ros.core.estimator import HandPoseEstimator
from hand_pose_ros.core.exported import (DETECTOR_EXAMPLE_HW, ExportedDetector, is_exported,
                                         load_exported, onnxruntime_available, save_onnx,
                                         save_torchscript)
from hand_pose_ros.core.nets.detector import HandDetector
from hand_pose_ros.core.nets.localizer import Localizer
from hand_pose_ros.core.nets.pose_net import PoseNet
from test.conftest import blob_frame

ONNX = pytest.param('onnx', marks=pytest.mark.skipif(
    not onnxruntime_available(), reason='onnxruntime is not installed (pip install .[onnx])'))
SAVERS = {'onnx': (save_onnx, '.onnx'), 'torchscript': (save_torchscript, '.ts')}


@pytest.fixture
def nets(tiny_config, tiny_localizer_config):
    torch.manual_seed(0)
    return PoseNet(tiny_config), Localizer(tiny_localizer_config)


def _export(nets, fmt, folder):
    save, suffix = SAVERS[fmt]
    pose_path = save(nets[0], folder / f'hand{suffix}')
    save(nets[1], folder / f'hand_localizer{suffix}')
    return pose_path


@pytest.mark.parametrize('fmt', [ONNX, 'torchscript'])
def test_exported_joints_match_eager_within_0_01_mm(nets, icvl, tmp_path, fmt):
    pose_path = _export(nets, fmt, tmp_path)
    assert is_exported(pose_path)
    eager = HandPoseEstimator(*nets, device='cpu', precision='fp32', optimize='none')
    # the nearest blob, as the eager estimator: the discs below are no hands to a detector
    exported = HandPoseEstimator.from_files(str(pose_path), device='cpu', detector_model='none')
    assert exported.localizer_path == tmp_path / f'hand_localizer{pose_path.suffix}'
    assert exported.precision == 'fp32'
    assert exported.backend == ('onnxruntime' if fmt == 'onnx' else 'torchscript')
    frames = [blob_frame(center=(150 + 9 * k, 100 + 7 * k), depth=380.0 + 60 * k)
              for k in range(3)]
    for frame in frames:
        a = eager.estimate(frame, icvl.intrinsics)
        b = exported.estimate(frame, icvl.intrinsics)
        np.testing.assert_allclose(b.xyz, a.xyz, atol=0.01)
        np.testing.assert_allclose(b.confidence, a.confidence, atol=1e-4)
    batch = exported.estimate_batch(frames, icvl.intrinsics)                  # dynamic batch
    single = exported.estimate(frames[2], icvl.intrinsics)
    np.testing.assert_allclose(batch[2].pose.xyz, single.xyz, atol=0.01)


@pytest.mark.parametrize('fmt', [ONNX, 'torchscript'])
def test_exported_file_carries_its_config(nets, tmp_path, fmt):
    pose_path = _export(nets, fmt, tmp_path)
    net = load_exported(pose_path)
    assert net.kind == 'pose' and net.config == nets[0].config
    with pytest.raises(ValueError, match='expected an exported localizer network, found pose'):
        load_exported(pose_path, 'localizer')


@pytest.mark.skipif(not onnxruntime_available(), reason='onnxruntime is not installed')
def test_plain_variant_exports_regressed_uv(icvl, tmp_path):
    cfg = ModelConfig(variant='plain', width=16, stacks=1, input_size=64, heatmap_size=32,
                      hourglass_depth=3)
    net = PoseNet(cfg)
    path = save_onnx(net, tmp_path / 'plain.onnx')
    frame = blob_frame(center=(170, 110), depth=450.0)
    eager = HandPoseEstimator(net, None, device='cpu', precision='fp32')
    exported = HandPoseEstimator.from_files(str(path), None, device='cpu',
                                            detector_model='none')
    a, b = eager.estimate(frame, icvl.intrinsics), exported.estimate(frame, icvl.intrinsics)
    np.testing.assert_allclose(b.xyz, a.xyz, atol=0.01)


def test_checkpoint_is_not_exported_and_foreign_files_are_refused(nets, tmp_path):
    ckpt = tmp_path / 'pose.pt'
    save_checkpoint(ckpt, nets[0], nets[0].config)
    assert not is_exported(ckpt)
    foreign = tmp_path / 'foreign.ts'
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(foreign))
    with pytest.raises(ValueError, match='expected an exported hand_pose_ros network'):
        load_exported(foreign)
    with pytest.raises(FileNotFoundError, match='exported model not found'):
        load_exported(tmp_path / 'missing.onnx')


@pytest.mark.skipif(not onnxruntime_available(), reason='onnxruntime is not installed')
def test_int8_from_an_onnx_file(nets, icvl, tmp_path):
    pose_path = _export(nets, 'onnx', tmp_path)
    frames = [blob_frame(center=(150 + 9 * k, 100 + 7 * k), depth=380.0 + 60 * k)
              for k in range(4)]
    est = HandPoseEstimator.from_files(str(pose_path), device='cpu', precision='int8',
                                       calibration=(frames, icvl.intrinsics),
                                       detector_model='none')
    assert (est.precision, est.backend) == ('int8', 'onnxruntime')
    assert est.localizer_runtime.precision == 'fp32'
    assert est.estimate(frames[0], icvl.intrinsics).xyz.shape == (16, 3)


@pytest.fixture
def detector():
    torch.manual_seed(0)
    return HandDetector(DetectorConfig(width=8)).eval()


@pytest.mark.parametrize('fmt', [ONNX, 'torchscript'])
def test_exported_detector_maps_match_the_module_at_another_frame_size(detector, tmp_path, fmt):
    """Catches a graph that keeps the traced height and width (static ONNX axes, a traced
    interpolation size) or an exported detector that is not called like the module."""
    save, suffix = SAVERS[fmt]
    loaded = load_exported(save(detector, tmp_path / f'hand_detector{suffix}'), 'detector')
    assert isinstance(loaded, ExportedDetector) and loaded.config == detector.config
    depth = torch.rand(2, 75, 101) * 800 + 200                      # sampled frames, mm
    depth[:, 30:50, 40:70] = 0                                       # missing depth
    x = detector_input(depth, detector.config)                       # padded to (2, 2, 80, 112)
    assert tuple(x.shape[2:]) == (80, 112) != DETECTOR_EXAMPLE_HW
    with torch.no_grad():
        want = detector(x)
    got = loaded.to('cpu').eval()(x)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('fmt', [ONNX, 'torchscript'])
def test_from_files_finds_the_exported_detector_beside_the_pose_file(nets, detector, icvl,
                                                                     tmp_path, fmt):
    """Catches an exported pose file whose detector beside it is ignored (the estimator would
    fall back to the nearest blob) and detections that differ from the module's."""
    pose_path = _export(nets, fmt, tmp_path)
    SAVERS[fmt][0](detector, tmp_path / f'hand_detector{pose_path.suffix}')
    exported = HandPoseEstimator.from_files(str(pose_path), device='cpu')
    assert exported.detector_path == tmp_path / f'hand_detector{pose_path.suffix}'
    assert exported.detector == 'learned'
    eager = HandPoseEstimator(*nets, device='cpu', precision='fp32', hand_detector=detector)
    frame = blob_frame(center=(150, 100), depth=420.0)
    want, got = (est.detect([frame], icvl.intrinsics, 0.0, 2)[0] for est in (eager, exported))
    assert len(got) == len(want) > 0
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.center_uvd, b.center_uvd, atol=1e-2)
        assert a.score == pytest.approx(b.score, abs=1e-4)
