"""SyntheticGenerator: random or given hands rendered to sensor depth frames with labels.

    gen = SyntheticGenerator(dataset_spec('icvl').intrinsics, joint_set='icvl16', device='cpu')
    batch = gen.sample(64)            # depth_mm (64, 240, 320), xyz / uvd (64, 16, 3)
    depth = gen.render_joints(xyz16)  # ground-truth ICVL16 joints (n, 16, 3) mm -> (n, H, W)
    depth, xyz = gen.animate(1.5)     # one frame of a smoothly moving hand (numpy)

Hands are right hands (``handedness='right'``, the default), left hands (``'left'``) or either
with equal odds (``'both'``); a left hand is the mirrored kinematic model (hand_model.py), and
``SyntheticBatch.left`` says which is which.

Every hand, sampled or given, is rendered from its ICVL16 joints through one path
(:meth:`render_joints`), so synthetic training frames and renders of real ground truth come
from the same distribution. Randomness: poses and per-frame nuisances come from a CPU
generator (identical on every device), per-pixel noise from a generator on ``device``; the
same seed and device give identical frames.
"""
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np
import torch

from .hand_model import default_skeleton, forward_kinematics, HandSkeleton
from .poses import (animated_angles, animated_placement, place_in_view, PoseConfig,
                    sample_angles, sample_rotation)
from .raster import draw_cones, draw_slab, empty_zbuffer
from .renderer import hand_primitives, HandShape, NUM_HAND_RANDOMS
from .scene import draw_scene, NUM_SCENE_RANDOMS, SceneConfig, static_scene_randoms
from .sensor import apply_sensor, NUM_SENSOR_RANDOMS, SensorConfig
from ..core.camera import Intrinsics, xyz_to_uvd
from ..core.skeleton import FROM_HAND22, get_joint_set

HANDEDNESS = ('right', 'left', 'both')
_NUM_RANDOMS = NUM_HAND_RANDOMS + NUM_SCENE_RANDOMS + NUM_SENSOR_RANDOMS
_DEVICE_SEED_OFFSET = 0x9E3779B9  # decorrelates the pixel-noise stream from the pose stream
_CPU_CHUNK_PIXELS = 2_500_000      # pixels per rendered chunk (320x240: 32 frames)
_CUDA_CHUNK_PIXELS = 1 << 25       # (320x240: 436 frames, about 2 GB of temporaries)


@dataclass
class SyntheticBatch:
    """Rendered frames and their labels (all on the generator's device)."""

    depth_mm: torch.Tensor     # (n, H, W) float32 millimetres, 0 = missing
    xyz: torch.Tensor          # (n, J, 3) camera-frame mm, the generator's joint set
    uvd: torch.Tensor          # (n, J, 3) pixels and mm
    hand22_xyz: torch.Tensor   # (n, 22, 3) camera-frame mm, all joints of the model hand
    left: torch.Tensor         # (n,) bool: True for a left hand


class SyntheticGenerator:
    """Synthetic depth hands at the given intrinsics; see the module docstring."""

    def __init__(self,
                 intrinsics: Intrinsics,
                 joint_set: str = 'icvl16',
                 device: Union[str, torch.device] = 'cpu',
                 seed: int = 0,
                 sensor: Optional[SensorConfig] = None,
                 background: bool = True,
                 pose: Optional[PoseConfig] = None,
                 shape: Optional[HandShape] = None,
                 scene: Optional[SceneConfig] = None,
                 skeleton: Optional[HandSkeleton] = None,
                 chunk: Optional[int] = None,
                 handedness: str = 'right'):
        if handedness not in HANDEDNESS:
            raise ValueError(f'handedness must be one of {HANDEDNESS}, found {handedness!r}')
        self.handedness = handedness
        self.intrinsics = intrinsics
        self.joint_set = get_joint_set(joint_set)
        self.device = torch.device(device)
        self.sensor = sensor or SensorConfig()
        self.background = background
        self.pose = pose or PoseConfig()
        self.shape = shape or HandShape()
        self.scene = scene or SceneConfig()
        self.skeleton = skeleton or default_skeleton()
        # Frames rendered at once: on CPU small enough for the temporaries to stay in cache.
        budget = _CUDA_CHUNK_PIXELS if self.device.type == 'cuda' else _CPU_CHUNK_PIXELS
        self.chunk = chunk or max(1, budget // (intrinsics.width * intrinsics.height))
        self._ids = list(FROM_HAND22[self.joint_set.name])
        self._icvl = list(FROM_HAND22['icvl16'])
        self._cpu, self._dev = self._generators(seed)
        self.seed = seed

    def _generators(self, seed: int) -> Tuple[torch.Generator, torch.Generator]:
        """(CPU generator for poses and nuisances, device generator for pixel noise)."""
        dev = torch.Generator(device=self.device)
        dev.manual_seed((seed + _DEVICE_SEED_OFFSET) % (2 ** 63))
        return torch.Generator().manual_seed(seed % (2 ** 63)), dev

    def reseed(self, seed: int) -> None:
        """Restart both random streams from ``seed``."""
        self._cpu, self._dev = self._generators(seed)
        self.seed = seed

    def sample_sides(self, n: int) -> torch.Tensor:
        """(n,) bool, True for a left hand, by ``handedness`` (draws only for 'both')."""
        if self.handedness == 'both':
            return torch.rand(n, generator=self._cpu) < 0.5
        return torch.full((n,), self.handedness == 'left', dtype=torch.bool)

    def sample_hand22(self, n: int, left: Optional[torch.Tensor] = None) -> torch.Tensor:
        """n random hands (n, 22, 3) camera-frame mm, placed fully inside the image (CPU);
        ``left`` (n,) bool picks left hands (None: right hands)."""
        local = forward_kinematics(sample_angles(n, self._cpu, self.pose), self.skeleton, left)
        rot = sample_rotation(n, self._cpu, self.pose)
        trans = place_in_view(local, rot, self._cpu, self.intrinsics, self.pose)
        return local @ rot.transpose(1, 2) + trans[:, None]

    def sample(self, n: int) -> SyntheticBatch:
        """n random hands rendered with background and sensor model, with labels."""
        left = self.sample_sides(n)
        hand22 = self.sample_hand22(n, left).to(self.device)
        left = left.to(self.device)
        depth = self._render(hand22[:, self._icvl], self._cpu, self._dev, left=left)
        xyz = hand22[:, self._ids]
        return SyntheticBatch(depth, xyz, xyz_to_uvd(xyz, self.intrinsics), hand22, left)

    def render_joints(self, xyz_icvl16: torch.Tensor, seed: Optional[int] = None,
                      left: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Sensor depth (n, H, W) mm of given ICVL16 hands (n, 16, 3) camera-frame mm.

        ``seed`` renders with fresh streams from that seed (the generator's own streams are
        left untouched); None continues the generator's streams. ``left`` (n,) bool (or one
        bool) says which hands are left ones; None tells each from its joints
        (core/handedness.py), which cannot tell the sides of a perfectly flat hand apart.
        """
        xyz = torch.as_tensor(xyz_icvl16, dtype=torch.float32)
        if xyz.ndim != 3 or xyz.shape[1:] != (16, 3):
            raise ValueError(f'xyz_icvl16 must be (n, 16, 3) ICVL16 joints in mm, found shape '
                             f'{tuple(xyz.shape)}')
        if not bool(torch.isfinite(xyz).all()) or bool((xyz[..., 2] <= 0).any()):
            raise ValueError('xyz_icvl16 must be finite with every depth z > 0 mm')
        cpu, dev = self._generators(seed) if seed is not None else (self._cpu, self._dev)
        if left is not None:
            left = torch.as_tensor(left, dtype=torch.bool).to(self.device).expand(xyz.shape[0])
        return self._render(xyz.to(self.device), cpu, dev, left=left)

    def _render(self, xyz16: torch.Tensor, cpu: torch.Generator, dev: torch.Generator,
                rand: Optional[torch.Tensor] = None,
                left: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The one rendering path: ICVL16 joints -> hand, background, sensor (chunked)."""
        n = xyz16.shape[0]
        if rand is None:
            rand = torch.rand(n, _NUM_RANDOMS, generator=cpu)
        rand = rand.to(self.device)
        h0, s0 = NUM_HAND_RANDOMS, NUM_HAND_RANDOMS + NUM_SCENE_RANDOMS
        out = []
        for i in range(0, n, self.chunk):
            part, r = xyz16[i:i + self.chunk], rand[i:i + self.chunk]
            zbuf = empty_zbuffer(part.shape[0], self.intrinsics, self.device)
            side = None if left is None else left[i:i + self.chunk]
            cones, slab = hand_primitives(part, self.skeleton, self.shape, r[:, :h0],
                                          self.intrinsics, side)
            draw_cones(zbuf, cones, self.intrinsics)
            draw_slab(zbuf, slab, self.intrinsics)
            if self.background:
                draw_scene(zbuf, cones, r[:, h0:s0], self.intrinsics, self.scene)
            out.append(apply_sensor(zbuf, self.intrinsics, r[:, s0:], dev, self.sensor))
        if not out:
            return torch.zeros(0, self.intrinsics.height, self.intrinsics.width,
                               device=self.device)
        return torch.cat(out)

    def animate(self, t_s: float) -> Tuple[np.ndarray, np.ndarray]:
        """Frame at time ``t_s`` of a smoothly moving hand: depth (H, W) float32 mm and joints
        (J, 3) float32 mm. Pose, forearm and scene are continuous in t; the noise is redrawn
        for every millisecond of t. A right hand, or a left one where ``handedness`` is 'left'."""
        left = torch.tensor([self.handedness == 'left'])
        local = forward_kinematics(animated_angles(t_s), self.skeleton, left)
        rot, palm = animated_placement(t_s)
        offset = palm - (rot @ local[:, 1, :, None])[..., 0]
        hand22 = local @ rot.transpose(1, 2) + offset[:, None]
        rand = torch.full((1, _NUM_RANDOMS), 0.5)
        h0, s0 = NUM_HAND_RANDOMS, NUM_HAND_RANDOMS + NUM_SCENE_RANDOMS
        rand[:, h0:s0] = static_scene_randoms()
        frame = int(round(t_s * 1000.0))
        _, dev = self._generators(self.seed * 1_000_003 + frame)
        depth = self._render(hand22[:, self._icvl].to(self.device), self._cpu, dev, rand,
                             left.to(self.device))
        return depth[0].cpu().numpy(), hand22[0, self._ids].numpy().astype(np.float32)
