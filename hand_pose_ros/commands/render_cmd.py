"""`hand-pose render`: synthetic depth frames as 16-bit PNGs with ICVL-style labels.

Output layout (read back by training/datasets/icvl.py)::

    OUT/Depth/000000.png   uint16 depth in millimetres, 0 = missing, dataset image size
    OUT/labels.txt         one line per frame: "Depth/000000.png u1 v1 d1 ... uJ vJ dJ"
    OUT/render.yaml        how the frames were made (source, dataset, intrinsics, seed, ...)

With --gt, frame names are the 0-based line numbers of the ground-truth file (so --stride
keeps the original numbering) and the labels are the ground truth itself; with --random they
count from 0 and the labels are the sampled hands in the dataset's joint order.
"""
import argparse
import logging
from pathlib import Path
import sys
from typing import List, Tuple

import numpy as np

HELP = 'render synthetic depth frames (16-bit PNG, mm) with ICVL-style labels'
_LOG = logging.getLogger(__name__)
_BATCH = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose render`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ('examples:\n'
                     '  hand-pose render --gt icvl_test_groundtruth_label.txt --dataset icvl '
                     '--out renders/icvl_test\n'
                     '  hand-pose render --random 1000 --out renders/train --seed 1\n\n'
                     'output: OUT/Depth/NNNNNN.png (uint16 mm, 0 = missing), OUT/labels.txt '
                     '("Depth/NNNNNN.png u1 v1 d1 ... uJ vJ dJ"), OUT/render.yaml')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--gt', metavar='FILE',
                        help='ground-truth joints to render: one frame per line, 16 ICVL joints '
                             'x (u v d) = 48 numbers, pixels and mm at the --dataset intrinsics')
    source.add_argument('--random', type=int, metavar='N', help='render N random hands')
    parser.add_argument('--out', required=True, metavar='DIR', help='output folder')
    parser.add_argument('--dataset', default='icvl', choices=('icvl', 'nyu', 'msra'),
                        help='camera intrinsics and image size; with --random also the label '
                             'joint set (icvl: 16 joints, nyu: 14, msra: 21) (default: icvl)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument('--stride', type=int, default=1, metavar='N',
                        help='with --gt: render every N-th line (default: 1)')
    parser.add_argument('--no-background', action='store_true',
                        help='hand and forearm only: no wall, table, body or distractors')
    parser.add_argument('--device', default='cpu', help='torch device: cpu, cuda (default: cpu)')


def read_uvd_file(path: str, num_joints: int = 16) -> np.ndarray:
    """Ground truth (N, J, 3) from a text file of J x (u v d) per line; ValueError names the
    line and what was expected."""
    rows = []
    with open(path, encoding='utf-8') as f:
        for k, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3 * num_joints:
                raise ValueError(f'{path} line {k}: expected {3 * num_joints} numbers '
                                 f'({num_joints} joints x u v d), found {len(fields)}')
            try:
                values = [float(x) for x in fields]
            except ValueError:
                bad = next(x for x in fields if not _is_number(x))
                raise ValueError(f'{path} line {k}: expected numbers, found {bad!r}') from None
            if not np.all(np.isfinite(values)) or min(values[2::3]) <= 0:
                raise ValueError(f'{path} line {k}: expected finite values with depth d > 0 mm')
            rows.append(values)
    if not rows:
        raise ValueError(f'{path}: no frames (expected lines of {3 * num_joints} numbers)')
    return np.asarray(rows, dtype=np.float64).reshape(-1, num_joints, 3)


def _is_number(text: str) -> bool:
    """Whether float(text) succeeds."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def _write_frames(out: Path, names: List[str], depth: np.ndarray, uvd: np.ndarray,
                  labels) -> None:
    """PNG files and label lines of one batch."""
    import cv2
    for name, d, j in zip(names, depth, uvd):
        png = np.clip(np.round(d), 0, 65535).astype(np.uint16)
        if not cv2.imwrite(str(out / 'Depth' / f'{name}.png'), png):
            raise OSError(f'could not write {out / "Depth" / name}.png')
        labels.write(f'Depth/{name}.png ' + ' '.join(f'{x:.3f}' for x in j.reshape(-1)) + '\n')


def _frames(args, gen, spec) -> Tuple[int, object]:
    """(frame count, iterator of (names, depth (b, H, W), uvd (b, J, 3)) batches)."""
    import torch

    from ..core.camera import uvd_to_xyz
    if args.gt is not None:
        uvd = read_uvd_file(args.gt)
        keep = np.arange(0, len(uvd), args.stride)

        def gt_batches():
            for i in range(0, len(keep), _BATCH):
                ids = keep[i:i + _BATCH]
                xyz = torch.from_numpy(uvd_to_xyz(uvd[ids], spec.intrinsics)).float()
                depth = gen.render_joints(xyz).cpu().numpy()
                yield [f'{k:06d}' for k in ids], depth, uvd[ids]
        return len(keep), gt_batches()

    def random_batches():
        for i in range(0, args.random, _BATCH):
            b = gen.sample(min(_BATCH, args.random - i))
            yield ([f'{k:06d}' for k in range(i, i + len(b.uvd))], b.depth_mm.cpu().numpy(),
                   b.uvd.cpu().numpy())
    return args.random, random_batches()


def run(args: argparse.Namespace) -> int:
    """Render and write the frames; exit 2 with one message on bad input."""
    import yaml

    from ..core.specs import dataset_spec
    from ..synthetic import SyntheticGenerator
    if args.stride < 1 or (args.random is not None and args.random < 1):
        print('hand-pose render: --stride and --random must be >= 1', file=sys.stderr)
        return 2
    spec = dataset_spec(args.dataset)
    joint_set = 'icvl16' if args.gt is not None else spec.joint_set.name
    try:
        gen = SyntheticGenerator(spec.intrinsics, joint_set=joint_set, device=args.device,
                                 seed=args.seed, background=not args.no_background)
        count, batches = _frames(args, gen, spec)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f'hand-pose render: {exc}', file=sys.stderr)
        return 2
    out = Path(args.out)
    (out / 'Depth').mkdir(parents=True, exist_ok=True)
    done = 0
    with open(out / 'labels.txt', 'w', encoding='utf-8') as labels:
        for names, depth, uvd in batches:
            _write_frames(out, names, depth, uvd, labels)
            done += len(names)
            _LOG.info('rendered %d / %d frames', done, count)
    info = {'source': f'gt:{args.gt}' if args.gt else 'random', 'dataset': args.dataset,
            'joint_set': joint_set, 'intrinsics': spec.intrinsics.to_dict(), 'seed': args.seed,
            'stride': args.stride, 'frames': done, 'background': not args.no_background,
            'depth_png': 'uint16_mm'}
    (out / 'render.yaml').write_text(yaml.safe_dump(info, sort_keys=False), encoding='utf-8')
    print(f'wrote {done} frames to {out}/Depth and {out}/labels.txt')
    return 0
