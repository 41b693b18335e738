"""`hand-pose train`: train the localizer and the pose net (CPU, one GPU, or torchrun)."""
import argparse
import logging
import sys

HELP = ('train the localizer and the pose network, the hand detector ("task: detector") or '
        'the left/right classifier ("task: side") from a config/train/*.yaml file')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `hand-pose train`."""
    parser.add_argument('--config', required=True,
                        help='training config: a YAML path or a shipped name (config/train/NAME)')
    parser.add_argument('--data-root', default=None,
                        help='dataset folder for real datasets (overrides data.root)')
    parser.add_argument('--out', default='runs/train',
                        help='run folder: checkpoints, pose.pt, localizer.pt, tensorboard/')
    parser.add_argument('--resume', action='store_true',
                        help='continue exactly from OUT/train_state.pt')
    parser.add_argument('--device', default='auto', help='auto (CUDA when present), cpu, cuda')
    parser.add_argument('--steps', type=int, default=None, help='override the step budget')
    parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                        dest='sets', help='override one config value, KEY a dotted path, VALUE '
                        'read as YAML (e.g. --set pose.variant=plain --set optimizer.lr=1e-3); '
                        'repeatable; --resume needs the same overrides')


def run(args: argparse.Namespace) -> int:
    """Run training; exit 2 with one message on a bad config or checkpoint."""
    from dataclasses import replace

    from ..core.checkpoint import CheckpointError
    from ..training.config import load_train_config
    from ..training.trainer import Trainer
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    from ..training.detector_trainer import training_task
    task = training_task(args.config)
    if task in ('detector', 'side'):
        return _run_small_net(args, task)
    try:
        cfg = load_train_config(args.config, args.sets)
        if args.steps is not None:
            cfg = replace(cfg, steps=args.steps)
        trainer = Trainer(cfg, args.out, data_root=args.data_root, device=args.device)
        if args.resume:
            trainer.resume()
    except (ValueError, FileNotFoundError, CheckpointError) as exc:
        print(f'hand-pose train: {exc}', file=sys.stderr)
        return 2
    try:
        metrics = trainer.fit()
    finally:
        trainer.close()
    if trainer.rank == 0:
        saved = ' and '.join(str(p) for p in trainer.weight_files().values())
        print(f'finished {trainer.step} steps in {trainer.wall_s:.0f} s; {metrics}; '
              f'weights in {saved}')
    return 0


def _run_small_net(args: argparse.Namespace, task: str) -> int:
    """Train the hand detector or the left/right classifier (training/*_trainer.py)."""
    from dataclasses import replace

    from ..core.checkpoint import CheckpointError
    from ..training import detector_trainer, side_trainer
    load, trainer_cls = {
        'detector': (detector_trainer.load_detector_train_config,
                     detector_trainer.DetectorTrainer),
        'side': (side_trainer.load_side_train_config, side_trainer.SideTrainer)}[task]
    try:
        cfg = load(args.config, args.sets)
        if args.steps is not None:
            cfg = replace(cfg, steps=args.steps)
        trainer = trainer_cls(cfg, args.out, device=args.device)
        if args.resume:
            trainer.resume()
    except (ValueError, FileNotFoundError, CheckpointError) as exc:
        print(f'hand-pose train: {exc}', file=sys.stderr)
        return 2
    metrics = trainer.fit()
    print(f'finished {trainer.step} steps in {trainer.wall_s:.0f} s; {metrics}; '
          f'weights in {args.out}/{task}.pt')
    return 0
