"""Analytic ray casting of round cones, spheres and planes from a pinhole camera (batched torch).

A pixel (u, v) looks along the ray p(z) = z * (x, y, 1) with slopes x = (u - cx) / fx and
y = (v - cy) / fy, so the ray parameter *is* the depth z in millimetres. A round cone is the
union of the spheres centred on the segment a -> b with radii growing linearly from ra to rb
(a tapered capsule; a sphere when a == b, a capsule when ra == rb). Its first hit along a ray
is the minimum over the segment parameter s of the near hit of sphere s; that minimum is at
s = 0, s = 1 or a root of a quadratic, so the hit is exact and needs no iteration (derivation
in :func:`round_cone_depth`).
"""
from typing import Tuple

import torch

from ..core.camera import Intrinsics

NEAR_CLIP_MM = 20.0  # hits nearer than this are ignored (the object would touch the lens)


def pixel_slopes(u: torch.Tensor, v: torch.Tensor,
                 intr: Intrinsics) -> Tuple[torch.Tensor, torch.Tensor]:
    """Ray slopes (x/z, y/z) of pixel coordinates (any shapes, pixels)."""
    return (u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy


def round_cone_depth(x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                     ra: torch.Tensor, rb: torch.Tensor) -> torch.Tensor:
    """Depth (mm) of the first hit of rays (x, y, 1) on round cones; +inf where missed.

    ``x``, ``y``: ray slopes broadcastable to the output shape (..., h, w); ``a``, ``b``:
    segment end points (..., 3) mm; ``ra``, ``rb``: radii (...,) mm, with |ra - rb| < |b - a|
    or a == b. Leading dims of the cone parameters broadcast against the pixel grid.

    With d = (x, y, 1), centre c(s) = a + s e (e = b - a) and radius r(s) = ra + s dr, the
    near hit of sphere s is z(s) = (beta(s) - sqrt(g(s))) / |d|^2 with beta = d.c linear in s
    and g = beta^2 - |d|^2 (|c|^2 - r^2) quadratic (g0 + g1 s + g2 s^2). Setting dz/ds = 0
    and squaring gives s = -g1 / (2 g2) +- |beta1| sqrt(g1^2 - 4 g0 g2) / (2 |g2| sqrt(h)),
    h = |d|^2 (|e|^2 - dr^2). Every candidate with g >= 0 is a real surface point, so the
    minimum over {0, 1, the root clamped to [0, 1]} is the exact first hit (of the two
    roots only the one with sign(g1 + 2 g2 s) = sign(beta1) solves the unsquared equation).
    Misses give NaN square roots, which fmin skips.
    """
    e = b - a
    dr = rb - ra
    ax, ay, az = (a[..., i, None, None] for i in range(3))
    ex, ey, ez = (e[..., i, None, None] for i in range(3))
    ra_, dr_ = ra[..., None, None], dr[..., None, None]
    k0 = (a * a).sum(-1)[..., None, None] - ra_ * ra_
    k1 = 2.0 * ((a * e).sum(-1)[..., None, None] - ra_ * dr_)
    k2 = (e * e).sum(-1)[..., None, None] - dr_ * dr_
    # Per-pixel terms; small (..., 1, w) + (..., h, 1) parts are added once to go full size.
    dd = (x * x + 1.0) + y * y                                 # |d|^2
    beta0 = (x * ax + az) + y * ay
    beta1 = (x * ex + ez) + y * ey
    g0 = torch.addcmul(dd * -k0, beta0, beta0)
    g1 = torch.addcmul(dd * -k1, beta0, beta1, value=2.0)
    g2 = torch.addcmul(dd * -k2, beta1, beta1)
    # Critical point; NaN (no real root, degenerate sphere) drops the candidate via fmin.
    root = torch.addcmul(g1 * g1, g0, g2, value=-4.0).div_(dd).mul_(1.0 / k2).sqrt_()
    root.mul_(beta1)
    s = root.sub_(g1).div_(g2 * 2.0).clamp_(0.0, 1.0)
    near = torch.addcmul(g1, s, g2).mul_(s).add_(g0).sqrt_()   # sqrt(g(s))
    near = torch.addcmul(beta0, s, beta1).sub_(near)
    near = torch.fmin(near, beta0 - g0.sqrt())                 # s = 0
    near = torch.fmin(near, (beta0 + beta1).sub_((g0 + g1).add_(g2).sqrt_()))  # s = 1
    z = near.div_(dd)
    return torch.where(z > NEAR_CLIP_MM, z, float('inf'))     # NaN (missed) -> inf


def ellipsoid_depth(x: torch.Tensor, y: torch.Tensor, centre: torch.Tensor,
                    semi_axes: torch.Tensor) -> torch.Tensor:
    """Depth (mm) of the first hit of rays (x, y, 1) on camera-axis-aligned ellipsoids.

    ``centre``, ``semi_axes`` (..., 3) mm; +inf where missed. In coordinates divided by the
    semi-axes the ellipsoid is the unit sphere: one quadratic in z.
    """
    sx, sy, sz = (1.0 / semi_axes[..., i, None, None] for i in range(3))
    cx, cy, cz = (centre[..., i, None, None] for i in range(3))
    xs, ys = x * sx, y * sy
    a = xs * xs + ys * ys + sz * sz
    b = xs * (cx * sx) + ys * (cy * sy) + cz * sz * sz
    c = (cx * sx) ** 2 + (cy * sy) ** 2 + (cz * sz) ** 2 - 1.0
    disc = b * b - a * c
    z = (b - disc.clamp_min(0.0).sqrt()) / a
    return torch.where((disc >= 0.0) & (z > NEAR_CLIP_MM), z, float('inf'))


def box_depth(x: torch.Tensor, y: torch.Tensor, centre: torch.Tensor, axes: torch.Tensor,
              half_mm: torch.Tensor) -> torch.Tensor:
    """Depth (mm) of the first hit of rays (x, y, 1) on oriented boxes; +inf where missed.

    ``centre`` (..., 3) mm, ``axes`` (..., 3, 3) whose columns are the box's unit axes,
    ``half_mm`` (..., 3) half edges. Slab method in box coordinates: the ray from the camera
    origin is o + z d with o = -R^T c and d = R^T (x, y, 1); it is inside slab k for z between
    (-h_k - o_k) / d_k and (h_k - o_k) / d_k; the hit is the largest entry if below the
    smallest exit.
    """
    near = torch.full(torch.broadcast_shapes(x.shape, y.shape), -float('inf'),
                      device=x.device, dtype=x.dtype)
    far = torch.full_like(near, float('inf'))
    for k in range(3):
        ax = axes[..., :, k]                                                  # (..., 3)
        o = -(ax * centre).sum(-1)[..., None, None]
        d = x * ax[..., 0, None, None] + y * ax[..., 1, None, None] + ax[..., 2, None, None]
        d = torch.where(d.abs() < 1e-9, torch.full_like(d, 1e-9), d)
        h = half_mm[..., k, None, None]
        t1, t2 = (-h - o) / d, (h - o) / d
        near = torch.maximum(near, torch.minimum(t1, t2))
        far = torch.minimum(far, torch.maximum(t1, t2))
    return torch.where((near <= far) & (near > NEAR_CLIP_MM), near, float('inf'))


def plane_depth(x: torch.Tensor, y: torch.Tensor, point: torch.Tensor,
                normal: torch.Tensor) -> torch.Tensor:
    """Depth (mm) where rays (x, y, 1) meet planes (point, normal (..., 3)); +inf if behind."""
    nx, ny, nz = (normal[..., i, None, None] for i in range(3))
    offset = (point * normal).sum(-1)[..., None, None]
    denom = x * nx + y * ny + nz
    z = offset / torch.where(denom.abs() < 1e-6, torch.full_like(denom, 1e-6), denom)
    return torch.where(z > NEAR_CLIP_MM, z, float('inf'))


def sphere_pixel_box(centre: torch.Tensor, radius: torch.Tensor,
                     intr: Intrinsics) -> torch.Tensor:
    """Conservative pixel box (u0, v0, u1, v1) of spheres (..., 3), radii (...,) mm.

    The box of the sphere's bounding cube; spheres reaching the near clip get the whole image.
    """
    x, y, z = centre.unbind(-1)
    near = (z - radius).clamp_min(NEAR_CLIP_MM)
    far = z + radius
    us = [intr.cx + intr.fx * (x + sx * radius) / zz for sx in (-1, 1) for zz in (near, far)]
    vs = [intr.cy + intr.fy * (y + sy * radius) / zz for sy in (-1, 1) for zz in (near, far)]
    box = torch.stack([torch.stack(us).amin(0), torch.stack(vs).amin(0),
                       torch.stack(us).amax(0), torch.stack(vs).amax(0)], dim=-1)
    whole = torch.tensor([0.0, 0.0, intr.width - 1.0, intr.height - 1.0],
                         dtype=box.dtype, device=box.device)
    clipped = (z - radius < NEAR_CLIP_MM)[..., None]
    return torch.where(clipped, whole.expand_as(box), box)
