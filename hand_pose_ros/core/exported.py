"""Exported networks: ONNX (run by ONNX Runtime) and TorchScript, behind one small interface.

A PoseNet, Localizer or HandDetector is exported as an ``InferenceGraph``: plain tensors in
and out, so the same graph is traced by TorchScript, written to ONNX and run by the estimator's
optimised torch path (core/precision.py). Outputs, all float32:

- pose, heatmap variants: ``heatmaps`` (B, J, H, W) of the last stack, ``depths`` (B, J);
- pose, 'plain' variant: ``uv`` (B, J, 2), ``depths`` (B, J);
- localizer: ``center`` (B, 3) normalised crop coordinates;
- detector: ``maps`` (B, 5, H/4, W/4) raw maps of a (B, 2, H, W) detector input (ONNX with
  dynamic batch, height and width); a loaded detector is an ``ExportedDetector``, called like
  the HandDetector module.

The network's config travels inside the file (ONNX metadata_props / a TorchScript extra file
``hand_pose_ros.json``), so ``load_exported`` rebuilds everything the estimator needs.
ONNX Runtime and onnx are the optional extra ``[onnx]``; int8 quantization (post-training,
static, calibrated on patches the caller supplies) runs through ONNX Runtime too.
"""
import json
from pathlib import Path
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union
import warnings
import zipfile

import numpy as np
import torch
from torch import nn

from .config import DetectorConfig, LocalizerConfig, ModelConfig, stored_model_config
from .nets.detector import HandDetector
from .nets.localizer import Localizer
from .nets.pose_net import PoseNet, PoseOutput

META_KEY = 'hand_pose_ros'          # ONNX metadata key / TorchScript extra file stem
EXPORT_FORMAT = 'hand_pose_ros-export/1'
ONNX_OPSET = 17
Network = Union[PoseNet, Localizer, HandDetector]
NetConfig = Union[ModelConfig, LocalizerConfig, DetectorConfig]
# The detector is traced on a 640x480 camera's sampled frame (120x160, padded to 128x160);
# its ONNX height and width are dynamic, the traced TorchScript graph follows its input too.
DETECTOR_EXAMPLE_HW = (128, 160)
Runner = Callable[[torch.Tensor], Tuple[torch.Tensor, ...]]
ONNX_HINT = 'install the optional extra: pip install "hand_pose_ros[onnx]" (onnx, onnxruntime)'


def onnxruntime_available() -> bool:
    """True when onnxruntime and onnx can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _require_onnx():
    """(onnx, onnxruntime) modules, or an ImportError that says how to install them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ImportError(f'ONNX support needs onnx and onnxruntime ({exc}); '
                          f'{ONNX_HINT}') from None
    return onnx, onnxruntime


def kind_of(net: Network) -> str:
    """'pose', 'localizer' or 'detector'."""
    for cls, kind in ((PoseNet, 'pose'), (Localizer, 'localizer'), (HandDetector, 'detector')):
        if isinstance(net, cls):
            return kind
    raise TypeError(f'expected a PoseNet, a Localizer or a HandDetector, found '
                    f'{type(net).__name__}')


def output_names(kind: str, config: NetConfig) -> Tuple[str, ...]:
    """Names of an InferenceGraph's outputs (see the module docstring)."""
    if kind == 'localizer':
        return ('center',)
    if kind == 'detector':
        return ('maps',)
    return ('uv' if config.variant == 'plain' else 'heatmaps', 'depths')


def input_name(kind: str) -> str:
    """Name of an exported graph's input: 'frame' (detector) or 'patch' (crop networks)."""
    return 'frame' if kind == 'detector' else 'patch'


def dynamic_axes(kind: str, names: Sequence[str]) -> Dict[str, Dict[int, str]]:
    """ONNX dynamic axes: batch for every graph, height and width for the detector's too."""
    if kind != 'detector':
        return {n: {0: 'batch'} for n in names}
    return {input_name(kind): {0: 'batch', 2: 'height', 3: 'width'},
            **{n: {0: 'batch', 2: 'height_4', 3: 'width_4'} for n in names[1:]}}


def example_input(kind: str, config: NetConfig, batch: int = 1,
                  hw: Tuple[int, int] = DETECTOR_EXAMPLE_HW) -> torch.Tensor:
    """Zeros shaped as the input of ``kind``: (batch, 1, S, S) crops or (batch, 2, *hw)."""
    if kind == 'detector':
        return torch.zeros(batch, 2, *hw)
    return torch.zeros(batch, 1, config.input_size, config.input_size)


class InferenceGraph(nn.Module):
    """A network as (B, C, H, W) float32 -> tuple of float32 tensors (module docstring).

    ``dtype`` and ``channels_last`` set what the network computes in; the casts live here so
    that a traced or exported graph includes them.
    """

    def __init__(
            self,
            net: Network,
            dtype: torch.dtype = torch.float32,
            channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.kind = kind_of(net)
        self.dtype = dtype
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = x.to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.kind != 'pose':
            return (self.net(x).float(),)
        out = self.net(x)
        first = out.uv if out.heatmaps is None else out.heatmaps[:, -1]     # (B, J, 2|H, W)
        return first.float(), out.depths.float()


def to_pose_output(tensors: Sequence[torch.Tensor], config: ModelConfig) -> PoseOutput:
    """InferenceGraph pose outputs -> the PoseOutput that ``PoseNet.joints`` decodes."""
    first, depths = tensors
    if config.variant == 'plain':
        return PoseOutput(None, depths, first, None)
    return PoseOutput(first[:, None], depths, None, None)                  # (B, 1, J, H, W)


def trace_graph(graph: InferenceGraph, example: torch.Tensor) -> torch.jit.ScriptModule:
    """torch.jit.trace without the warnings about the network's constant shape checks."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        return torch.jit.trace(graph.eval(), example, check_trace=False)


def _metadata(kind: str, config: NetConfig) -> str:
    """The JSON stored with an exported network."""
    return json.dumps({'format': EXPORT_FORMAT, 'kind': kind, 'config': config.to_dict()})


def onnx_bytes(net: Network) -> bytes:
    """The fp32 network as an ONNX model (dynamic batch; the detector's height and width too),
    with its config in metadata_props."""
    onnx, _ = _require_onnx()
    import io
    kind = kind_of(net)
    names = output_names(kind, net.config)
    graph = InferenceGraph(net).eval()  # eval on the wrapper too: export restores its mode
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')  # TracerWarning (shape checks) and exporter notices
        torch.onnx.export(graph, (example_input(kind, net.config),), buf, dynamo=False,
                          opset_version=ONNX_OPSET, input_names=[input_name(kind)],
                          output_names=list(names),
                          dynamic_axes=dynamic_axes(kind, (input_name(kind),) + names))
    proto = onnx.load_from_string(buf.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, _metadata(kind, net.config)
    return proto.SerializeToString()


def save_onnx(net: Network, path: Union[str, Path]) -> Path:
    """Write the fp32 ONNX model of ``net`` to ``path``."""
    path = Path(path)
    path.write_bytes(onnx_bytes(net))
    return path


def save_torchscript(net: Network, path: Union[str, Path]) -> Path:
    """Write the fp32 network as a traced TorchScript archive with its config inside."""
    path = Path(path)
    traced = trace_graph(InferenceGraph(net).eval(), example_input(kind_of(net), net.config))
    torch.jit.save(traced, str(path),
                   _extra_files={f'{META_KEY}.json': _metadata(kind_of(net), net.config)})
    return path


def _parse_metadata(text: str, path: Path) -> Tuple[str, NetConfig]:
    """(kind, config) from stored metadata; ValueError naming expected and found."""
    try:
        meta = json.loads(text)
    except (TypeError, ValueError):
        meta = None
    if not isinstance(meta, dict) or meta.get('format') != EXPORT_FORMAT:
        found = meta.get('format') if isinstance(meta, dict) else 'no hand_pose_ros metadata'
        raise ValueError(f'{path}: expected an exported hand_pose_ros network '
                         f'({EXPORT_FORMAT}), found {found!r}')
    readers = {'pose': stored_model_config, 'localizer': LocalizerConfig.from_dict,
               'detector': DetectorConfig.from_dict}
    if meta.get('kind') not in readers:
        raise ValueError(f'{path}: expected an exported network of kind {sorted(readers)}, '
                         f'found {meta.get("kind")!r}')
    return meta['kind'], readers[meta['kind']](meta['config'])


def is_torchscript(path: Union[str, Path]) -> bool:
    """True for a TorchScript archive (a zip holding code/ and constants.pkl)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith('/constants.pkl') for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def is_exported(path: Union[str, Path]) -> bool:
    """True for an ONNX file (by suffix) or a TorchScript archive (by content)."""
    path = Path(path)
    return path.suffix == '.onnx' or (path.is_file() and is_torchscript(path))


class ExportedNet:
    """An exported network: ``kind``, ``config``, ``backend`` and its graph.

    ``backend`` is 'onnxruntime' (``onnx`` holds the serialized model) or 'torchscript'
    (``module`` holds the loaded archive).
    """

    def __init__(self, kind: str, config: NetConfig, backend: str,
                 onnx: Optional[bytes] = None, module: Optional[torch.jit.ScriptModule] = None,
                 path: Optional[Path] = None) -> None:
        self.kind, self.config, self.backend = kind, config, backend
        self.onnx, self.module, self.path = onnx, module, path

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.kind}, {self.backend}, {self.path})'


class ExportedDetector(ExportedNet):
    """An exported HandDetector the estimator uses as it uses the module: ``det.config``,
    ``det.to(device).eval()`` and ``det(x)``: (B, 2, H, W) -> (B, 5, H/4, W/4) float32 maps on
    the input's device. ONNX Runtime runs on the CPU with torch's thread count at the first
    call (the estimator sets the threads after moving the detector)."""

    _run: Optional[Runner] = None  # the ONNX Runtime session's runner, built at the first call

    def to(self, device: Union[str, torch.device]) -> 'ExportedDetector':
        """Move a TorchScript graph to ``device``; ONNX Runtime stays on the CPU."""
        if self.module is not None:
            self.module = self.module.to(device)
        return self

    def eval(self) -> 'ExportedDetector':
        """Already in inference mode (kept for the module interface)."""
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) detector input -> (B, 5, H/4, W/4) raw maps, float32."""
        if self.module is not None:
            return self.module(x)[0]
        if self._run is None:
            self._run = ort_runner(self.onnx, torch.get_num_threads())
        return self._run(x.cpu())[0].to(x.device)


def _exported_class(kind: str) -> type:
    """ExportedDetector for a detector (callable like the module), else ExportedNet."""
    return ExportedDetector if kind == 'detector' else ExportedNet


def load_exported(path: Union[str, Path], kind: Optional[str] = None) -> ExportedNet:
    """Read an exported ONNX or TorchScript network; checks ``kind`` when given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'exported model not found: {path}')
    if path.suffix == '.onnx':
        onnx, _ = _require_onnx()
        data = path.read_bytes()
        meta = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
        found_kind, config = _parse_metadata(meta.get(META_KEY), path)
        net = _exported_class(found_kind)(found_kind, config, 'onnxruntime', onnx=data,
                                          path=path)
    elif is_torchscript(path):
        extra = {f'{META_KEY}.json': ''}
        module = torch.jit.load(str(path), map_location='cpu', _extra_files=extra)
        found_kind, config = _parse_metadata(extra[f'{META_KEY}.json'], path)
        net = _exported_class(found_kind)(found_kind, config, 'torchscript',
                                          module=module.eval(), path=path)
    else:
        raise ValueError(f'{path}: expected an .onnx file or a TorchScript archive')
    if kind is not None and net.kind != kind:
        raise ValueError(f'{path}: expected an exported {kind} network, found {net.kind}')
    return net


def beside(pose_path: Union[str, Path], kind: str) -> Path:
    """Where ``hand-pose export`` writes the ``kind`` network of pose file ``pose_path``:
    ``<stem>_<kind><suffix>``."""
    pose_path = Path(pose_path)
    return pose_path.with_name(f'{pose_path.stem}_{kind}{pose_path.suffix}')


def localizer_beside(pose_path: Union[str, Path]) -> Optional[Path]:
    """``<stem>_localizer<suffix>`` next to an exported pose file, when it exists."""
    sibling = beside(pose_path, 'localizer')
    return sibling if sibling.is_file() else None


def detector_beside(pose_path: Union[str, Path]) -> Optional[Path]:
    """``<stem>_detector<suffix>`` next to an exported pose file, when it exists."""
    sibling = beside(pose_path, 'detector')
    return sibling if sibling.is_file() else None


def ort_session(model: bytes, threads: int):
    """An ONNX Runtime CPU session with every graph optimisation and ``threads`` threads."""
    _, ort = _require_onnx()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting after a run: spinning ORT threads took the cores from the torch
    # localizer and the ROS threads (compact int8, 2 threads: localizer 13.1 ms vs 4.2 ms).
    opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return ort.InferenceSession(model, opts, providers=['CPUExecutionProvider'])


def ort_runner(model: bytes, threads: int) -> Runner:
    """A runner: (B, 1, S, S) float32 CPU tensor -> tuple of float32 CPU tensors."""
    session = ort_session(model, threads)
    name = session.get_inputs()[0].name

    def run(patch: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = session.run(None, {name: patch.detach().contiguous().numpy()})
        return tuple(torch.from_numpy(o) for o in outs)
    return run


def _boundary_layers(proto) -> List[str]:
    """Names of the Conv/Gemm/MatMul nodes next to the graph inputs and outputs.

    They stay in float: quantizing heatmaps would break the sub-pixel decoding (a log-parabola
    fit), the regressed depths are the answer itself, and 8 bits of input depth would be ~1 mm
    steps. Both layers are a negligible share of the FLOPs.
    """
    producer = {o: n for n in proto.graph.node for o in n.output}
    consumers: Dict[str, list] = {}
    for n in proto.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def nearest(tensors: List[str], backward: bool) -> List[str]:
        found, stack, seen = [], list(tensors), set()
        while stack:
            t = stack.pop()
            for node in ([producer[t]] if t in producer else []) if backward else \
                    consumers.get(t, []):
                if node.name in seen:
                    continue
                seen.add(node.name)
                if node.op_type in ('Conv', 'Gemm', 'MatMul'):
                    found.append(node.name)
                else:
                    stack.extend(node.input if backward else node.output)
        return found
    return (nearest([o.name for o in proto.graph.output], True)
            + nearest([i.name for i in proto.graph.input], False))


def quantize_int8(model: bytes, patches: np.ndarray) -> bytes:
    """Static int8 quantization (QDQ, per-channel s8 weights, u8 activations) of an fp32 ONNX.

    ``patches`` (N, 1, S, S) float32 are the calibration inputs (crops the fp32 pipeline made
    of representative frames). The layers next to the inputs and outputs stay in float.
    """
    onnx, _ = _require_onnx()
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if patches.ndim != 4 or len(patches) == 0:
        raise ValueError(f'calibration patches must be (N, 1, S, S) with N > 0, found '
                         f'{patches.shape}')

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{'patch': p[None]} for p in patches.astype(np.float32)])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory(prefix='hand_pose_int8_') as tmp:
        src, pre, dst = (Path(tmp) / n for n in ('fp32.onnx', 'pre.onnx', 'int8.onnx'))
        src.write_bytes(model)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        keep_float = _boundary_layers(onnx.load(str(pre)))
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        per_channel=True, nodes_to_exclude=keep_float)
        proto = onnx.load(str(dst))
    meta = onnx.load_from_string(model).metadata_props
    del proto.metadata_props[:]
    proto.metadata_props.extend(meta)
    return proto.SerializeToString()
