"""Z-buffer rasterisation of primitives at full sensor resolution, one pixel window each.

Every primitive is ray-cast only inside its projected bounding box: for primitive slot p the
window size is the largest box of that slot in the batch, each frame's window is placed at its
own box (clamped inside the image), and the hits are min-composited into the (B, H, W)
z-buffer. Empty pixels hold +inf. CPU composites with per-frame slices (scatter_reduce is ~10x
slower there); CUDA uses one scatter_reduce per slot. Both give identical buffers.
"""
from dataclasses import dataclass
from typing import Callable, List, Tuple

import torch

from .raycast import (box_depth, ellipsoid_depth, pixel_slopes, plane_depth, round_cone_depth,
                      sphere_pixel_box)
from ..core.camera import Intrinsics

CPU_GROUP = 16  # frames ray-cast together on CPU (similar window sizes are grouped)


@dataclass
class Cones:
    """P round cones per frame: ends a, b (B, P, 3) mm, radii ra, rb (B, P), active (B, P)."""

    a: torch.Tensor
    b: torch.Tensor
    ra: torch.Tensor
    rb: torch.Tensor
    active: torch.Tensor

    def split(self, pieces: int) -> 'Cones':
        """The same shapes as ``pieces`` shorter cones each (exact: a round cone is the union
        of its parts), which have far smaller pixel windows when long and diagonal."""
        t = torch.linspace(0.0, 1.0, pieces + 1, device=self.a.device)
        pts = self.a[:, :, None] + t[:, None] * (self.b - self.a)[:, :, None]   # (B, P, k+1, 3)
        rad = self.ra[:, :, None] + t * (self.rb - self.ra)[:, :, None]         # (B, P, k+1)
        n = self.a.shape[0]
        return Cones(pts[:, :, :-1].reshape(n, -1, 3), pts[:, :, 1:].reshape(n, -1, 3),
                     rad[:, :, :-1].reshape(n, -1), rad[:, :, 1:].reshape(n, -1),
                     self.active[:, :, None].expand(-1, -1, pieces).reshape(n, -1))

    @staticmethod
    def cat(*parts: 'Cones') -> 'Cones':
        """Concatenate along the primitive axis."""
        return Cones(*(torch.cat([getattr(p, k) for p in parts], 1)
                       for k in ('a', 'b', 'ra', 'rb', 'active')))


@dataclass
class Slab:
    """The visible face of a rounded palm slab: a convex polygon on a plane, per frame.

    ``origin`` (B, 3) a point of the face plane; ``ex``, ``ey`` (B, 3) in-plane unit axes;
    ``normal`` (B, 3); ``halfplanes`` (B, K, 3): (A, B, C) with A qx + B qy + C >= 0 inside,
    (qx, qy) = ((p - origin) . ex, (p - origin) . ey); ``box`` (B, 4) pixel bounds.
    """

    origin: torch.Tensor
    ex: torch.Tensor
    ey: torch.Tensor
    normal: torch.Tensor
    halfplanes: torch.Tensor
    box: torch.Tensor


def empty_zbuffer(n: int, intr: Intrinsics, device: torch.device) -> torch.Tensor:
    """A (n, H, W) z-buffer with no hits (+inf)."""
    return torch.full((n, intr.height, intr.width), float('inf'), device=device)


def _groups(box: torch.Tensor, active: torch.Tensor, intr: Intrinsics,
            group: int) -> List[torch.Tensor]:
    """Indices of visible frames, sorted by box area and split into groups of ``group``."""
    visible = (active & (box[:, 2] >= 0) & (box[:, 0] <= intr.width - 1)
               & (box[:, 3] >= 0) & (box[:, 1] <= intr.height - 1))
    idx = visible.nonzero()[:, 0]
    if idx.numel() == 0:
        return []
    area = (box[idx, 2] - box[idx, 0]) * (box[idx, 3] - box[idx, 1])
    idx = idx[torch.argsort(area)]
    return list(idx.split(group))


def _window(box: torch.Tensor, intr: Intrinsics) -> Tuple[int, int, torch.Tensor, torch.Tensor]:
    """Window (h, w) covering every box (b, 4) and each frame's top-left (v0, u0) inside."""
    u0 = box[:, 0].floor().clamp(0, intr.width - 1)
    v0 = box[:, 1].floor().clamp(0, intr.height - 1)
    w = int((box[:, 2].ceil().clamp(0, intr.width - 1) - u0).max()) + 1
    h = int((box[:, 3].ceil().clamp(0, intr.height - 1) - v0).max()) + 1
    return h, w, v0.clamp(max=intr.height - h).long(), u0.clamp(max=intr.width - w).long()


def composite_slices(zbuf: torch.Tensor, win: torch.Tensor, idx: torch.Tensor,
                     v0: torch.Tensor, u0: torch.Tensor) -> None:
    """zbuf[idx[i], v0:v0+h, u0:u0+w] = min(zbuf, win[i]) for every i, in place (CPU path)."""
    h, w = win.shape[1:]
    for i, (b, v, u) in enumerate(zip(idx.tolist(), v0.tolist(), u0.tolist())):
        view = zbuf[b, v:v + h, u:u + w]
        torch.minimum(view, win[i], out=view)


def composite_scatter(zbuf: torch.Tensor, win: torch.Tensor, idx: torch.Tensor,
                      v0: torch.Tensor, u0: torch.Tensor) -> None:
    """The same as :func:`composite_slices` with one scatter_reduce (CUDA path)."""
    _, h, w = win.shape
    _, height, width = zbuf.shape
    dev = zbuf.device
    rows = idx[:, None] * (height * width) + (v0[:, None] + torch.arange(h, device=dev)) * width
    flat = rows[:, :, None] + u0[:, None, None] + torch.arange(w, device=dev)    # (b, h, w)
    zbuf.view(-1).scatter_reduce_(0, flat.view(-1), win.reshape(-1), 'amin')


def _draw(zbuf: torch.Tensor, box: torch.Tensor, active: torch.Tensor, intr: Intrinsics,
          depth_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Ray-cast one primitive slot of every frame inside its window and composite.

    ``box`` (B, 4) pixel bounds; ``depth_fn(idx, x, y)`` returns the depth (b, h, w) of frames
    ``idx`` for ray slopes x (b, 1, w) and y (b, h, 1). Frames are grouped by window size
    (one group on CUDA, groups of CPU_GROUP on CPU) so that a near hand's large window does
    not inflate every frame's.
    """
    group = zbuf.shape[0] if zbuf.is_cuda else CPU_GROUP
    for idx in _groups(box, active, intr, group):
        h, w, v0, u0 = _window(box[idx], intr)
        u = (u0[:, None, None] + torch.arange(w, device=zbuf.device)[None, None, :]).float()
        v = (v0[:, None, None] + torch.arange(h, device=zbuf.device)[None, :, None]).float()
        x, y = pixel_slopes(u, v, intr)
        composite = composite_scatter if zbuf.is_cuda else composite_slices
        composite(zbuf, depth_fn(idx, x, y), idx, v0, u0)


def draw_cones(zbuf: torch.Tensor, cones: Cones, intr: Intrinsics) -> None:
    """Ray-cast every cone slot inside its windows and min-composite into ``zbuf``."""
    box_a = sphere_pixel_box(cones.a, cones.ra, intr)
    box_b = sphere_pixel_box(cones.b, cones.rb, intr)
    box = torch.cat([torch.minimum(box_a[..., :2], box_b[..., :2]),
                     torch.maximum(box_a[..., 2:], box_b[..., 2:])], -1)     # (B, P, 4)
    for p in range(cones.a.shape[1]):
        a, b, ra, rb = cones.a[:, p], cones.b[:, p], cones.ra[:, p], cones.rb[:, p]
        _draw(zbuf, box[:, p], cones.active[:, p], intr,
              lambda i, x, y: round_cone_depth(x, y, a[i], b[i], ra[i], rb[i]))


def draw_ellipsoids(zbuf: torch.Tensor, centre: torch.Tensor, semi_axes: torch.Tensor,
                    active: torch.Tensor, intr: Intrinsics) -> None:
    """Camera-axis-aligned ellipsoids: centre, semi_axes (B, 3) mm, one per frame."""
    box = sphere_pixel_box(centre, semi_axes.amax(-1), intr)
    _draw(zbuf, box, active, intr,
          lambda i, x, y: ellipsoid_depth(x, y, centre[i], semi_axes[i]))


def draw_boxes(zbuf: torch.Tensor, centre: torch.Tensor, axes: torch.Tensor,
               half_mm: torch.Tensor, active: torch.Tensor, intr: Intrinsics) -> None:
    """Oriented boxes, one per frame: centre (B, 3) mm, axes (B, 3, 3) unit columns, half
    edges (B, 3) mm."""
    box = sphere_pixel_box(centre, half_mm.norm(dim=-1), intr)
    _draw(zbuf, box, active, intr,
          lambda i, x, y: box_depth(x, y, centre[i], axes[i], half_mm[i]))


def draw_slab(zbuf: torch.Tensor, slab: Slab, intr: Intrinsics) -> None:
    """Ray-cast the slab's visible face (plane inside a convex polygon) into ``zbuf``."""
    def depth(i, x, y):
        z = plane_depth(x, y, slab.origin[i], slab.normal[i])                 # (b, h, w)
        inside = None
        ex, ey, o = slab.ex[i], slab.ey[i], slab.origin[i]
        qx = z * (x * ex[:, 0, None, None] + y * ex[:, 1, None, None] + ex[:, 2, None, None])
        qx = qx - (o * ex).sum(-1)[:, None, None]
        qy = z * (x * ey[:, 0, None, None] + y * ey[:, 1, None, None] + ey[:, 2, None, None])
        qy = qy - (o * ey).sum(-1)[:, None, None]
        hps = slab.halfplanes[i]
        for k in range(hps.shape[1]):
            a, b, c = (hps[:, k, j, None, None] for j in range(3))
            ok = a * qx + b * qy + c >= 0.0
            inside = ok if inside is None else inside & ok
        return torch.where(inside, z, float('inf'))
    _draw(zbuf, slab.box, torch.ones_like(slab.box[:, 0], dtype=torch.bool), intr, depth)


def draw_planes(zbuf: torch.Tensor, point: torch.Tensor, normal: torch.Tensor,
                min_depth: torch.Tensor, active: torch.Tensor, intr: Intrinsics) -> None:
    """Full-frame planes (B, 3) kept where deeper than ``min_depth`` (B,) mm, if ``active``."""
    idx = active.nonzero()[:, 0]
    if idx.numel() == 0:
        return
    dev = zbuf.device
    x, y = pixel_slopes(torch.arange(intr.width, device=dev, dtype=torch.float32)[None, None],
                        torch.arange(intr.height, device=dev, dtype=torch.float32)[None, :, None],
                        intr)
    z = plane_depth(x, y, point[idx], normal[idx])
    z = torch.where(z >= min_depth[idx, None, None], z, float('inf'))
    zbuf[idx] = torch.minimum(zbuf[idx], z)
