"""Hand region: centre of mass of the nearest blob, and the 3D-cube crop with its inverse.

Coordinates: image (u, v) in pixels with pixel centres at integers, depth in mm. A crop maps
image uvd to *normalised* crop coordinates in [-1, 1]^3: u_n, v_n span the cube's projection
(pixel centre i of an S-pixel crop sits at (2i + 1) / S - 1) and d_n = (d - d_centre) / (cube / 2).
Heatmaps and network outputs use the same normalised coordinates at any resolution, so one
``CropTransform`` maps every prediction back to the image (steps: centre -> affine -> resample
-> normalise depth, each a named function below).
"""
from dataclasses import dataclass
from typing import Optional, Union

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .camera import Intrinsics, uvd_to_xyz, xyz_to_uvd
from .skeleton import center_joints

MIN_BLOB_PIXELS = 30  # smaller connected regions are sensor noise, not a hand


DEPTH_EDGE_MM = 25.0  # a jump larger than this between neighbours separates two surfaces


def _surface_mask(depth_mm: np.ndarray, in_range: np.ndarray) -> np.ndarray:
    """In-range pixels that are not on a depth discontinuity (so touching objects split)."""
    d = depth_mm
    edge = np.zeros(d.shape, bool)
    jump_v = np.abs(d[1:] - d[:-1]) > DEPTH_EDGE_MM
    jump_h = np.abs(d[:, 1:] - d[:, :-1]) > DEPTH_EDGE_MM
    edge[1:] |= jump_v
    edge[:-1] |= jump_v
    edge[:, 1:] |= jump_h
    edge[:, :-1] |= jump_h
    return in_range & ~edge


def _nearest_blob(mask: np.ndarray, depth_mm: np.ndarray) -> Optional[np.ndarray]:
    """Boolean mask of the connected region of ``mask`` nearest to the camera."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=4)
    candidates = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= MIN_BLOB_PIXELS]
    if not candidates:
        return None
    if len(candidates) == 1:
        return labels == candidates[0]
    best, best_near = None, np.inf
    for k in candidates:
        x, y, w, h = (stats[k, i] for i in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP,
                                            cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
        box = labels[y:y + h, x:x + w] == k
        near = np.percentile(depth_mm[y:y + h, x:x + w][box], 5)  # robust nearest depth (mm)
        if near < best_near:
            best, best_near = k, near
    return labels == best


def center_of_mass(depth_mm: np.ndarray, near_mm: float, far_mm: float,
                   cube_mm: float = 250.0,
                   intr: Optional[Intrinsics] = None) -> Optional[np.ndarray]:
    """Centre of mass (u, v pixels; d mm) of the nearest hand-sized region, or None.

    Pixels within [near_mm, far_mm], split at depth discontinuities, form connected regions;
    the one nearest the camera wins (a hand held in front of the body, a wall or a table).
    Within it, only pixels within half a cube of its nearest surface are kept (the hand, not
    the arm it continues into), then the centre is refined once inside the 3D cube around the
    first estimate (its projected extent too when ``intr`` is given).
    """
    if depth_mm.ndim != 2:
        raise ValueError(f'depth must be (H, W), found shape {depth_mm.shape}')
    in_range = (depth_mm >= near_mm) & (depth_mm <= far_mm)
    if not in_range.any():
        return None
    blob = _nearest_blob(_surface_mask(depth_mm, in_range), depth_mm)
    if blob is None:
        blob = _nearest_blob(in_range, depth_mm)      # a tiny or very noisy hand: no splitting
        if blob is None:
            return None
    vs, us = np.nonzero(blob)
    ds = depth_mm[vs, us]
    near = np.percentile(ds, 2)
    keep = ds <= near + cube_mm / 2
    us, vs, ds = us[keep], vs[keep], ds[keep]
    com = np.array([us.mean(), vs.mean(), ds.mean()], dtype=np.float64)
    # Refine: pixels inside the cube (depth and projected extent) around the first estimate.
    inside = np.abs(ds - com[2]) <= cube_mm / 2
    if intr is not None:
        scale = 0.5 * cube_mm / max(float(com[2]), 1.0)                   # pixels per fx
        inside &= ((np.abs(us - com[0]) <= scale * intr.fx)
                   & (np.abs(vs - com[1]) <= scale * intr.fy))
    if inside.sum() >= MIN_BLOB_PIXELS:
        com = np.array([us[inside].mean(), vs[inside].mean(), ds[inside].mean()])
    return com.astype(np.float32)


@dataclass(frozen=True)
class CropTransform:
    """Batched map between image uvd and normalised crop coordinates (see module docstring).

    ``affine`` (B, 2, 3) takes image (u, v, 1) to normalised (u_n, v_n); depth is normalised by
    ``center_d`` (B,) and ``half_depth_mm`` (B,). Mirroring and in-plane rotation are part of
    the affine, so ``from_normalized`` undoes them too.
    """

    affine: torch.Tensor          # (B, 2, 3)
    center_d: torch.Tensor        # (B,) mm
    half_depth_mm: torch.Tensor   # (B,) mm
    size: int                     # crop edge in pixels

    def to_normalized(self, uvd: torch.Tensor) -> torch.Tensor:
        """(B, J, 3) image uvd -> (B, J, 3) normalised crop coordinates."""
        uv = torch.einsum('bij,bkj->bki', self.affine[:, :, :2], uvd[..., :2])
        uv = uv + self.affine[:, None, :, 2]
        d = (uvd[..., 2] - self.center_d[:, None]) / self.half_depth_mm[:, None]
        return torch.cat([uv, d[..., None]], dim=-1)

    def from_normalized(self, nuvd: torch.Tensor) -> torch.Tensor:
        """(B, J, 3) normalised crop coordinates -> (B, J, 3) image uvd."""
        inv = inverse_2x2(self.affine[:, :, :2])                            # (B, 2, 2)
        uv = torch.einsum('bij,bkj->bki', inv, nuvd[..., :2] - self.affine[:, None, :, 2])
        d = nuvd[..., 2] * self.half_depth_mm[:, None] + self.center_d[:, None]
        return torch.cat([uv, d[..., None]], dim=-1)

    def to_patch_pixels(self, nuvd: torch.Tensor) -> torch.Tensor:
        """(B, J, >=2) normalised coordinates -> (B, J, 2) pixel coordinates in the crop."""
        return (nuvd[..., :2] + 1) * (self.size / 2) - 0.5


def inverse_2x2(m: torch.Tensor) -> torch.Tensor:
    """The inverses of (B, 2, 2) matrices in closed form (a crop's scale, mirror and rotation:
    never singular); per frame far cheaper than a general batched inverse."""
    a, b, c, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    det = (a * d - b * c)[:, None, None]
    return torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / det


def affine_grid(theta: torch.Tensor, size: int) -> torch.Tensor:
    """``F.affine_grid(theta, [B, 1, size, size], align_corners=False)`` for (B, 2, 3)
    ``theta``, computed as two broadcast sums: the same sampling points, at a fraction of the
    cost on a CPU for one or two crops (torch's took 0.4 ms a call in the followed loop)."""
    base = (torch.arange(size, device=theta.device, dtype=theta.dtype) * 2 + 1) / size - 1
    x, y = base.view(1, 1, size), base.view(1, size, 1)
    t = theta[:, :, :, None, None]                                          # (B, 2, 3, 1, 1)
    return (t[:, :, 0] * x[:, None] + t[:, :, 1] * y[:, None] + t[:, :, 2]).permute(0, 2, 3, 1)


def crop_transform(center_uvd: torch.Tensor, intr: Intrinsics, cube_mm: Union[float, torch.Tensor],
                   size: int, rotation_rad: Optional[torch.Tensor] = None,
                   mirror: Union[bool, torch.Tensor] = False) -> CropTransform:
    """The transform of a cube of edge ``cube_mm`` centred at ``center_uvd`` (B, 3).

    ``rotation_rad`` (B,) rotates the crop in the image plane (augmentation); ``mirror`` (one
    bool or (B,) bools) flips it horizontally (a left hand then looks like a right hand to the
    network).
    """
    b = center_uvd.shape[0]
    dev, dt = center_uvd.device, center_uvd.dtype
    cube = torch.as_tensor(cube_mm, device=dev, dtype=dt).expand(b)
    cd = center_uvd[:, 2].clamp_min(1.0)
    half_u = cube / 2 * intr.fx / cd                                        # (B,) pixels
    half_v = cube / 2 * intr.fy / cd
    lin = torch.zeros(b, 2, 2, device=dev, dtype=dt)
    flip = torch.as_tensor(mirror, device=dev).expand(b)
    lin[:, 0, 0] = torch.where(flip, -1.0, 1.0).to(dt) / half_u
    lin[:, 1, 1] = 1.0 / half_v
    if rotation_rad is not None:
        c, s = torch.cos(rotation_rad), torch.sin(rotation_rad)
        rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (B, 2, 2)
        lin = lin @ rot
    shift = -torch.einsum('bij,bj->bi', lin, center_uvd[:, :2])
    return CropTransform(torch.cat([lin, shift[..., None]], dim=-1), cd, cube / 2, size)


def crop_depth(depth_mm: torch.Tensor, transform: CropTransform) -> torch.Tensor:
    """Resample (B, H, W) depth (mm, 0 = missing) into (B, 1, S, S) normalised crops; one frame
    (1, H, W) serves every crop of a batch of B transforms (no copy of the frame per crop).

    Nearest-neighbour resampling (no depth mixing across edges); missing depth and everything
    behind the cube become +1, everything in front of it -1.
    """
    frames, h, w = depth_mm.shape
    b, s = transform.affine.shape[0], transform.size
    if frames not in (1, b):
        raise ValueError(f'crop_depth: {frames} frames for {b} crops (give 1 or {b})')
    dt = transform.affine.dtype
    # crop pixel centres (normalised) -> image pixels (the inverse affine) -> grid_sample's
    # normalised image coordinates, (2u + 1) / w - 1: one affine map, one affine_grid
    inv = inverse_2x2(transform.affine[:, :, :2])                           # (B, 2, 2)
    to_image = torch.cat([inv, -(inv @ transform.affine[:, :, 2:])], dim=-1)  # (B, 2, 3)
    scale = torch.tensor([2.0 / w, 2.0 / h], device=depth_mm.device, dtype=dt)
    theta = to_image * scale[:, None]
    theta[:, :, 2] += scale / 2 - 1.0
    grid = affine_grid(theta, s)                                            # (B, S, S, 2)
    if frames != b:                                    # one frame: the crops side by side
        grid = grid.reshape(1, b * s, s, 2)
    patch = F.grid_sample(depth_mm[:, None].to(dt), grid, mode='nearest',
                          padding_mode='zeros', align_corners=False).reshape(b, 1, s, s)
    norm = (patch - transform.center_d.view(b, 1, 1, 1)) / transform.half_depth_mm.view(b, 1, 1, 1)
    return torch.where(patch > 0, norm.clamp(-1.0, 1.0), torch.ones_like(norm))


def crop_cube(depth_mm: torch.Tensor, center_uvd: torch.Tensor, intr: Intrinsics,
              cube_mm: Union[float, torch.Tensor], size: int,
              mirror: Union[bool, torch.Tensor] = False,
              rotation_rad: Optional[torch.Tensor] = None):
    """Crop (B, H, W) depth around ``center_uvd`` (B, 3): returns (patch (B,1,S,S), transform)."""
    t = crop_transform(center_uvd, intr, cube_mm, size, rotation_rad=rotation_rad, mirror=mirror)
    return crop_depth(depth_mm, t), t


def hand_center_uvd(uvd: torch.Tensor, intr: Intrinsics,
                    joint_set: Optional[str] = None) -> torch.Tensor:
    """(B, J, 3) joints (uvd) -> (B, 3) uvd of the centre of their 3D bounding box.

    This is the point the localizer learns to find and the pose crop is centred on. With
    ``joint_set`` named, only its centre joints count (core.skeleton.center_joints: the
    ICVL16 joints of a whole hand), so every joint set has the same centre.
    """
    if joint_set is not None:
        uvd = uvd[..., list(center_joints(joint_set)), :]
    xyz = uvd_to_xyz(uvd, intr)
    mid = (xyz.amax(dim=-2) + xyz.amin(dim=-2)) / 2
    return xyz_to_uvd(mid, intr)
