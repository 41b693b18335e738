"""`hand-pose export`: write the networks as ONNX or TorchScript for other runtimes.

The pose network goes to OUT; its localizer (when the model has one) goes beside it as
``<OUT stem>_localizer<OUT suffix>``, where HandPoseEstimator.from_files(OUT) finds it.
Each file carries its config; the exported fp32 graph is checked against the eager network.
"""
import argparse
from pathlib import Path
import sys

HELP = 'export the pose network (and its localizer) as ONNX or TorchScript'
SUFFIXES = {'onnx': '.onnx', 'torchscript': '.ts'}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose export`."""
    parser.add_argument('--format', required=True, choices=tuple(SUFFIXES),
                        help='onnx (run by ONNX Runtime, pip install .[onnx]) or torchscript')
    parser.add_argument('--model', default='default',
                        help='a shipped name, a checkpoint path, or NAME-random')
    parser.add_argument('--localizer', default='default',
                        help="'default' (the model's own), 'none', a name or a path")
    parser.add_argument('--out', required=True, help='output file of the pose network')


def _check(net, path: Path) -> float:
    """Largest |exported - eager| output on a random crop (the file loads and runs)."""
    import torch

    from ..core.exported import InferenceGraph, load_exported, ort_runner
    exported = load_exported(path)
    s = net.config.input_size
    patch = torch.rand(2, 1, s, s) * 2 - 1
    run = (ort_runner(exported.onnx, torch.get_num_threads())
           if exported.backend == 'onnxruntime' else exported.module)
    with torch.no_grad():
        return max(float((a - b).abs().max())
                   for a, b in zip(run(patch), InferenceGraph(net).eval()(patch)))


def run(args: argparse.Namespace) -> int:
    """Export; exit 2 with one message on a bad model, option or missing dependency."""
    from ..benchmark.models import build_estimator
    from ..core.checkpoint import CheckpointError
    from ..core.exported import ExportedNet, save_onnx, save_torchscript
    out = Path(args.out)
    if out.suffix != SUFFIXES[args.format]:
        print(f'hand-pose export: --out must end in {SUFFIXES[args.format]} for '
              f'--format {args.format}, found {out.name!r}', file=sys.stderr)
        return 2
    try:
        est = build_estimator(args.model, args.localizer, device='cpu', precision='fp32',
                              optimize='none')
        if isinstance(est.model, ExportedNet):
            raise ValueError(f'{args.model} is already exported; pass a checkpoint')
        save = save_onnx if args.format == 'onnx' else save_torchscript
        out.parent.mkdir(parents=True, exist_ok=True)
        written = [(est.model, save(est.model, out))]
        if est.localizer is not None:
            loc_out = out.with_name(out.stem + '_localizer' + out.suffix)
            written.append((est.localizer, save(est.localizer, loc_out)))
        for net, path in written:
            print(f'{path}: {type(net).__name__} ({args.format}), max |exported - eager| '
                  f'= {_check(net, path):.2e} on a random crop')
    except (CheckpointError, FileNotFoundError, ImportError, ValueError, OSError) as exc:
        print(f'hand-pose export: {exc}', file=sys.stderr)
        return 2
    return 0
