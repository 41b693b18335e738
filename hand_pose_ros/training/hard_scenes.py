"""Hard scenes for the detector: rendered training scenes a detector gets wrong, kept to train
on again.

The detector's validation misses are mostly hands in plain view that it scores weakly (README,
*Finding hands in a real scene*, where it fails); longer training on fresh scenes, where such
hands are a few in a hundred, did not find them (config/train/detector_cpu_*.yaml).
``mine_hard_scenes`` renders scenes of training seeds (never a validation or evaluation seed),
runs a detector at a threshold and keeps each frame where a seen hand is not found within
FOUND_WITHIN_MM or a detection matches no hand; the detector trainer then adds a batch of them
to every step (``hard_scenes``, ``hard_batch`` of config/train/detector_*.yaml).

    python -m hand_pose_ros.training.hard_scenes DETECTOR.pt --config detector_cpu_hard \\
        --batches 320 --out runs/hard_scenes.pt
"""
import argparse
from dataclasses import fields
import logging
from pathlib import Path
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .detector_trainer import (DetectorTrainConfig, draw_scenes, frame_matches,
                               load_detector_train_config, scene_generator)
from ..core.camera import Intrinsics
from ..core.checkpoint import atomic_torch_save, CheckpointError
from ..core.detection import decode, detector_input
from ..core.nets.detector import HandDetector
from ..synthetic.user_scene import SceneBatch

LOG = logging.getLogger('hand_pose_ros.hard_scenes')
FORMAT = 'hand_pose_ros/hard-scenes/1'
MINING_SEED_OFFSET = 600_000      # mining seeds: seed * 1_000_003 + this + batch index, after
#                                   any training step's (seed * 1_000_003 + step)
# SceneBatch's per-frame tensors: every field but the batch's one camera and its intrinsics
_TENSORS = tuple(f.name for f in fields(SceneBatch) if f.name not in ('intrinsics', 'camera'))


def subset(b: SceneBatch, keep: Sequence[int]) -> SceneBatch:
    """The frames ``keep`` of ``b``."""
    index = torch.as_tensor(list(keep), dtype=torch.long)
    return SceneBatch(**{**{k: getattr(b, k)[index] for k in _TENSORS},
                         'intrinsics': b.intrinsics, 'camera': b.camera})


def concat(batches: Sequence[SceneBatch]) -> SceneBatch:
    """Frames of one camera (same intrinsics) in one batch."""
    first = batches[0]
    return SceneBatch(**{**{k: torch.cat([getattr(b, k) for b in batches]) for k in _TENSORS},
                         'intrinsics': first.intrinsics, 'camera': first.camera})


@torch.inference_mode()
def hard_frames(model: HandDetector, b: SceneBatch, threshold: float, max_hands: int = 2
                ) -> List[int]:
    """The frames of ``b`` (at the detector's sampled resolution) where ``model`` at
    ``threshold`` misses a seen hand or makes a detection matching no hand. Detections are
    placed at the network's own depth (not read from the frame as inference reads it): a
    hand found at the wrong depth is a detector error to train on too."""
    model.eval()
    found = decode(model(detector_input(b.depth_mm, model.config)), model.config, 1,
                   threshold, max_hands, b.intrinsics)
    hard = []
    for i, found_i in enumerate(found):
        _, seen, match = frame_matches(b, i, found_i)
        missed = any(s and m is None for s, m in zip(seen, match))
        false = len(found_i) > sum(m is not None for m in match)
        if missed or false:
            hard.append(i)
    return hard


def mine_hard_scenes(model: HandDetector, cfg: DetectorTrainConfig, batches: int,
                     threshold: float) -> Tuple[Dict[str, SceneBatch], Dict[str, int]]:
    """(camera preset -> its hard frames, counts 'frames' and 'hard') of ``batches`` batches
    of ``cfg``'s training scenes on mining seeds."""
    det = model.config
    gen = scene_generator(cfg, det, cfg.seed)
    kept: Dict[str, List[SceneBatch]] = {}
    frames = hard = 0
    t0 = time.perf_counter()
    for i in range(batches):
        gen.reseed(cfg.seed * 1_000_003 + MINING_SEED_OFFSET + i)
        b = draw_scenes(gen, det, cfg.batch_size)
        keep = hard_frames(model, b, threshold)
        frames, hard = frames + b.depth_mm.shape[0], hard + len(keep)
        if keep:
            kept.setdefault(b.camera, []).append(subset(b, keep))
        if (i + 1) % 20 == 0:
            LOG.info('%d batches (%.0f s): %d hard frames of %d', i + 1,
                     time.perf_counter() - t0, hard, frames)
    return {cam: concat(bs) for cam, bs in kept.items()}, {'frames': frames, 'hard': hard}


def save_hard_scenes(path: Union[str, Path], scenes: Dict[str, SceneBatch],
                     meta: Dict) -> None:
    """Write the hard scenes atomically (one file, torch format)."""
    atomic_torch_save({'format': FORMAT, 'meta': meta, 'cameras': {
        cam: {**{k: getattr(b, k) for k in _TENSORS}, 'intrinsics': b.intrinsics.to_dict()}
        for cam, b in scenes.items()}}, path)


def load_hard_scenes(path: Union[str, Path]) -> Dict[str, SceneBatch]:
    """Camera preset -> hard frames, as save_hard_scenes wrote them (CheckpointError if the
    file is not one)."""
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f'cannot read hard scenes {path}: {exc}') from None
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise CheckpointError(f'{path} is not a hard-scenes file ({FORMAT})')
    return {cam: SceneBatch(**{**{k: d[k] for k in _TENSORS}, 'camera': cam,
                               'intrinsics': Intrinsics.from_dict(d['intrinsics'])})
            for cam, d in data['cameras'].items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Mine hard scenes for a detector and write them (module docstring)."""
    from ..core.checkpoint import load_detector
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('detector', help='the detector checkpoint to mine with')
    parser.add_argument('--config', default='detector_cpu',
                        help='the training config whose scenes (mix, seed, batch) are mined')
    parser.add_argument('--batches', type=int, default=320)
    parser.add_argument('--threshold', type=float, default=0.5)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    cfg = load_detector_train_config(args.config)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model = load_detector(args.detector)[0]
    scenes, counts = mine_hard_scenes(model, cfg, args.batches, args.threshold)
    save_hard_scenes(args.out, scenes, {**counts, 'detector': str(args.detector),
                                        'config': args.config, 'threshold': args.threshold})
    LOG.info('%d hard frames of %d (%s) written to %s', counts['hard'], counts['frames'],
             ', '.join(f'{c} {b.depth_mm.shape[0]}' for c, b in scenes.items()), args.out)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
