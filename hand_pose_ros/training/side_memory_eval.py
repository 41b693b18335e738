"""'auto' handedness on video: each frame alone against the side memory (core/side_memory.py).

Held-out single-hand sequences: the animated user of the demo (synthetic/user_scene.py
``animate``: both hands raised, opening and closing, swaying and tilting), one hand at a time
(the image half of the other hand blanked), at several start times and noise seeds never used
in training. Per frame: was the hand found (within 60 mm of its true centre) and called the
right side; per sequence: how often the called side changed; and how many frames the pose
network read the hand one way only (its side settled: core/side_memory.py).

    python -m hand_pose_ros.training.side_memory_eval [--sequences 1] [--frames 16] [--fps 15]
"""
import argparse
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from ..core.camera import uvd_to_xyz, xyz_to_uvd
from ..core.crop import hand_center_uvd
from ..core.estimator import HandPoseEstimator
from ..core.handedness import SIDES
from ..core.side_memory import DEFAULT_HALF_LIFE_FRAMES, SideMemory
from ..synthetic.user_scene import one_hand_frame, UserSceneGenerator

EVAL_SEED = 9_100_000        # noise seeds of the sequences: EVAL_SEED + sequence index
FOUND_MM = 60.0
CAMERA = 'realsense_d435_640x480'


@dataclass
class SideCounts:
    """Frames of one setting: hands found, called right, and side changes between frames."""

    frames: int = 0
    found: int = 0
    right_side: int = 0
    changes: int = 0
    one_way: int = 0

    def as_dict(self) -> Dict[str, float]:
        """Counts and the share of found hands called the right side."""
        return {'frames': self.frames, 'found': self.found, 'right_side': self.right_side,
                'side_accuracy': self.right_side / max(self.found, 1),
                'changes': self.changes, 'one_way': self.one_way}


MemoryFactory = Optional[Callable[[], SideMemory]]
SETTINGS: Dict[str, MemoryFactory] = {
    'each frame alone': None,
    'memory, both ways always': lambda: SideMemory(DEFAULT_HALF_LIFE_FRAMES, one_way_frames=0),
    'memory (the default)': lambda: SideMemory(DEFAULT_HALF_LIFE_FRAMES),
}


def run_sequences(est: HandPoseEstimator, sequences: int, frames: int, fps: float,
                  settings: Dict[str, MemoryFactory]) -> Dict[str, SideCounts]:
    """Counts per named memory setting (a factory, None: each frame alone) over
    ``sequences`` x 2 sides."""
    counts = {h: SideCounts() for h in settings}
    for s in range(sequences):
        gen = UserSceneGenerator(seed=EVAL_SEED + s, full_resolution=True)
        intr = gen.camera(CAMERA)[0]
        start = 3.7 * s
        for side_index, side in enumerate(SIDES):
            memories = {h: (make() if make else None) for h, make in settings.items()}
            last: Dict[str, Optional[str]] = {h: None for h in settings}
            for f in range(frames):
                t = start + f / fps
                depth, hands = gen.animate(t, CAMERA)
                frame = one_hand_frame(depth, intr.cx, side)
                true = hands[side_index][0]                       # ICVL16 joints, mm
                centre = uvd_to_xyz(hand_center_uvd(
                    torch.from_numpy(xyz_to_uvd(true, intr))[None].double(), intr), intr)[0]
                for h in settings:
                    memory = memories[h]        # None: the frame alone
                    poses = est.estimate_batch([frame], intr, side_memory=memory,
                                               t_s=t)[0].hands
                    c = counts[h]
                    c.frames += 1
                    c.one_way += memory is not None and memory.read_one_way(t) > 0
                    near = [p for p in poses
                            if np.linalg.norm(p.center - centre.numpy()) <= FOUND_MM]
                    if not near:
                        continue
                    c.found += 1
                    called = near[0].handedness
                    c.right_side += called == side
                    c.changes += last[h] is not None and called != last[h]
                    last[h] = called
    return counts


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sequences', type=int, default=1)
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--fps', type=float, default=15.0)
    parser.add_argument('--model', default='default')
    args = parser.parse_args(argv)
    est = HandPoseEstimator.from_files(args.model, device='cpu', handedness='auto')
    counts = run_sequences(est, args.sequences, args.frames, args.fps, SETTINGS)
    print(f'{args.sequences} sequences x 2 hands x {args.frames} frames at {args.fps:g} fps '
          f'({CAMERA}, seeds {EVAL_SEED}+; memory half-life {DEFAULT_HALF_LIFE_FRAMES:g} '
          'frames)')
    print('setting                         found   right side   side changes   read one way')
    for name, c in counts.items():
        d = c.as_dict()
        print(f'{name:30s} {d["found"]:6d}   {100 * d["side_accuracy"]:8.1f} %   '
              f'{d["changes"]:6d}         {d["one_way"]:6d}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
