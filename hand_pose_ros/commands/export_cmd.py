"""`hand-pose export`: write the networks as ONNX or TorchScript for other runtimes.

The pose network goes to OUT; its localizer and hand detector (when the model has them) go
beside it as ``<OUT stem>_localizer<OUT suffix>`` and ``<OUT stem>_detector<OUT suffix>``,
where HandPoseEstimator.from_files(OUT) finds them. Each file carries its config; the exported
fp32 graph is checked against the eager network (the detector on a frame size other than the
traced one: its height and width are dynamic).
"""
import argparse
from pathlib import Path
import sys

HELP = 'export the pose network (and its localizer and hand detector) as ONNX or TorchScript'
# The detector is checked on a sampled frame of another size than the traced one.
CHECK_DETECTOR_HW = (64, 112)
SUFFIXES = {'onnx': '.onnx', 'torchscript': '.ts'}
DETECTOR_HELP = ("hand detector: 'default' (the model's own: shipped, or <stem>_detector beside "
                 "the file), 'none' (nearest blob), 'random' (random weights of the default "
                 'DetectorConfig: it times as a trained one) or a path')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose export`."""
    parser.add_argument('--format', required=True, choices=tuple(SUFFIXES),
                        help='onnx (run by ONNX Runtime, pip install .[onnx]) or torchscript')
    parser.add_argument('--model', default='default',
                        help='a shipped name, a checkpoint path, or NAME-random')
    parser.add_argument('--localizer', default='default',
                        help="'default' (the model's own), 'none', a name or a path")
    parser.add_argument('--detector', default='default', help=DETECTOR_HELP)
    parser.add_argument('--out', required=True, help='output file of the pose network')


def _check(net, path: Path) -> float:
    """Largest |exported - eager| output on a random crop (the file loads and runs)."""
    import torch

    from ..core.exported import example_input, InferenceGraph, kind_of, load_exported, \
        ort_runner
    exported = load_exported(path)
    x = torch.rand_like(example_input(kind_of(net), net.config, 2, CHECK_DETECTOR_HW)) * 2 - 1
    run = (ort_runner(exported.onnx, torch.get_num_threads())
           if exported.backend == 'onnxruntime' else exported.module)
    with torch.no_grad():
        return max(float((a - b).abs().max())
                   for a, b in zip(run(x), InferenceGraph(net).eval()(x)))


def run(args: argparse.Namespace) -> int:
    """Export; exit 2 with one message on a bad model, option or missing dependency."""
    from ..benchmark.models import build_estimator
    from ..core.checkpoint import CheckpointError
    from ..core.exported import beside, ExportedNet, save_onnx, save_torchscript
    out = Path(args.out)
    if out.suffix != SUFFIXES[args.format]:
        print(f'hand-pose export: --out must end in {SUFFIXES[args.format]} for '
              f'--format {args.format}, found {out.name!r}', file=sys.stderr)
        return 2
    try:
        est = build_estimator(args.model, args.localizer, args.detector, device='cpu',
                              precision='fp32', optimize='none')
        for net in (est.model, est.hand_detector):
            if isinstance(net, ExportedNet):
                raise ValueError(f'{net.path} is already exported; pass a checkpoint')
        save = save_onnx if args.format == 'onnx' else save_torchscript
        out.parent.mkdir(parents=True, exist_ok=True)
        written = [(est.model, save(est.model, out))]
        for kind, net in (('localizer', est.localizer), ('detector', est.hand_detector)):
            if net is not None:
                written.append((net, save(net, beside(out, kind))))
        for net, path in written:
            print(f'{path}: {type(net).__name__} ({args.format}), max |exported - eager| '
                  f'= {_check(net, path):.2e} on a random input')
    except (CheckpointError, FileNotFoundError, ImportError, ValueError, OSError) as exc:
        print(f'hand-pose export: {exc}', file=sys.stderr)
        return 2
    return 0
