"""Finding hands in a whole depth frame with the learned detector (nets/detector.py).

The frame is sampled every s-th pixel (nearest, no depth mixing), s chosen so the sampled focal
length comes nearest the detector's ``focal_px``; the sampled frame is padded with missing depth
to multiples of 16. Sampled pixel i is frame pixel s * i + s // 2, so the sampled intrinsics
are fx / s and (cx - s // 2) / s. Output cell k covers sampled pixels [4k, 4k + 3]: its
centre is sampled pixel 4k + 1.5. Peaks of the heat map (3x3 maxima above a threshold) are
hands; two peaks whose 3D centres lie closer than MIN_HAND_SEPARATION_MM are one hand.
"""
from dataclasses import dataclass, replace
from typing import List, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from .camera import Intrinsics, uvd_to_xyz
from .config import DetectorConfig
from .nets.detector import DOWN, split

# Depth of a detected hand from the frame itself: the median depth within SURFACE_RADIUS_MM of
# the detection (pixels within SURFACE_BAND_MM of the network's depth, so a wall or a table
# behind and a forearm or held object in front do not count) plus SURFACE_BEHIND_MM, the hand
# centre lying inside the hand. Chosen on the held-out validation scenes of
# training/detector_trainer.py (seeds 7_000_001+, threshold 0.5) with the detector trained with
# its batch-norm statistics frozen (config/train/detector_cpu_frozen_norm.yaml), whose own depth
# puts 90 / 73 / 72 % of third-person / egocentric / robot hands within 40 mm: a band of 200 /
# 80 / 60 / 40 mm found 90 / 58 / 71, 88 / 73 / 75, 90 / 78 / 74 and 90 / 77 / 76 % (the wide
# band let the nearer forearm of egocentric views in), 20 mm behind the surface 90 / 78 / 74 %
# against 91 / 66 / 73 % at 10 mm and 82 / 77 / 72 % at 30 mm (`python -m
# hand_pose_ros.training.detector_trainer models/compact_detector.pt --thresholds 0.5
# --depth-bands 200,80,60,40 --depth-behind 10,20,30 --no-fallback`).
# When no pixel lies in that band (the network's depth far off: an untrained or foreign
# detector, a hand at a depth it never saw), the wider SURFACE_FALLBACK_BAND_MM is used, so
# the crop still lands on the surface there (validation: 90 / 77 / 74 % with it; end to end
# on the validation and test scenes of `hand-pose eval --scenes` the same figures).
SURFACE_RADIUS_MM = 40.0
SURFACE_BAND_MM = 60.0
SURFACE_FALLBACK_BAND_MM = 200.0
SURFACE_BEHIND_MM = 20.0
# Two hand centres are at least a palm's width apart (the centre of the joints' 3D box of two
# hands touching palm to palm: about 60 mm); closer peaks are one hand seen twice.
MIN_HAND_SEPARATION_MM = 80.0
MAX_PEAKS = 8  # peaks examined per frame before separation and max_hands


@dataclass(frozen=True)
class Detection:
    """One hand found in a frame: its centre (frame u, v pixels; d mm), score and side."""

    center_uvd: np.ndarray   # (3,) float32
    score: float             # heat at the peak, in [0, 1]
    left_prob: float         # probability that it is a left hand, in [0, 1]

    @property
    def side(self) -> str:
        """'left' or 'right' by the more probable side."""
        return 'left' if self.left_prob > 0.5 else 'right'


def sampling_stride(intr: Intrinsics, focal_px: float) -> int:
    """The pixel step s >= 1 whose sampled focal length fx / s comes nearest ``focal_px``."""
    return max(1, int(round(intr.fx / focal_px)))


def to_sampled_pixels(x: Union[float, torch.Tensor], stride: int) -> Union[float, torch.Tensor]:
    """Full-frame pixel coordinate(s) ``x`` -> the same point in pixels of the frame sampled
    every ``stride``-th pixel from pixel stride // 2 (decode maps back)."""
    return (x - stride // 2) / stride


def sampled_intrinsics(intr: Intrinsics, stride: int) -> Intrinsics:
    """Intrinsics of the frame sampled every ``stride``-th pixel from pixel stride // 2."""
    off = stride // 2
    return Intrinsics(intr.fx / stride, intr.fy / stride, to_sampled_pixels(intr.cx, stride),
                      to_sampled_pixels(intr.cy, stride), len(range(off, intr.width, stride)),
                      len(range(off, intr.height, stride)))


def detector_input(depth_mm: torch.Tensor, cfg: DetectorConfig) -> torch.Tensor:
    """(B, h, w) sampled depth mm (0 = missing) -> (B, 2, H, W) [depth / scale - 1, valid],
    padded with missing depth to multiples of 16."""
    b, h, w = depth_mm.shape
    valid = (depth_mm > 0).to(torch.float32)
    norm = torch.where(depth_mm > 0, depth_mm.float() / cfg.depth_scale_mm - 1.0,
                       torch.zeros_like(valid))
    x = torch.stack([norm, valid], 1)
    return F.pad(x, (0, (-w) % DOWN, 0, (-h) % DOWN))


def sample_frames(depth_mm: torch.Tensor, intr: Intrinsics,
                  cfg: DetectorConfig) -> Tuple[torch.Tensor, Intrinsics, int]:
    """(B, H, W) frames mm -> (sampled (B, h, w) mm, their intrinsics, the stride)."""
    s = sampling_stride(intr, cfg.focal_px)
    off = s // 2
    return depth_mm[:, off::s, off::s], sampled_intrinsics(intr, s), s


def decode(maps: torch.Tensor, cfg: DetectorConfig, stride: int, threshold: float,
           max_hands: int, intr: Intrinsics) -> List[List[Detection]]:
    """Raw detector maps (B, 5, H/4, W/4) -> per frame, hands in frame coordinates (highest
    score first, at most ``max_hands``, scores >= ``threshold``, MIN_HAND_SEPARATION_MM apart).

    ``intr`` are the full frame's intrinsics; ``stride`` the sampling step used."""
    out = split(maps.float())
    heat = torch.sigmoid(out.heat)                                       # (B, h, w)
    peak = heat == F.max_pool2d(heat[:, None], 3, 1, 1)[:, 0]
    scores = torch.where(peak, heat, torch.zeros_like(heat)).flatten(1)
    k = min(MAX_PEAKS, scores.shape[1])
    top, idx = scores.topk(k, dim=1)
    wc = heat.shape[2]
    rows, cols = idx // wc, idx % wc
    cell = float(cfg.cell_px)
    result = []
    for b in range(heat.shape[0]):
        found: List[Detection] = []
        centres: List[np.ndarray] = []
        for j in range(k):
            score = float(top[b, j])
            if score < threshold or len(found) >= max_hands:
                break
            r, c = int(rows[b, j]), int(cols[b, j])
            du, dv = (float(v) for v in out.offset[b, :, r, c])
            u_s = (c + 0.5 + du) * cell - 0.5                # sampled pixels
            v_s = (r + 0.5 + dv) * cell - 0.5
            d = (float(out.depth[b, r, c]) + 1.0) * cfg.depth_scale_mm
            uvd = np.array([u_s * stride + stride // 2, v_s * stride + stride // 2, d],
                           np.float32)
            if d <= 0:
                continue
            xyz = uvd_to_xyz(torch.from_numpy(uvd[None].astype(np.float64)), intr)[0].numpy()
            if any(np.linalg.norm(xyz - c2) < MIN_HAND_SEPARATION_MM for c2 in centres):
                continue
            centres.append(xyz)
            found.append(Detection(uvd, score, float(torch.sigmoid(out.side[b, r, c]))))
        result.append(found)
    return result


def surface_depth(frame_mm: np.ndarray, det: Detection, intr: Intrinsics,
                  band_mm: float = SURFACE_BAND_MM, behind_mm: float = SURFACE_BEHIND_MM,
                  fallback_band_mm: float = SURFACE_FALLBACK_BAND_MM) -> Detection:
    """``det`` with its depth taken from the frame (SURFACE_* above; the keywords, mm, for the
    sweep that chose them: ``fallback_band_mm`` 0 for none); unchanged when no valid pixel lies
    within the bands."""
    u, v, d = (float(x) for x in det.center_uvd)
    r = max(2, int(round(SURFACE_RADIUS_MM * intr.fx / max(d, 1.0))))
    iu, iv = int(round(u)), int(round(v))
    win = frame_mm[max(iv - r, 0):iv + r + 1, max(iu - r, 0):iu + r + 1]
    win = win[win > 0]
    off = np.abs(win - d)
    near = win[off < band_mm]
    win = near if near.size else win[off < fallback_band_mm]
    if win.size == 0:
        return det
    center = det.center_uvd.copy()
    center[2] = float(np.median(win)) + behind_mm
    return replace(det, center_uvd=center)
