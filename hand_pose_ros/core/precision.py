"""Inference precision and runtime: what the CPU supports, what to run, and preparing it.

``precision='auto'`` picks bf16 on a CPU that computes bf16 natively (AVX-512 BF16 or AMX,
the ``avx512_bf16`` / ``amx_bf16`` flags of /proc/cpuinfo) and fp32 elsewhere: emulated bf16 is
slower than fp32. CUDA keeps fp32 (GPU precision is another concern). int8 is opt-in:
post-training static quantization through ONNX Runtime (core/exported.py), calibrated on
crops the fp32 pipeline makes of synthetic renders. These choices are the pose network's;
the estimator runs the localizer in fp32 whatever they are (core/estimator.py).

On the CPU the torch backend runs the network in channels_last memory format as a traced,
frozen TorchScript graph (``optimize='freeze'``: batch norm folded into convolutions, oneDNN
kernels); ``'compile'`` (torch.compile with freezing) is faster still but costs tens of seconds
and a C++ compiler at start-up, so it is opt-in. ``'none'`` is plain eager fp32 NCHW, what
CUDA runs. The measured table is in the README (``hand-pose bench --compare``).
"""
import copy
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, List, Optional, Tuple, Union

import numpy as np
import torch

from .camera import Intrinsics
from .exported import (ExportedNet, InferenceGraph, Network, onnx_bytes, ort_runner,
                       quantize_int8, Runner, trace_graph)

PRECISIONS = ('auto', 'fp32', 'bf16', 'int8')
BACKENDS = ('auto', 'torch', 'onnxruntime', 'torchscript')
OPTIMIZATIONS = ('auto', 'none', 'channels_last', 'freeze', 'compile')
NATIVE_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')
CALIBRATION_FRAMES = 32     # synthetic renders used to calibrate int8 activations
CALIBRATION_SEED = 20_240_617


@lru_cache(maxsize=4)
def cpu_flags(cpuinfo: Union[str, Path] = '/proc/cpuinfo') -> FrozenSet[str]:
    """The CPU feature flags of the first processor in ``cpuinfo`` (empty when unreadable)."""
    try:
        text = Path(cpuinfo).read_text(encoding='utf-8', errors='replace')
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
            return frozenset(value.split())
    return frozenset()


def native_bf16(flags: Optional[FrozenSet[str]] = None) -> bool:
    """True when the CPU has bf16 arithmetic (AVX-512 BF16 or AMX) and oneDNN is built in."""
    flags = cpu_flags() if flags is None else flags
    return torch.backends.mkldnn.is_available() and any(f in flags for f in NATIVE_BF16_FLAGS)


@dataclass(frozen=True)
class Runtime:
    """How the networks run, resolved (never 'auto')."""

    precision: str   # fp32 | bf16 | int8
    backend: str     # torch | onnxruntime | torchscript
    optimize: str    # none | channels_last | freeze | compile (torch backend only, else none)


def _check(name: str, value: str, allowed: Tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f'{name} must be one of {allowed}, found {value!r}')
    return value


def resolve_runtime(precision: str = 'auto', backend: str = 'auto', optimize: str = 'auto',
                    device: torch.device = torch.device('cpu'),
                    exported: Optional[str] = None,
                    flags: Optional[FrozenSet[str]] = None) -> Runtime:
    """Turn the user's choices into a Runtime; raises ValueError for combinations that do not
    exist. ``exported`` is the backend of an exported network ('onnxruntime' | 'torchscript')."""
    _check('precision', precision, PRECISIONS)
    _check('backend', backend, BACKENDS)
    _check('optimize', optimize, OPTIMIZATIONS)
    if exported is not None:
        if backend not in ('auto', exported):
            raise ValueError(f'the model file runs on {exported}, found backend={backend!r}')
        backend = exported
    if device.type != 'cpu':
        if precision not in ('auto', 'fp32') or backend == 'onnxruntime':
            raise ValueError(f'on {device.type} only fp32 through torch is supported, found '
                             f'precision={precision!r}, backend={backend!r}')
        return Runtime('fp32', 'torch' if backend == 'auto' else backend,
                       'none' if optimize == 'auto' or backend == 'torchscript' else optimize)
    if precision == 'auto':
        precision = 'bf16' if native_bf16(flags) and backend in ('auto', 'torch') else 'fp32'
    if backend == 'auto':
        backend = 'onnxruntime' if precision == 'int8' else 'torch'
    allowed = {'torch': ('fp32', 'bf16'), 'onnxruntime': ('fp32', 'int8'),
               'torchscript': ('fp32',)}[backend]
    if precision not in allowed:
        raise ValueError(f'precision {precision!r} is not available on backend {backend!r}: '
                         f'expected one of {allowed}' +
                         (' (int8 runs through ONNX Runtime)' if precision == 'int8' else ''))
    if backend != 'torch':
        return Runtime(precision, backend, 'none')
    return Runtime(precision, backend, 'freeze' if optimize == 'auto' else optimize)


def calibration_runtime(net: Union[Network, ExportedNet]) -> Runtime:
    """The exact fp32 runtime of ``net`` whose crops calibrate its int8 runtime."""
    return Runtime('fp32', net.backend if isinstance(net, ExportedNet) else 'torch', 'none')


def torch_runner(net: Network, precision: str, optimize: str,
                 device: torch.device) -> Runner:
    """A torch runner of ``net`` at ``precision`` ('fp32' | 'bf16') with ``optimize`` applied.

    ``net`` itself is never modified beyond ``.to(device).eval()`` (the trainer validates with
    its live model); the bf16, channels_last and frozen variants work on a copy.
    """
    if precision == 'fp32' and optimize == 'none':
        return InferenceGraph(net.to(device)).eval()
    dtype = torch.bfloat16 if precision == 'bf16' else torch.float32
    work = copy.deepcopy(net).to(device=device, dtype=dtype).eval()
    layout = optimize != 'none'
    if layout:
        work = work.to(memory_format=torch.channels_last)
    graph = InferenceGraph(work, dtype, channels_last=layout).eval()
    s = net.config.input_size
    example = torch.zeros(1, 1, s, s, device=device)
    runner: Runner = graph
    with torch.no_grad():
        if optimize == 'freeze':
            runner = torch.jit.freeze(trace_graph(graph, example))
        elif optimize == 'compile':
            runner = torch.compile(graph, options={'freezing': True})
        for _ in range(2):  # the JIT optimises on the second call; compile compiles on the first
            runner(example)
    return runner


def build_runner(net: Union[Network, ExportedNet], runtime: Runtime, device: torch.device,
                 threads: int, calibration: Optional[np.ndarray] = None) -> Runner:
    """The callable that runs ``net`` under ``runtime``: (B, 1, S, S) fp32 -> fp32 tensors.

    int8 needs ``calibration`` patches (N, 1, S, S) of this network's input.
    """
    if isinstance(net, ExportedNet) and net.backend == 'torchscript':
        return net.module.to(device)
    if runtime.backend == 'torch':
        return torch_runner(net, runtime.precision, runtime.optimize, device)
    model = net.onnx if isinstance(net, ExportedNet) else onnx_bytes(net)
    if runtime.precision == 'int8':
        if calibration is None:
            raise ValueError('int8 needs calibration patches; found none')
        model = quantize_int8(model, calibration)
    return ort_runner(model, threads)


def synthetic_calibration_frames(joint_set: str, count: int = CALIBRATION_FRAMES,
                                 seed: int = CALIBRATION_SEED
                                 ) -> Tuple[List[np.ndarray], Intrinsics]:
    """``count`` rendered ICVL-camera depth frames (mm) for int8 calibration.

    Needs the synthetic renderer (hand_pose_ros.synthetic); pass your own frames to the
    estimator (``calibration=(frames, intrinsics)``) where it is not installed.
    """
    from .specs import dataset_spec
    try:
        from ..synthetic import SyntheticGenerator
    except ImportError as exc:
        raise RuntimeError('int8 calibration renders synthetic hands, but the renderer is not '
                           f'available ({exc}); pass calibration=(frames, intrinsics)') from None
    intr = dataset_spec('icvl').intrinsics
    gen = SyntheticGenerator(intr, joint_set=joint_set, device='cpu', seed=seed)
    depth = gen.sample(count).depth_mm
    depth = depth.numpy() if isinstance(depth, torch.Tensor) else np.asarray(depth)
    return [np.ascontiguousarray(d, dtype=np.float32) for d in depth], intr
