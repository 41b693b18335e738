"""Inference precision and runtime: what the CPU supports, what to run, and preparing it.

``precision='auto'`` picks bf16 on a CPU that computes bf16 natively (AVX-512 BF16 or AMX,
the ``avx512_bf16`` / ``amx_bf16`` flags of /proc/cpuinfo) and fp32 elsewhere: emulated bf16 is
slower than fp32. CUDA keeps fp32 (GPU precision is another concern). int8 is opt-in:
post-training static quantization through ONNX Runtime (core/exported.py), calibrated on
crops of frames the caller passes in (the CLI and the node render synthetic ones).
These choices are the pose network's; the estimator runs the localizer in fp32 whatever
they are (core/estimator.py).

On the CPU the torch backend runs the network in the memory format of
:func:`memory_format` as a traced, frozen TorchScript graph (``optimize='freeze'``: batch norm
folded into convolutions, oneDNN kernels); ``'compile'`` (torch.compile with freezing) is
faster still but costs tens of seconds and a C++ compiler at start-up, so it is opt-in.
``'none'`` is plain eager fp32 NCHW, what CUDA runs. The measured table is in the README
(``hand-pose bench --compare``).

The instruction set counts as what oneDNN will use: the CPU's flags, capped by
``ONEDNN_MAX_CPU_ISA`` where that is set (so ``ONEDNN_MAX_CPU_ISA=AVX2`` on an AVX-512
machine takes every decision an AVX2-only machine takes). :func:`memory_format` is the one
place that picks NCHW or channels_last for training (training/trainer.py), inference (here)
and the benchmark.
"""
import copy
from dataclasses import dataclass
from functools import lru_cache
import os
from pathlib import Path
from typing import FrozenSet, Iterable, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .exported import (ExportedNet, InferenceGraph, Network, onnx_bytes, ort_runner,
                       quantize_int8, Runner, trace_graph)

PRECISIONS = ('auto', 'fp32', 'bf16', 'int8')
BACKENDS = ('auto', 'torch', 'onnxruntime', 'torchscript')
OPTIMIZATIONS = ('auto', 'none', 'channels_last', 'freeze', 'compile')
NATIVE_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')
# ISA levels that decide a CPU path, lowest first, and the ONEDNN_MAX_CPU_ISA values (oneDNN's
# names) that cap oneDNN at each; a value not listed (ALL, AVX512_CORE_BF16, AMX ...) caps nothing
# we decide on.
ISA_LEVELS = ('sse', 'avx2', 'avx512', 'avx512_bf16')
_ONEDNN_CAPS = {'SSE41': 'sse', 'AVX': 'sse', 'AVX2': 'avx2', 'AVX2_VNNI': 'avx2',
                'AVX2_VNNI_2': 'avx2', 'AVX512_CORE': 'avx512', 'AVX512_CORE_VNNI': 'avx512'}


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


def cpu_isa(flags: Optional[FrozenSet[str]] = None,
            onednn_cap: Optional[str] = None) -> str:
    """The ISA level oneDNN computes at: 'sse' | 'avx2' | 'avx512' | 'avx512_bf16'.

    From the CPU flags (default /proc/cpuinfo), capped by ``onednn_cap`` (default the
    ``ONEDNN_MAX_CPU_ISA`` environment variable, which oneDNN itself obeys).
    """
    flags = cpu_flags() if flags is None else flags
    if any(f in flags for f in NATIVE_BF16_FLAGS):
        level = 'avx512_bf16'
    elif 'avx512f' in flags:
        level = 'avx512'
    elif 'avx2' in flags:
        level = 'avx2'
    else:
        level = 'sse'
    cap = os.environ.get('ONEDNN_MAX_CPU_ISA', '') if onednn_cap is None else onednn_cap
    cap_level = _ONEDNN_CAPS.get(cap.strip().upper())
    if cap_level is not None and ISA_LEVELS.index(cap_level) < ISA_LEVELS.index(level):
        level = cap_level
    return level


def native_bf16(flags: Optional[FrozenSet[str]] = None,
                onednn_cap: Optional[str] = None) -> bool:
    """True when oneDNN is built in and computes bf16 natively (AVX-512 BF16 or AMX)."""
    return (torch.backends.mkldnn.is_available()
            and cpu_isa(flags, onednn_cap) == 'avx512_bf16')


def onednn_channel_block(isa: str) -> int:
    """Channels oneDNN's x86 fp32 convolution kernels process at once: 16 (AVX-512) or 8."""
    return 16 if isa.startswith('avx512') else 8


def channels_last_hazards(nets: Iterable[nn.Module], isa: Optional[str] = None) -> List[str]:
    """Convolutions whose channels_last weight gradient oneDNN gets wrong on this ISA.

    oneDNN's 1x1 strided backward-weights kernel for nhwc tensors with fewer input channels
    than its channel block (:func:`onednn_channel_block`) writes past its workspace
    (uxlfoundation/oneDNN issue 6035): measured here on torch 2.13, a segfault or an endless
    loop with ``ONEDNN_MAX_CPU_ISA=AVX2`` (in=4) and a segfault on AVX-512 (in=4 or 8, 64x64
    input); the same layers in NCHW are exact. Names ``module.path (in->out)`` of such layers.
    """
    block = onednn_channel_block(cpu_isa() if isa is None else isa)
    found = []
    for net in nets:
        for name, m in net.named_modules():
            if (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.stride != (1, 1)
                    and m.in_channels < block):
                found.append(f'{type(net).__name__}.{name} ({m.in_channels}->{m.out_channels})')
    return found


def memory_format(nets: Iterable[nn.Module], device: torch.device, training: bool,
                  isa: Optional[str] = None) -> torch.memory_format:
    """NCHW or channels_last for ``nets`` on ``device``, for training or inference.

    channels_last wherever it is exact, since it measured faster everywhere: CUDA (tensor
    cores); CPU inference (README, *Speed*: what was tried); CPU training, a compact batch-32
    step (pose net and localizer, 2 threads): AVX-512 BF16 CPU bf16 0.92 s vs 1.09 s NCHW, fp32
    1.38 s vs 1.80 s, the same CPU with ``ONEDNN_MAX_CPU_ISA=AVX2`` fp32 1.71 s vs 1.81 s.
    Training takes NCHW when :func:`channels_last_hazards` finds a layer whose channels_last
    weight gradient oneDNN gets wrong on this ISA, whatever the precision (on an AVX2-only CPU
    the trainer runs fp32 kernels).
    """
    if device.type == 'cuda' or not training:
        return torch.channels_last
    if channels_last_hazards(nets, cpu_isa() if isa is None else isa):
        return torch.contiguous_format
    return torch.channels_last


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
    layout = optimize == 'channels_last' or (
        optimize != 'none'
        and memory_format([net], device, training=False) == torch.channels_last)
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


def network_threads(requested: int, cores: Optional[int] = None) -> int:
    """Torch threads for the ``threads`` parameter: itself, or for 0 the CPU cores minus one
    (at least 1). On 2 cores, 2 network threads starved the node's own DDS and executor
    threads: end-to-end latency 38 ms against 23 ms with 1 thread (hand-pose bench). The
    node's ``threads`` parameter and the benchmark's node measurement use it."""
    if requested > 0:
        return requested
    if cores is None:            # the cores this process may run on (taskset, cgroup cpusets)
        cores = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
                 else os.cpu_count() or 1)
    return max(1, cores - 1)
