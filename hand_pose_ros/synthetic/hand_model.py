"""Kinematic hand HAND22: skeleton (config/synthetic.yaml), joint angles, forward kinematics.

Chirality. The skeleton's numbers were measured on the ICVL ground truth (measure.py), whose
hands are left hands (core/handedness.py), so they are written in the frame of a left hand:
the *model frame*, origin at the palm centre, y towards the mean of the four finger MCPs
(distal), x along little MCP -> index MCP made orthogonal to y (radial), z = x cross y
(dorsal); the fingers flex towards -z (palmar). :func:`forward_kinematics` returns a **right**
hand, the mirror image x -> -x of that hand, unless asked for a left one: left hands come from
mirroring the kinematic model, never the image. In the optical frame (x right, y down,
z forward) a right hand held palm towards the camera, fingers up, has its thumb on the image's
right (test/synthetic/test_chirality.py).

:func:`palm_frame` maps model-frame coordinates onto a hand of either side (a rotation for a
left hand, a rotation times that mirror for a right one), so the renderer places the thumb
base, wrist and palm slab from one set of numbers on both.

The palm (wrist, palm centre, MCPs, thumb CMC) is rigid. Every finger is a planar chain
MCP -> PIP -> DIP -> tip whose DIP flexion is tied to the PIP flexion (``DIP_PER_PIP``), so a
finger is fully determined by its ICVL16 joints (MCP, PIP, tip) and the renderer can rebuild
the DIP exactly (renderer.infer_dip). The thumb is CMC -> MCP -> IP -> tip.
"""
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Dict, Optional, Tuple, Union

import torch
import yaml

from ..core.handedness import handedness_score
from ..core.resources import find_resource
from ..core.skeleton import ICVL16

Vec3 = Tuple[float, float, float]
FINGERS = ('index', 'middle', 'ring', 'little')
ICVL16_PALM, ICVL16_MCP = 0, (4, 7, 10, 13)          # palm and finger roots in ICVL16
HAND22_PALM, HAND22_MCP = 1, (6, 10, 14, 18)          # the same joints in HAND22

# Modelling assumptions (anatomy, not measured from any test set).
DIP_PER_PIP = 2.0 / 3.0                                # DIP flexion = 2/3 PIP flexion
MIDDLE_SHARE = (0.58, 0.59, 0.58, 0.53)                # middle / (middle + distal) phalanx
REST_SPLAY_DEG = (-4.0, 0.0, 4.0, 10.0)                # finger direction at rest, + = ulnar
ABDUCTION_SIGN = (-1.0, -1.0, 1.0, 1.0)                # abduction + = away from middle finger
WRIST_PER_MIDDLE_MCP = 0.8                             # |palm->wrist| / |palm->middle MCP|
THUMB_CMC_FROM_WRIST_MM = (16.0, 12.0, -8.0)           # radial, distal, palmar of the wrist
THUMB_FLEX_PSI_DEG = (35.0, 0.8)                       # thumb flexion plane: psi0 + k * CMC abd


@dataclass(frozen=True)
class HandSkeleton:
    """Rest geometry of the hand at scale 1 (millimetres, palm frame); see measure.py."""

    mcp_mm: Tuple[Vec3, ...]          # index, middle, ring, little MCP
    finger_mm: Tuple[Vec3, ...]       # proximal, middle, distal phalanx per finger
    thumb_cmc_mm: Vec3                # trapeziometacarpal joint
    thumb_rest_dir: Vec3              # unit metacarpal direction at zero CMC angles
    thumb_mm: Vec3                    # metacarpal, proximal, distal phalanx
    wrist_mm: Vec3
    icvl16_targets_mm: Tuple[float, ...]  # the 15 ICVL16 bone medians these reproduce

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'HandSkeleton':
        """Build from a mapping with exactly this class's field names."""
        names = {f.name for f in fields(cls)}
        if set(data) != names:
            raise ValueError(f'skeleton needs keys {sorted(names)}, found {sorted(data)}')

        def tup(x):
            return tuple(tup(v) for v in x) if isinstance(x, (list, tuple)) else float(x)
        return cls(**{k: tup(v) for k, v in data.items()})

    def to_dict(self) -> Dict[str, Any]:
        """Plain nested lists (YAML friendly), rounded to 0.01 mm."""
        def lst(x):
            return [lst(v) for v in x] if isinstance(x, tuple) else round(float(x), 4)
        return {f.name: lst(getattr(self, f.name)) for f in fields(self)}

    @property
    def mean_mcp_mm(self) -> float:
        """Mean palm-centre -> finger MCP distance (mm): the hand-size reference."""
        return float(torch.tensor(self.mcp_mm).norm(dim=-1).mean())


@lru_cache(maxsize=None)
def default_skeleton() -> HandSkeleton:
    """The shipped skeleton (config/synthetic.yaml, key ``skeleton``)."""
    with open(find_resource('config/synthetic.yaml'), encoding='utf-8') as f:
        return HandSkeleton.from_dict(yaml.safe_load(f)['skeleton'])


@dataclass
class HandAngles:
    """Joint angles (radians) and size factor of n hands: tensors (n, 4) or (n,)."""

    finger_abd: torch.Tensor      # (n, 4) + = away from the middle finger (middle: radial)
    finger_mcp: torch.Tensor      # (n, 4) flexion, + = towards the palm
    finger_pip: torch.Tensor      # (n, 4) flexion; DIP = DIP_PER_PIP * PIP
    thumb_cmc_flex: torch.Tensor  # (n,) + = across the palm (ulnar)
    thumb_cmc_abd: torch.Tensor   # (n,) + = palmar abduction (away from the palm plane)
    thumb_mcp: torch.Tensor       # (n,) flexion
    thumb_ip: torch.Tensor        # (n,) flexion
    scale: torch.Tensor           # (n,) hand size factor (all lengths)


def planar_chain(origin: torch.Tensor, u: torch.Tensor, w: torch.Tensor,
                 lengths: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Joints of a chain bending in the plane (u, w): (..., K, 3) from (..., 3) and (..., K).

    Segment k points along cos(a_k) u + sin(a_k) w, ``angles`` being cumulative (radians).
    """
    dirs = (torch.cos(angles)[..., None] * u[..., None, :]
            + torch.sin(angles)[..., None] * w[..., None, :])           # (..., K, 3)
    return origin[..., None, :] + torch.cumsum(lengths[..., None] * dirs, dim=-2)


def normalize(v: torch.Tensor) -> torch.Tensor:
    """Unit vectors along the last axis (zero vectors stay zero)."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-9)


def thumb_flex_dir(u0: torch.Tensor, cmc_abd: torch.Tensor) -> torch.Tensor:
    """Unit direction (n, 3) towards which the thumb flexes, orthogonal to its metacarpal u0."""
    psi = torch.deg2rad(torch.tensor(THUMB_FLEX_PSI_DEG[0])) + THUMB_FLEX_PSI_DEG[1] * cmc_abd
    target = torch.stack([-torch.cos(psi), torch.zeros_like(psi), -torch.sin(psi)], -1)
    return normalize(target - (target * u0).sum(-1, keepdim=True) * u0)


Side = Union[bool, torch.Tensor]   # True (or a (n,) bool tensor's True) = left hand


def _left_mask(left: Optional[Side], n: int, device: torch.device) -> torch.Tensor:
    """(n,) bool: which hands are left ones (None: none, a right hand each)."""
    if left is None:
        return torch.zeros(n, dtype=torch.bool, device=device)
    return torch.as_tensor(left, dtype=torch.bool, device=device).expand(n)


def mirror_model(xyz: torch.Tensor, left: Optional[Side] = None) -> torch.Tensor:
    """Model-frame points (n, ..., 3) of the measured (left) hand -> the hands of ``left``'s
    sides: right ones mirrored x -> -x, left ones as they are."""
    mask = _left_mask(left, xyz.shape[0], xyz.device)
    sign = torch.where(mask, 1.0, -1.0).to(xyz.dtype)
    out = xyz.clone()
    out[..., 0] = out[..., 0] * sign.view(-1, *([1] * (xyz.ndim - 2)))
    return out


def forward_kinematics(angles: HandAngles, skel: HandSkeleton,
                       left: Optional[Side] = None) -> torch.Tensor:
    """HAND22 joints (n, 22, 3) (mm) of right hands (``left`` None or False) or left hands
    (``left`` True, or per hand a (n,) bool tensor), model frame mirrored for the right ones."""
    return mirror_model(_left_model_kinematics(angles, skel), left)


def _left_model_kinematics(angles: HandAngles, skel: HandSkeleton) -> torch.Tensor:
    """HAND22 joints (n, 22, 3) of the measured left hand in the model frame (mm)."""
    dev, dt = angles.scale.device, angles.scale.dtype
    n = angles.scale.shape[0]
    s = angles.scale[:, None]                                           # (n, 1)
    out = torch.zeros(n, 22, 3, device=dev, dtype=dt)

    def vec(x):
        return torch.tensor(x, device=dev, dtype=dt)
    out[:, 0] = vec(skel.wrist_mm) * s
    # Fingers: abduction turns the flexion plane about z; flexion bends towards -z.
    phi = torch.deg2rad(vec(REST_SPLAY_DEG)) + vec(ABDUCTION_SIGN) * angles.finger_abd  # (n, 4)
    u0 = torch.stack([-torch.sin(phi), torch.cos(phi), torch.zeros_like(phi)], -1)
    w0 = vec((0.0, 0.0, -1.0)).expand_as(u0)
    pip = angles.finger_pip
    cum = torch.stack([angles.finger_mcp, angles.finger_mcp + pip,
                       angles.finger_mcp + (1.0 + DIP_PER_PIP) * pip], -1)  # (n, 4, 3)
    mcp = vec(skel.mcp_mm) * s[..., None]                               # (n, 4, 3)
    chain = planar_chain(mcp, u0, w0, vec(skel.finger_mm) * s[..., None], cum)
    for f in range(4):
        out[:, HAND22_MCP[f]] = mcp[:, f]
        out[:, HAND22_MCP[f] + 1:HAND22_MCP[f] + 4] = chain[:, f]
    # Thumb: CMC flexion about z, then palmar abduction towards -z, then a planar chain.
    rest = vec(skel.thumb_rest_dir).expand(n, 3)
    c, sn = torch.cos(angles.thumb_cmc_flex), torch.sin(angles.thumb_cmc_flex)
    u1 = torch.stack([rest[:, 0] * c - rest[:, 1] * sn, rest[:, 0] * sn + rest[:, 1] * c,
                      rest[:, 2]], -1)
    palmar = normalize(vec((0.0, 0.0, -1.0)) + u1[:, 2:3] * u1)
    a = angles.thumb_cmc_abd[:, None]
    u0t = torch.cos(a) * u1 + torch.sin(a) * palmar
    cmc = vec(skel.thumb_cmc_mm) * s
    t_mcp = cmc + skel.thumb_mm[0] * s * u0t
    wt = thumb_flex_dir(u0t, angles.thumb_cmc_abd)
    cum_t = torch.stack([angles.thumb_mcp, angles.thumb_mcp + angles.thumb_ip], -1)
    chain_t = planar_chain(t_mcp, u0t, wt, vec(skel.thumb_mm[1:]) * s, cum_t)
    out[:, 2], out[:, 3], out[:, 4:6] = cmc, t_mcp, chain_t
    return out


def palm_frame(palm: torch.Tensor, mcp: torch.Tensor,
               left: Optional[Side] = None) -> torch.Tensor:
    """Matrix (..., 3, 3) taking model-frame coordinates onto this hand (columns: radial,
    distal and dorsal axes in the input's frame).

    ``palm`` (..., 3) palm centre, ``mcp`` (..., 4, 3) index, middle, ring, little MCPs;
    ``left``: which hands are left ones (None: all right). The dorsal axis is radial x distal
    for a left hand and its opposite for a right hand (core/handedness.py).
    """
    y = normalize(mcp.mean(-2) - palm)
    x = mcp[..., 0, :] - mcp[..., 3, :]
    x = normalize(x - (x * y).sum(-1, keepdim=True) * y)
    z = torch.cross(x, y, dim=-1).reshape(-1, 3)
    z = torch.where(_left_mask(left, z.shape[0], z.device)[:, None], z, -z)
    return torch.stack([x, y, z.reshape(x.shape)], -1)


def palm_frame_icvl16(xyz16: torch.Tensor, left: Optional[Side] = None) -> torch.Tensor:
    """:func:`palm_frame` of ICVL16 joints (n, 16, 3); ``left`` None: each hand's side as
    core/handedness.py tells it from the joints."""
    if left is None:
        left = handedness_score(xyz16, ICVL16) < 0
    return palm_frame(xyz16[:, ICVL16_PALM], xyz16[:, list(ICVL16_MCP)], left)


def hand_scale_icvl16(xyz16: torch.Tensor, skel: HandSkeleton) -> torch.Tensor:
    """Size factor (n,) of ICVL16 hands: mean palm->MCP distance over the skeleton's."""
    d = (xyz16[:, list(ICVL16_MCP)] - xyz16[:, ICVL16_PALM, None]).norm(dim=-1).mean(-1)
    return d / skel.mean_mcp_mm
