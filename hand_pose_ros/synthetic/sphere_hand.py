"""Sphere-swept depth hands: an ICVL16 pose sampler, a batched z-buffer renderer, a sensor model.

Every bone is a tapered capsule made of spheres, the palm a thick slab of spheres, the forearm a
stub leaving the wrist away from the fingers; each pixel keeps the nearest front surface.
Bone lengths (mm) are the medians of the ICVL test ground truth bones (3D, fx = fy = 241.42).
"""
from dataclasses import dataclass
import math
from typing import Optional

import torch

from ..core.camera import Intrinsics, xyz_to_uvd

# ICVL16 parents; bone lengths (mm) measured as medians over the ICVL test ground truth.
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
BONES = {1: 29.7, 2: 30.8, 3: 25.4, 4: 56.8, 5: 28.7, 6: 18.6, 7: 53.6, 8: 33.6, 9: 21.5,
         10: 45.2, 11: 30.6, 12: 20.7, 13: 42.4, 14: 23.4, 15: 18.5}
# radius (mm) at parent and child of each bone
RADII = {1: (13, 10), 2: (10, 9), 3: (9, 8), 4: (10, 9), 5: (9, 8), 6: (8, 7), 7: (10, 9),
         8: (9, 8), 9: (8, 7), 10: (10, 9), 11: (9, 8), 12: (8, 7), 13: (9, 8), 14: (8, 7),
         15: (7, 6)}
# finger root directions in the hand frame (x: across the palm, y: towards the fingers), deg
ROOT_ANGLE = {4: -12.0, 7: 0.0, 10: 12.0, 13: 25.0}
THUMB_ROOT_ANGLE = -62.0
FINGERS = ((4, 5, 6), (7, 8, 9), (10, 11, 12), (13, 14, 15))


def _rot(axis: str, a: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(a), torch.sin(a)
    o, z = torch.ones_like(a), torch.zeros_like(a)
    if axis == 'x':
        m = [o, z, z, z, c, -s, z, s, c]
    elif axis == 'y':
        m = [c, z, s, z, o, z, -s, z, c]
    else:
        m = [c, -s, z, s, c, z, z, z, o]
    return torch.stack(m, -1).reshape(*a.shape, 3, 3)


def sample_icvl16(n: int, g: torch.Generator, dist_mm=(250.0, 600.0)) -> torch.Tensor:
    """(n, 16, 3) camera-frame joints of random plausible right hands."""
    def U(lo, hi, *shape):
        return torch.rand(n, *shape, generator=g) * (hi - lo) + lo
    scale = U(0.85, 1.15)
    grasp = U(0, 1) ** 1.3                                               # shared curl latent
    j = torch.zeros(n, 16, 3)
    # hand frame: palm at origin, fingers along -y (up in image), palm normal towards camera -z
    for root, (a, b, c) in zip((4, 7, 10, 13), FINGERS):
        ang = torch.deg2rad(torch.tensor(ROOT_ANGLE[root])) + U(-0.08, 0.08)
        d = torch.stack([torch.sin(ang), -torch.cos(ang), torch.zeros(n)], -1)
        j[:, a] = d * BONES[a]
        curl = (grasp + U(-0.25, 0.25)).clamp(0, 1)
        spread = torch.deg2rad(U(-12, 12)) * (1 - curl)
        f1 = curl * math.radians(85) + U(-0.15, 0.15)                        # MCP flexion
        f2 = curl * math.radians(100) + U(-0.15, 0.15)                       # PIP(+DIP) flexion
        f1, f2 = f1.clamp(-0.3, 1.6), f2.clamp(0, 1.9)
        base = ang + spread
        # flexion bends the finger towards +z (into the palm side, away from the camera)
        d1 = torch.stack([torch.sin(base) * torch.cos(f1), -torch.cos(base) * torch.cos(f1),
                          torch.sin(f1)], -1)
        f12 = f1 + f2
        d2 = torch.stack([torch.sin(base) * torch.cos(f12), -torch.cos(base) * torch.cos(f12),
                          torch.sin(f12)], -1)
        j[:, b] = j[:, a] + d1 * BONES[b]
        j[:, c] = j[:, b] + d2 * BONES[c]
    ang = torch.deg2rad(torch.tensor(THUMB_ROOT_ANGLE)) + U(-0.1, 0.1)
    j[:, 1] = torch.stack([torch.sin(ang), -torch.cos(ang), torch.full((n,), 0.15)], -1) * BONES[1]
    opp = (grasp + U(-0.3, 0.3)).clamp(0, 1)                                 # opposition
    tb = torch.deg2rad(-35 + 40 * opp)                                       # thumb direction
    tz = 0.3 + 0.8 * opp
    for k, (bi, bend) in enumerate(((2, 0.0), (3, 0.35))):
        a = tb + bend * opp
        z = tz + bend
        d = torch.stack([torch.sin(a) * torch.cos(z), -torch.cos(a) * torch.cos(z), torch.sin(z)],
                        -1)
        d = d / d.norm(dim=-1, keepdim=True)
        j[:, bi] = j[:, bi - 1] + d * BONES[bi]
    j = j * scale[:, None, None]
    # global rotation: in-plane all around, tilt limited, palm or back towards the camera
    r = (_rot('z', U(-math.pi, math.pi)) @ _rot('x', torch.deg2rad(U(-45, 45)))
         @ _rot('y', torch.deg2rad(U(-50, 50)) + math.pi * (U(0, 1) < 0.3)))
    j = torch.einsum('nij,nkj->nki', r, j)
    centre = torch.stack([U(-0.25, 0.25), U(-0.2, 0.2), torch.ones(n)], -1) * U(*dist_mm)[:, None]
    return j + centre[:, None]


def primitives(j: torch.Tensor, samples_per_mm: float = 0.35):
    """Sphere centres (n, S, 3) and radii (n, S) sweeping bones, palm slab and forearm."""
    n = j.shape[0]
    cs, rs = [], []

    def seg(p, q, r0, r1, k):
        t = torch.linspace(0, 1, k)
        cs.append(p[:, None] + (q - p)[:, None] * t[None, :, None])
        rs.append((r0 + (r1 - r0) * t)[None].expand(n, k) if not torch.is_tensor(r0)
                  else r0[:, None] + (r1 - r0)[:, None] * t)
    for c, p in enumerate(PARENTS):
        if p >= 0 and c not in (4, 7, 10, 13):
            k = max(3, int(BONES[c] * samples_per_mm))
            seg(j[:, p], j[:, c], *RADII[c], k)
    # palm slab: grid between the wrist line and the finger roots
    roots = j[:, [4, 7, 10, 13]]
    palm = j[:, 0]
    up = roots.mean(1) - palm
    wrist = palm - up * 0.55
    side = roots[:, 3] - roots[:, 0]
    for a in torch.linspace(-0.55, 0.55, 6):
        for b in torch.linspace(0.0, 1.0, 6):
            cs.append((wrist + side * a + (roots.mean(1) + side * a * 0.9 - wrist) * b)[:, None])
            rs.append(torch.full((n, 1), 13.0))
    for k in range(4):                                   # knuckles
        cs.append(roots[:, k:k + 1])
        rs.append(torch.full((n, 1), 11.0))
    # forearm stub: from the wrist away from the fingers
    u = up / up.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    seg(wrist, wrist - u * 160, torch.full((n,), 24.0), torch.full((n,), 30.0), 24)
    return torch.cat(cs, 1), torch.cat(rs, 1)


def render(centres, radii, intr: Intrinsics, roi_pad=6):
    """Z-buffered depth (n, H, W) mm of sphere sets (front surface), 0 = nothing."""
    n = centres.shape[0]
    uvd = xyz_to_uvd(centres, intr)
    rad_px = radii * intr.fx / uvd[..., 2]
    lo_u = (uvd[..., 0] - rad_px).amin(1).floor().clamp(0, intr.width - 1).long()
    hi_u = (uvd[..., 0] + rad_px).amax(1).ceil().clamp(0, intr.width - 1).long()
    lo_v = (uvd[..., 1] - rad_px).amin(1).floor().clamp(0, intr.height - 1).long()
    hi_v = (uvd[..., 1] + rad_px).amax(1).ceil().clamp(0, intr.height - 1).long()
    out = torch.zeros(n, intr.height, intr.width)
    for i in range(n):
        us = torch.arange(int(lo_u[i]), int(hi_u[i]) + 1, dtype=torch.float32)
        vs = torch.arange(int(lo_v[i]), int(hi_v[i]) + 1, dtype=torch.float32)
        if len(us) == 0 or len(vs) == 0:
            continue
        # ray direction per pixel (normalised to z = 1)
        rx = (us - intr.cx) / intr.fx
        ry = (vs - intr.cy) / intr.fy
        c = centres[i]                                                       # (S, 3)
        # sphere-ray intersection with ray p = t * (rx, ry, 1)
        dx = rx[None, None, :] * c[:, 2, None, None] - c[:, 0, None, None]   # (S, 1, U) lateral
        dy = ry[None, :, None] * c[:, 2, None, None] - c[:, 1, None, None]   # (S, V, 1)
        lat2 = dx ** 2 + dy ** 2                                            # approx lateral^2
        r2 = radii[i][:, None, None] ** 2
        z = c[:, 2, None, None] - torch.sqrt((r2 - lat2).clamp_min(0))
        z = torch.where(lat2 < r2, z, torch.full_like(z, 1e9)).amin(0)
        z = torch.where(z < 1e8, z, torch.zeros_like(z))
        out[i, int(lo_v[i]):int(hi_v[i]) + 1, int(lo_u[i]):int(hi_u[i]) + 1] = z
    return out


@dataclass
class SyntheticBatch:
    depth_mm: torch.Tensor   # (n, H, W) float32 mm, 0 = missing
    xyz: torch.Tensor        # (n, 16, 3) mm
    uvd: torch.Tensor        # (n, 16, 3)


class SyntheticGenerator:
    """Random ICVL16 hands rendered with a depth-sensor model; deterministic per seed."""

    def __init__(self, intrinsics: Intrinsics, joint_set: str = 'icvl16', device='cpu',
                 seed: int = 0, background: bool = True):
        if joint_set != 'icvl16':
            raise ValueError(f'the quick generator renders icvl16 only, found {joint_set!r}')
        self.intr, self.device, self.background = intrinsics, torch.device(device), background
        self.g = torch.Generator().manual_seed(seed)

    def reseed(self, seed: int) -> None:
        self.g.manual_seed(seed)

    def sample(self, n: int) -> SyntheticBatch:
        xyz = sample_icvl16(n, self.g)
        depth = self._sensor(render(*primitives(xyz), self.intr), xyz)
        return SyntheticBatch(depth.to(self.device), xyz.to(self.device),
                              xyz_to_uvd(xyz, self.intr).to(self.device))

    def render_joints(self, xyz: torch.Tensor, seed: Optional[int] = None) -> torch.Tensor:
        if seed is not None:
            self.reseed(seed)
        xyz = xyz.detach().float().cpu()
        return self._sensor(render(*primitives(xyz), self.intr), xyz).to(self.device)

    def _sensor(self, depth: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
        n, h, w = depth.shape
        g = self.g
        hand = depth > 0
        if self.background:
            # a wall or table plane behind the hand on about half the frames
            vv, uu = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                                    torch.arange(w, dtype=torch.float32), indexing='ij')
            base = xyz[:, 0, 2] + torch.rand(n, generator=g) * 500 + 150
            tilt_v = (torch.rand(n, generator=g) - 0.3) * 1.5
            tilt_u = (torch.rand(n, generator=g) - 0.5) * 0.6
            plane = base[:, None, None] * (1 + tilt_v[:, None, None] * (vv - h / 2) / h
                                           + tilt_u[:, None, None] * (uu - w / 2) / w)
            on = (torch.rand(n, generator=g) < 0.5)[:, None, None] & (plane > 200) & (plane < 3000)
            depth = torch.where(hand, depth, torch.where(on, plane, depth))
        # noise growing with distance, 1 mm quantisation
        valid = depth > 0
        sigma = 0.8 + 2.0 * (depth / 1000) ** 2
        depth = torch.where(valid, depth + torch.randn(depth.shape, generator=g) * sigma, depth)
        # missing pixels at silhouette edges and at random
        pad = torch.nn.functional.pad(depth[:, None], (1, 1, 1, 1), mode='replicate')[:, 0]
        jump = torch.stack([(pad[:, 1:-1, 2:] - depth).abs(), (pad[:, 1:-1, :-2] - depth).abs(),
                            (pad[:, 2:, 1:-1] - depth).abs(), (pad[:, :-2, 1:-1] - depth).abs()]
                           ).amax(0)
        drop = ((jump > 20) & (torch.rand(depth.shape, generator=g) < 0.6)) \
            | (torch.rand(depth.shape, generator=g) < 0.01)
        depth = torch.where(drop | ~valid | (depth <= 0), torch.zeros_like(depth), depth.round())
        return depth.float()
