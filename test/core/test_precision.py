"""Precision choice and every CPU runtime against exact fp32 (random-weight tiny networks)."""
import numpy as np
import pytest
import torch

from hand_pose_ros.core.estimator import HandPoseEstimator
from hand_pose_ros.core.exported import onnxruntime_available
from hand_pose_ros.core.nets.localizer import Localizer
from hand_pose_ros.core.nets.pose_net import PoseNet
from hand_pose_ros.core.precision import (cpu_flags, native_bf16, resolve_runtime, Runtime,
                                          torch_runner)
from test.conftest import blob_frame

CPU = torch.device('cpu')
NEEDS_ORT = pytest.mark.skipif(not onnxruntime_available(),
                               reason='onnxruntime is not installed (pip install .[onnx])')


def _frames(n=4):
    return [blob_frame(center=(150 + 6 * k, 110 + 4 * k), depth=400.0 + 25 * k)
            for k in range(n)]


@pytest.fixture
def nets(tiny_config, tiny_localizer_config):
    torch.manual_seed(0)
    return PoseNet(tiny_config), Localizer(tiny_localizer_config)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\n'
                    'processor\t: 1\nflags\t\t: fpu\n')
    assert cpu_flags(info) == {'fpu', 'avx2', 'avx512f', 'avx512_bf16'}
    assert cpu_flags(tmp_path / 'missing') == frozenset()


@pytest.mark.parametrize('flags, expected', [
    ({'avx512f', 'avx512_bf16'}, 'bf16'), ({'amx_bf16', 'amx_tile'}, 'bf16'),
    ({'avx2', 'avx512f', 'avx512_vnni'}, 'fp32'), (set(), 'fp32')])
def test_auto_precision_follows_native_bf16(flags, expected, monkeypatch):
    monkeypatch.delenv('ONEDNN_MAX_CPU_ISA', raising=False)    # these flags, uncapped
    if not torch.backends.mkldnn.is_available():
        expected = 'fp32'
    assert native_bf16(frozenset(flags)) == (expected == 'bf16')
    rt = resolve_runtime('auto', device=CPU, flags=frozenset(flags))
    assert rt == Runtime(expected, 'torch', 'freeze')


def test_runtime_choices_and_their_errors():
    assert resolve_runtime('int8', device=CPU) == Runtime('int8', 'onnxruntime', 'none')
    assert resolve_runtime('fp32', 'onnxruntime', device=CPU).optimize == 'none'
    assert resolve_runtime('auto', device=CPU, exported='torchscript').precision == 'fp32'
    cuda = torch.device('cuda')
    assert resolve_runtime('auto', device=cuda) == Runtime('fp32', 'torch', 'none')
    with pytest.raises(ValueError, match='only fp32'):
        resolve_runtime('bf16', device=cuda)
    with pytest.raises(ValueError, match='int8 runs through ONNX Runtime'):
        resolve_runtime('int8', 'torch', device=CPU)
    with pytest.raises(ValueError, match="precision 'bf16' is not available on backend"):
        resolve_runtime('bf16', 'onnxruntime', device=CPU)
    with pytest.raises(ValueError, match='runs on onnxruntime'):
        resolve_runtime('fp32', 'torch', device=CPU, exported='onnxruntime')
    with pytest.raises(ValueError, match="precision must be one of .* found 'fp16'"):
        resolve_runtime('fp16', device=CPU)


def test_estimator_reports_its_precision(nets):
    est = HandPoseEstimator(*nets, device='cpu', precision='auto')
    assert est.precision == ('bf16' if native_bf16() else 'fp32')
    assert est.backend == 'torch' and est.runtime.optimize == 'freeze'
    assert est.localizer_runtime == Runtime('fp32', 'torch', 'freeze')   # always fp32
    assert next(nets[0].parameters()).dtype == torch.float32  # the caller's net is untouched


@pytest.mark.parametrize('optimize', ['none', 'channels_last', 'freeze'])
def test_fp32_optimisations_are_exact(nets, icvl, optimize):
    ref = HandPoseEstimator(*nets, device='cpu', precision='fp32', optimize='none')
    est = HandPoseEstimator(*nets, device='cpu', precision='fp32', optimize=optimize)
    for frame in _frames(2):
        np.testing.assert_allclose(est.estimate(frame, icvl.intrinsics).xyz,
                                   ref.estimate(frame, icvl.intrinsics).xyz, atol=0.01)


def _relative_error(runner, ref, patch) -> float:
    """Largest output error relative to the output's range (random weights: no joint sense)."""
    errs = [float((a - b).abs().max() / (b.max() - b.min()).clamp_min(1e-6))
            for a, b in zip(runner(patch), ref(patch))]
    return max(errs)


def _joint_depth_error_mm(est, ref, icvl) -> float:
    """Largest |z| difference of the regressed joint depths (mm) over a few frames."""
    return max(float(np.abs(est.estimate(f, icvl.intrinsics).xyz[:, 2] -
                            ref.estimate(f, icvl.intrinsics).xyz[:, 2]).max())
               for f in _frames())


def test_bf16_is_close_to_fp32(nets, icvl):
    pose, _ = nets
    ref = HandPoseEstimator(*nets, device='cpu', precision='fp32', optimize='none')
    est = HandPoseEstimator(*nets, device='cpu', precision='bf16')
    patch = torch.rand(3, 1, 64, 64) * 2 - 1
    assert _relative_error(est._pose_run, ref._pose_run, patch) < 0.05
    # heatmap arg-maxima of random weights can jump; the regressed depths cannot
    assert _joint_depth_error_mm(est, ref, icvl) < 0.05 * 250
    eager = torch_runner(pose, 'bf16', 'none', CPU)
    assert _relative_error(eager, ref._pose_run, patch) < 0.05


@NEEDS_ORT
def test_int8_is_close_to_fp32(nets, icvl):
    frames = _frames(6)
    ref = HandPoseEstimator(*nets, device='cpu', precision='fp32', optimize='none')
    est = HandPoseEstimator(*nets, device='cpu', precision='int8',
                            calibration=(frames, icvl.intrinsics))
    assert (est.precision, est.backend) == ('int8', 'onnxruntime')
    # the localizer beside it: ONNX Runtime too, in fp32, the same centres as torch's
    assert est.localizer_runtime == Runtime('fp32', 'onnxruntime', 'none')
    for f in frames[:3]:
        np.testing.assert_allclose(est.estimate(f, icvl.intrinsics).center,
                                   ref.estimate(f, icvl.intrinsics).center, atol=0.05)
    patch = ref.estimate(frames[0], icvl.intrinsics).patch[None, None]
    patch = torch.from_numpy(np.repeat(patch, 2, axis=0))
    assert _relative_error(est._pose_run, ref._pose_run, patch) < 0.15
    assert _joint_depth_error_mm(est, ref, icvl) < 0.15 * 250


@NEEDS_ORT
def test_int8_without_a_hand_to_calibrate_on_says_so(nets, icvl):
    empty = [np.zeros((240, 320), np.float32)]
    with pytest.raises(ValueError, match='found no hand in any of the 1 calibration frames'):
        HandPoseEstimator(*nets, device='cpu', precision='int8',
                          calibration=(empty, icvl.intrinsics))
