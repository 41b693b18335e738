"""Derive the HAND22 skeleton (config/synthetic.yaml) from the ICVL test ground truth.

Only the *skeleton* is measured, never poses: the ICVL test set is a fitted fixed-length
skeleton (bone lengths vary by 2-4 mm), so its per-bone medians and the median positions of the
rigid palm joints in the palm frame describe one hand's geometry. Steps:

1. The 15 ICVL16 bone medians (3D, mm) with the ICVL intrinsics (core.specs).
2. Palm layout: median palm-frame position of each finger MCP (ICVL "root") and of the thumb
   root, re-expressed in the frame they define themselves (so :func:`palm_frame` of the model
   hand is exactly the identity) and rescaled so |palm -> MCP| equals step 1's median.
3. Rigid bones copy their medians: palm -> MCP, MCP -> PIP (ICVL root -> mid), thumb
   MCP -> IP and IP -> tip (the thumb's root -> mid, mid -> tip).
4. Bones that ICVL16 skips are solved against the sampler (poses.sample_angles, fixed seed)
   so the *sampled* ICVL16 bones have the measured medians: a finger's middle + distal
   phalanx (ICVL mid -> tip is the chord PIP -> tip, which shortens as the DIP flexes; the
   split uses hand_model.MIDDLE_SHARE), and the thumb metacarpal (ICVL palm -> thumb root
   moves with the CMC; its direction at rest points at the measured thumb root).
5. Wrist and thumb CMC positions are anatomical assumptions (hand_model constants).

Run ``python -m hand_pose_ros.synthetic.measure`` to print the result, ``--write`` to update
config/synthetic.yaml. The reference folder is ``$HAND_POSE_REFERENCE_DIR`` or
``../shared/reference/hand-pose-eval`` beside the source tree; it is read, never copied.
"""
import argparse
from dataclasses import replace
import os
from pathlib import Path
import sys
from typing import List, Optional

import numpy as np
import torch
import yaml

from .hand_model import (DIP_PER_PIP, FINGERS, forward_kinematics, HAND22_PALM, HandAngles,
                         HandSkeleton, ICVL16_MCP, ICVL16_PALM, MIDDLE_SHARE, palm_frame,
                         THUMB_CMC_FROM_WRIST_MM, WRIST_PER_MIDDLE_MCP)
from .poses import sample_angles
from ..core.camera import uvd_to_xyz
from ..core.skeleton import FROM_HAND22, ICVL16
from ..core.specs import dataset_spec

ICVL_GT = 'groundtruth/icvl/icvl_test_groundtruth_label.txt'
SOLVE_SAMPLES, SOLVE_SEED = 20000, 12345


def reference_dir() -> Optional[Path]:
    """The reference folder ($HAND_POSE_REFERENCE_DIR or ../shared/reference/...), or None."""
    env = os.environ.get('HAND_POSE_REFERENCE_DIR')
    repo = Path(__file__).resolve().parents[2]
    for cand in ([Path(env)] if env else []) + [repo.parent / 'shared/reference/hand-pose-eval']:
        if (cand / ICVL_GT).is_file():
            return cand
    return None


def load_icvl_xyz(path: Path) -> np.ndarray:
    """ICVL ground truth (N, 16, 3) camera-frame mm from a file of 48 u v d numbers per line."""
    uvd = np.loadtxt(path, dtype=np.float64, ndmin=2)
    if uvd.shape[1] != 48:
        raise ValueError(f'{path}: expected 48 numbers per line, found {uvd.shape[1]}')
    return uvd_to_xyz(uvd.reshape(-1, 16, 3), dataset_spec('icvl').intrinsics)


def bone_medians(xyz16: np.ndarray) -> List[float]:
    """Median 3D length (mm) of each ICVL16 bone, in ``ICVL16.bones`` order."""
    return [float(np.median(np.linalg.norm(xyz16[:, c] - xyz16[:, p], axis=-1)))
            for p, c in ICVL16.bones]


def sampled_bone_medians(skel: HandSkeleton, n: int = SOLVE_SAMPLES,
                         seed: int = SOLVE_SEED) -> List[float]:
    """ICVL16 bone medians (mm) of n hands drawn by the pose sampler with this skeleton."""
    hand22 = forward_kinematics(sample_angles(n, torch.Generator().manual_seed(seed)), skel)
    return bone_medians(hand22[:, list(FROM_HAND22['icvl16'])].double().numpy())


def _palm_local(xyz16: np.ndarray) -> np.ndarray:
    """Joints (N, 16, 3) in each frame's palm frame."""
    t = torch.from_numpy(xyz16)
    rot = palm_frame(t[:, ICVL16_PALM], t[:, list(ICVL16_MCP)], left=True)  # ICVL: left
    return ((t - t[:, ICVL16_PALM, None]) @ rot).numpy()


def derive_skeleton(xyz16: np.ndarray) -> HandSkeleton:
    """The HAND22 skeleton whose sampled ICVL16 bones match the medians of ``xyz16``."""
    targets = bone_medians(xyz16)
    length = dict(zip(ICVL16.bones, targets))
    layout = np.median(_palm_local(xyz16), axis=0)                      # (16, 3)
    mcp = np.stack([layout[j] / np.linalg.norm(layout[j]) * length[(0, j)] for j in ICVL16_MCP])
    rot = palm_frame(torch.zeros(3, dtype=torch.float64), torch.from_numpy(mcp),
                     left=True).numpy()
    mcp, thumb_root = mcp @ rot, layout[1] @ rot                        # into their own frame
    wrist = np.array([0.0, -WRIST_PER_MIDDLE_MCP * np.linalg.norm(mcp[1]), 0.0])
    cmc = wrist + np.array(THUMB_CMC_FROM_WRIST_MM)
    rest_dir = (thumb_root - cmc) / np.linalg.norm(thumb_root - cmc)
    fingers = []
    for f, j in enumerate(ICVL16_MCP):
        fingers.append((length[(j, j + 1)], MIDDLE_SHARE[f], 1.0 - MIDDLE_SHARE[f]))
    skel = HandSkeleton(tuple(map(tuple, mcp)), tuple(fingers), tuple(cmc), tuple(rest_dir),
                        (float(np.linalg.norm(thumb_root - cmc)), length[(1, 2)],
                         length[(2, 3)]), tuple(wrist), tuple(targets))
    # Finger chord PIP -> tip is linear in (middle + distal): one rescale per finger.
    got = sampled_bone_medians(skel)
    bones = list(ICVL16.bones)
    ratio = [targets[bones.index((j + 1, j + 2))] / got[bones.index((j + 1, j + 2))]
             for j in ICVL16_MCP]
    fingers = tuple((p, m * r, d * r) for (p, m, d), r in zip(skel.finger_mm, ratio))
    # Thumb: at the sampler's median CMC angles the metacarpal points at the measured root;
    # its length is the one whose sampled palm -> thumb MCP median is the measured one.
    angles = sample_angles(SOLVE_SAMPLES, torch.Generator().manual_seed(SOLVE_SEED))
    rest = _rest_direction(thumb_root - cmc, float(angles.thumb_cmc_flex.median()),
                           float(angles.thumb_cmc_abd.median()))
    skel = replace(skel, finger_mm=fingers, thumb_rest_dir=tuple(rest))
    best = None
    for grid in (np.arange(5.0, 45.0, 1.0), None):
        if grid is None:
            grid = np.arange(best - 1.0, best + 1.0, 0.05)
        errors = [abs(_thumb_root_median(replace(skel, thumb_mm=(g,) + skel.thumb_mm[1:]),
                                         angles) - targets[0]) for g in grid]
        best = float(grid[int(np.argmin(errors))])
    if min(errors) > 0.5:
        raise ValueError(f'no thumb metacarpal reproduces palm -> thumb root {targets[0]:.1f} mm '
                         f'(closest off by {min(errors):.2f} mm)')
    return replace(skel, thumb_mm=(best,) + skel.thumb_mm[1:])


def _rest_direction(target: np.ndarray, cmc_flex: float, cmc_abd: float) -> np.ndarray:
    """Metacarpal direction at zero CMC angles that the given angles turn towards ``target``
    (inverse of the CMC rotations in hand_model.forward_kinematics)."""
    u0 = target / np.linalg.norm(target)
    elevation = np.arcsin(np.clip(-u0[2], -1.0, 1.0)) - cmc_abd       # towards -z (palmar)
    horiz = np.array([u0[0], u0[1], 0.0]) / np.linalg.norm(u0[:2])
    u1 = np.cos(elevation) * horiz + np.sin(elevation) * np.array([0.0, 0.0, -1.0])
    c, s = np.cos(-cmc_flex), np.sin(-cmc_flex)
    return np.array([u1[0] * c - u1[1] * s, u1[0] * s + u1[1] * c, u1[2]])


def _thumb_root_median(skel: HandSkeleton, angles: HandAngles) -> float:
    """Median palm -> thumb MCP distance (mm) of hands with these joint angles."""
    hand22 = forward_kinematics(angles, skel)
    return float(torch.median((hand22[:, 3] - hand22[:, HAND22_PALM]).norm(dim=-1)))


def main(argv: Optional[List[str]] = None) -> int:
    """Print (or --write) the derived skeleton; exit 2 when the reference is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reference', default=None, help='reference folder (default: auto)')
    parser.add_argument('--write', action='store_true', help='update config/synthetic.yaml')
    args = parser.parse_args(argv)
    ref = Path(args.reference) if args.reference else reference_dir()
    if ref is None or not (ref / ICVL_GT).is_file():
        print(f'measure: ICVL ground truth not found ({ICVL_GT} under {ref}); set '
              'HAND_POSE_REFERENCE_DIR', file=sys.stderr)
        return 2
    skel = derive_skeleton(load_icvl_xyz(ref / ICVL_GT))
    text = yaml.safe_dump({'skeleton': skel.to_dict()}, sort_keys=False, width=99)
    if args.write:
        path = Path(__file__).resolve().parents[2] / 'config' / 'synthetic.yaml'
        path.write_text(HEADER + text, encoding='utf-8')
    sys.stdout.write(text)
    check = sampled_bone_medians(skel, seed=SOLVE_SEED + 1)
    for (p, c), want, got in zip(ICVL16.bones, skel.icvl16_targets_mm, check):
        sys.stdout.write(f'# {ICVL16.joint_names[p]:>12} -> {ICVL16.joint_names[c]:<12} '
                         f'ICVL median {want:6.2f}  sampled median {got:6.2f} mm\n')
    return 0


HEADER = f"""\
# HAND22 skeleton of the synthetic renderer (millimetres, palm frame at hand scale 1).
# GENERATED by `python -m hand_pose_ros.synthetic.measure --write` from the ICVL test ground
# truth (bone-length medians and the median rigid-palm layout only; see measure.py). Finger
# order: {', '.join(FINGERS)}. finger_mm: proximal, middle, distal phalanx; thumb_mm:
# metacarpal, proximal, distal. icvl16_targets_mm: measured medians of the 15 ICVL16 bones in
# core.skeleton.ICVL16.bones order, which sampled hands reproduce. DIP = {DIP_PER_PIP:.3f} x PIP.
"""

if __name__ == '__main__':
    sys.exit(main())
