"""Whole-frame scenes of a user as real depth cameras see them: 0-2 hands on arms attached to a
body, objects held in the hands or nearer than them, tables, walls and clutter, from three
viewpoints, through the sensor model of a camera in config/cameras.yaml.

    gen = UserSceneGenerator(focal_px=140.0, seed=0)
    batch = gen.sample(32)        # depth (32, h, w) mm at the detector's sampled resolution
    batch.center_uvd[:, k]        # hand k's centre (u, v px; d mm) where batch.present[:, k]
    batch.visible[:, k]           # the share of hand k in view; batch.seen / batch.hidden

Viewpoints (``SCENE_TYPES``), each a prior chosen by hand, not fitted to any test frame:

- ``third_person``: the camera faces the user; hands 0.4-1.2 m away, the torso, head and
  upper arms behind them; a hand-free frame shows the user with the arms down.
- ``egocentric``: the camera at the head looks down the arm; hands 0.2-0.6 m away, the
  forearm running towards the camera and out of the frame, the chest at the bottom edge.
- ``robot``: the camera above a table looks down; the arm enters over the table from the
  image border; objects stand on the table.

Hands are sampled by the pose sampler (poses.py) and drawn by the one hand renderer
(renderer.py: ICVL16 joints -> primitives, forearm included); a left hand is the mirrored
kinematic model. Hand size (PoseConfig) and finger thickness (``thickness_jitter``) vary.
The hand centre label is the centre of the ICVL16 joints' 3D box (core.crop.hand_center_uvd),
the point the localizer refines and the pose crop is centred on.

Frames are rendered directly at the intrinsics the detector samples a camera's frames to
(core/detection.py: every s-th pixel), so a 640x480 Kinect scene is 160x120 pixels.

``video`` renders held-out videos of such scenes (training/tracking_eval.py ``--views``): the
scene one seed draws, its hands turning, moving and bending at constant speed towards the pose
another draw gives them; ``sample`` without a ``SceneMotion`` draws exactly what it drew before
videos existed, so recorded figures and training streams stay as they were.
"""
from dataclasses import dataclass, field, fields, replace
import math
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .hand_model import default_skeleton, forward_kinematics, HandAngles, HandSkeleton
from .poses import (animated_angles, animated_placement, PoseConfig, sample_angles,
                    sample_rotation)
from .raster import Cones, draw_boxes, draw_cones, draw_ellipsoids, draw_planes, draw_slab, \
    empty_zbuffer
from .renderer import FOREARM_PIECES, hand_primitives, HandShape, NUM_HAND_RANDOMS
from .sensor import apply_sensor, camera_sensor, NUM_SENSOR_RANDOMS, SensorConfig
from ..core.camera import Intrinsics, xyz_to_uvd
from ..core.crop import hand_center_uvd
from ..core.detection import sampled_intrinsics, sampling_stride
from ..core.image_rotation import (quarter_turns, turned_depth, turned_intrinsics, turned_uv,
                                   turned_xyz)
from ..core.skeleton import FROM_HAND22
from ..core.specs import camera_names, camera_spec
from ..core.wrist import quaternion_xyzw

SCENE_TYPES: Tuple[str, ...] = ('third_person', 'egocentric', 'robot')
MAX_SCENE_HANDS = 2
# A hand of which the camera sees less than this share of the pixels it would cover alone
# (palm and fingers, without the forearm; the image border cuts pixels too) is hidden: no
# detector can find it from depth, so it is neither a hand to find (evaluation), nor a peak to
# teach (detector), nor a crop to learn a pose from (pose training). Chosen a priori, a
# quarter of the hand, not fitted to any result.
SEEN_FRACTION = 0.25
_ICVL = list(FROM_HAND22['icvl16'])
# A video's last pose is the draw of its seed + this (UserSceneGenerator.video)
VIDEO_TO_SEED = 7_777_777


@dataclass(frozen=True)
class UserSceneConfig:
    """Probabilities and ranges (mm, degrees) of the scene contents."""

    scene_probs: Tuple[float, float, float] = (0.5, 0.25, 0.25)   # SCENE_TYPES
    hand_free_prob: float = 0.12          # frames without any hand
    two_hands_prob: float = 0.4           # of the frames with hands
    held_object_prob: float = 0.3         # per hand: a cylinder, sphere or box in the grip
    near_object_prob: float = 0.15        # per frame: an object nearer than the hands, beside
    sleeve_prob: float = 0.5              # per arm
    wall_prob: float = 0.7
    table_prob: float = 0.35              # third person and egocentric (robot: always)
    clutter_slots: int = 4
    clutter_prob: float = 0.5             # per slot
    third_hand_mm: Tuple[float, float] = (400.0, 1200.0)
    third_body_gap_mm: Tuple[float, float] = (150.0, 450.0)   # hands to the torso's front
    ego_hand_mm: Tuple[float, float] = (200.0, 600.0)
    robot_table_mm: Tuple[float, float] = (550.0, 1100.0)     # camera to table along the axis
    robot_height_mm: Tuple[float, float] = (60.0, 350.0)      # palm above the table
    robot_tilt_deg: float = 35.0
    thickness_jitter: float = 0.15
    pose: PoseConfig = field(default_factory=PoseConfig)


@dataclass
class SceneBatch:
    """Rendered scenes and their labels (CPU tensors); hand slot k is valid where present."""

    depth_mm: torch.Tensor     # (n, h, w) float32 mm, 0 = missing
    intrinsics: Intrinsics     # of depth_mm
    camera: str                # the camera preset whose sensor model was used
    scene: torch.Tensor        # (n,) long: index into SCENE_TYPES
    present: torch.Tensor      # (n, 2) bool
    left: torch.Tensor         # (n, 2) bool
    hand22: torch.Tensor       # (n, 2, 22, 3) camera-frame mm (zeros where absent)
    center_uvd: torch.Tensor   # (n, 2, 3) px, px, mm
    visible: torch.Tensor      # (n, 2) float: share of the hand's own pixels in view (0 absent)

    @property
    def seen(self) -> torch.Tensor:
        """(n, 2) bool: hands present and not hidden (visible >= SEEN_FRACTION)."""
        return self.present & (self.visible >= SEEN_FRACTION)

    @property
    def hidden(self) -> torch.Tensor:
        """(n, 2) bool: hands present but hidden (held objects, nearer objects, the other hand
        or the image border leave less than SEEN_FRACTION of them in view)."""
        return self.present & (self.visible < SEEN_FRACTION)


def turned_batch(batch: SceneBatch, rotation_deg: int) -> SceneBatch:
    """``batch`` as a camera rolled about its optical axis sees it: every frame turned
    clockwise by ``rotation_deg`` (core/image_rotation.py), its intrinsics and the hands'
    joints and centres with it (a camera mounted upside down: 180)."""
    if not quarter_turns(rotation_deg):
        return batch
    intr = batch.intrinsics
    hand22 = torch.as_tensor(turned_xyz(batch.hand22.numpy(), rotation_deg))
    return replace(batch,
                   depth_mm=torch.from_numpy(np.stack([turned_depth(d, rotation_deg)
                                                       for d in batch.depth_mm.numpy()])),
                   intrinsics=turned_intrinsics(intr, rotation_deg), hand22=hand22,
                   center_uvd=torch.as_tensor(turned_uv(batch.center_uvd.numpy(), intr,
                                                        rotation_deg)))


def visible_share(own: torch.Tensor, zbuf: torch.Tensor) -> torch.Tensor:
    """(n, K) share of each hand's own pixels (``own`` (n, K, H, W) mm, +inf off the hand)
    that the scene's z-buffer (n, H, W) still shows (nothing in front by more than 1 mm);
    0 for a hand with no pixel in the image."""
    on = torch.isfinite(own)
    shown = on & (zbuf[:, None] >= own - 1.0)
    return shown.flatten(2).sum(-1).float() / on.flatten(2).sum(-1).clamp_min(1).float()


def _u(gen: torch.Generator, n: int, lo_hi: Tuple[float, float]) -> torch.Tensor:
    """n draws of U(lo, hi)."""
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * torch.rand(n, generator=gen)


@dataclass(frozen=True)
class SceneMotion:
    """One frame of a scene video (UserSceneGenerator.video): the scene the generator's seed
    draws, each hand's joint angles, rotation and palm position moved ``share`` (0-1) of the
    way to those the seed ``to_seed`` draws for it (its size kept), the sensor's noise drawn
    from ``noise_seed``."""

    to_seed: int
    share: float
    noise_seed: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f'SceneMotion.share must be in [0, 1], found {self.share}')


def _matrices(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (n, 3, 3) of unit quaternions (n, 4) (x, y, z, w)."""
    x, y, z, w = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1).view(-1, 3, 3)


def slerp_rotations(a: torch.Tensor, b: torch.Tensor, share: float) -> torch.Tensor:
    """Rotations (n, 3, 3) ``share`` (0-1) of the way from ``a`` to ``b`` along the shortest
    arc (spherical linear interpolation): the constant-speed turn between two poses."""
    qa, qb = (torch.from_numpy(np.stack([quaternion_xyzw(r) for r in m.double().numpy()]))
              for m in (a, b))
    dot = (qa * qb).sum(-1, keepdim=True)
    qb = torch.where(dot < 0, -qb, qb)
    dot = dot.abs().clamp_max(1.0)
    angle = torch.acos(dot)
    sin = torch.sin(angle)
    near = sin < 1e-6
    wa = torch.where(near, 1.0 - share, torch.sin((1.0 - share) * angle) / sin.clamp_min(1e-6))
    wb = torch.where(near, torch.full_like(sin, share), torch.sin(share * angle)
                     / sin.clamp_min(1e-6))
    q = wa * qa + wb * qb
    return _matrices(q / q.norm(dim=-1, keepdim=True)).to(a.dtype)


def _unit(v: torch.Tensor) -> torch.Tensor:
    """Rows normalised to unit length."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-9)


def _ray(u: torch.Tensor, v: torch.Tensor, z: torch.Tensor, intr: Intrinsics) -> torch.Tensor:
    """Camera-frame points (n, 3) at pixels (u, v) and depth z (mm)."""
    return torch.stack([(u - intr.cx) * z / intr.fx, (v - intr.cy) * z / intr.fy, z], -1)


def hand_frame(fingers: torch.Tensor, palm_normal: torch.Tensor) -> torch.Tensor:
    """Model -> camera rotations (n, 3, 3) pointing the fingers (model +y) along ``fingers``
    and the palm (model -z) along ``palm_normal`` (made orthogonal to the fingers)."""
    y = _unit(fingers)
    n = _unit(palm_normal - (palm_normal * y).sum(-1, keepdim=True) * y)
    z = -n
    return torch.stack([torch.linalg.cross(y, z, dim=-1), y, z], -1)


def _rotate_about(v: torch.Tensor, axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues: v (n, 3) rotated about unit axes (n, 3) by angles (n,) radians."""
    c, s = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    return (v * c + torch.linalg.cross(axis, v, dim=-1) * s
            + axis * (axis * v).sum(-1, keepdim=True) * (1 - c))


class UserSceneGenerator:
    """Random user scenes for the cameras of config/cameras.yaml; see the module docstring."""

    def __init__(self, focal_px: float = 140.0, cameras: Optional[Sequence[str]] = None,
                 seed: int = 0, config: Optional[UserSceneConfig] = None,
                 skeleton: Optional[HandSkeleton] = None, full_resolution: bool = False) -> None:
        self.focal_px = float(focal_px)
        self.full_resolution = full_resolution
        self.cameras = tuple(cameras or camera_names())
        self.config = config or UserSceneConfig()
        self.skeleton = skeleton or default_skeleton()
        self.shape = HandShape(thickness_jitter=self.config.thickness_jitter)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the random streams from ``seed``."""
        self.gen = torch.Generator().manual_seed(seed % (2 ** 63))
        self.seed = seed

    def camera(self, name: str) -> Tuple[Intrinsics, SensorConfig]:
        """Intrinsics (sampled, or the camera's own at full resolution) and sensor model of
        camera preset ``name``."""
        spec = camera_spec(name)
        if self.full_resolution:
            return spec.intrinsics, camera_sensor(spec.sensor)
        stride = sampling_stride(spec.intrinsics, self.focal_px)
        sensor = dict(spec.sensor)
        if sensor.get('disparity_step_px'):
            sensor['disparity_step_px'] = sensor['disparity_step_px'] / stride
        return sampled_intrinsics(spec.intrinsics, stride), camera_sensor(sensor)

    # -- sampling --------------------------------------------------------------------------
    def sample(self, n: int, scene: Optional[Union[int, str]] = None,
               camera: Optional[str] = None, hands: Optional[int] = None,
               min_hands: int = 0, motion: Optional[SceneMotion] = None) -> SceneBatch:
        """n scenes of one camera (random preset unless given); ``scene`` forces a viewpoint,
        ``hands`` (0, 1 or 2) the number of hands, ``min_hands`` a least number of them.
        ``motion``: one frame of a video (SceneMotion, ``video``)."""
        g, cfg = self.gen, self.config
        if camera is None:
            camera = self.cameras[int(torch.randint(len(self.cameras), (1,), generator=g))]
        intr, sensor = self.camera(camera)
        if scene is None:
            kind = torch.multinomial(torch.tensor(cfg.scene_probs), n, True, generator=g)
        else:
            k = SCENE_TYPES.index(scene) if isinstance(scene, str) else int(scene)
            kind = torch.full((n,), k, dtype=torch.long)
        if hands is None:
            r = torch.rand(n, generator=g)
            count = torch.where(r < cfg.hand_free_prob, 0,
                                torch.where(torch.rand(n, generator=g) < cfg.two_hands_prob,
                                            2, 1))
        else:
            count = torch.full((n,), int(hands), dtype=torch.long)
        count = count.clamp_min(min_hands)
        first_left = torch.rand(n, generator=g) < 0.5
        present = torch.stack([count >= 1, count >= 2], 1)
        left = torch.stack([first_left, ~first_left], 1)      # two hands: one of each side
        min_mm = sensor.range_mm[0] + 80.0
        zbuf = empty_zbuffer(n, intr, torch.device('cpu'))
        hand22 = torch.zeros(n, MAX_SCENE_HANDS, 22, 3)
        own = torch.full((n, MAX_SCENE_HANDS, intr.height, intr.width), float('inf'))
        arm_parts: List[Cones] = []
        body = self._body(n, kind, intr)
        for k in range(MAX_SCENE_HANDS):
            xyz = self._hands(n, kind, left[:, k], count, body, intr, min_mm, k, motion)
            hand22[:, k] = xyz
            idx = present[:, k].nonzero()[:, 0]
            wrist, elbow = torch.zeros(n, 3), torch.zeros(n, 3)
            if idx.numel():
                wrist[idx], elbow[idx], own[idx, k] = self._draw_hand(zbuf, idx, xyz[idx],
                                                                      left[idx, k], intr)
            arm_parts.append(self._arm(wrist, elbow, kind, body, left[:, k], present[:, k]))
        self._draw_body(zbuf, kind, body, present, left, intr)
        draw_cones(zbuf, Cones.cat(*arm_parts), intr)
        self._draw_held(zbuf, hand22, present, intr)
        self._draw_surroundings(zbuf, kind, hand22, present, body, intr)
        visible = visible_share(own, zbuf) * present
        rand = torch.rand(n, NUM_SENSOR_RANDOMS, generator=g)
        noise = g if motion is None else \
            torch.Generator().manual_seed(motion.noise_seed % (2 ** 63))
        depth = apply_sensor(zbuf, intr, rand, noise, sensor)
        center = torch.zeros(n, MAX_SCENE_HANDS, 3)
        for k in range(MAX_SCENE_HANDS):
            center[:, k] = hand_center_uvd(xyz_to_uvd(hand22[:, k, _ICVL], intr), intr)
        center = torch.where(present[..., None], center, torch.zeros_like(center))
        return SceneBatch(depth, intr, camera, kind, present, left & present, hand22, center,
                          visible)

    def video(self, seed: int, frames: int, scene: Union[int, str], camera: str,
              min_hands: int = 1) -> List[SceneBatch]:
        """A held-out scene video: ``frames`` one-frame batches of the scene ``seed`` draws
        (viewpoint ``scene``, ``camera``; body, objects, surroundings and hand sizes fixed)
        whose hands turn, move and bend at constant speed from their pose in the first frame
        to the pose another draw gives them in the last (SceneMotion); sensor noise anew in
        every frame. The generator's own stream is left reseeded to ``seed``."""
        if frames < 1:
            raise ValueError(f'video: frames must be >= 1, found {frames}')
        out = []
        for f in range(frames):
            self.reseed(seed)
            motion = SceneMotion(to_seed=seed + VIDEO_TO_SEED, share=f / max(frames - 1, 1),
                                 noise_seed=seed * 10_007 + f)
            out.append(self.sample(1, scene=scene, camera=camera, min_hands=min_hands,
                                   motion=motion))
        self.reseed(seed)
        return out

    # -- the user --------------------------------------------------------------------------
    def _body(self, n: int, kind: torch.Tensor, intr: Intrinsics) -> dict:
        """Torso centre and size, shoulders, hands' depth (third person) for every frame."""
        g, cfg = self.gen, self.config
        hand_z = _u(g, n, cfg.third_hand_mm)
        radius = _u(g, n, (140.0, 190.0))
        z = hand_z + _u(g, n, cfg.third_body_gap_mm) + 0.7 * radius
        u = _u(g, n, (0.3 * intr.width, 0.7 * intr.width))
        v = _u(g, n, (0.55 * intr.height, 1.0 * intr.height))
        centre = _ray(u, v, z, intr)
        centre[:, 1] = centre[:, 1] + 1.2 * radius          # the torso's top near v
        shoulder_y = centre[:, 1] - 1.55 * radius
        shoulders = torch.stack([torch.stack([centre[:, 0] + s * 1.15 * radius, shoulder_y,
                                              centre[:, 2] - 0.3 * radius], -1)
                                 for s in (-1.0, 1.0)], 1)   # (n, 2, 3): user's right, left
        return {'hand_z': hand_z, 'radius': radius, 'centre': centre, 'shoulders': shoulders,
                'table': self._robot_table(n)}

    def _hands(self, n: int, kind: torch.Tensor, left: torch.Tensor, count: torch.Tensor,
               body: dict, intr: Intrinsics, min_mm: float, slot: int = 0,
               motion: Optional[SceneMotion] = None) -> torch.Tensor:
        """HAND22 joints (n, 22, 3) mm of one hand (``slot``) in every frame (used where
        present); with ``motion``, its pose moved part of the way to another draw's."""
        angles, rot, palm = self._hand_placement(n, kind, left, count, body, intr, min_mm,
                                                 self.gen)
        if motion is not None:
            to = torch.Generator().manual_seed((motion.to_seed * MAX_SCENE_HANDS + slot)
                                               % (2 ** 63))
            angles_to, rot_to, palm_to = self._hand_placement(n, kind, left, count, body, intr,
                                                              min_mm, to)
            w = float(motion.share)
            angles = HandAngles(**{f.name: (getattr(angles, f.name) if f.name == 'scale' else
                                            torch.lerp(getattr(angles, f.name),
                                                       getattr(angles_to, f.name), w))
                                   for f in fields(HandAngles)})
            rot, palm = slerp_rotations(rot, rot_to, w), torch.lerp(palm, palm_to, w)
        local = forward_kinematics(angles, self.skeleton, left)
        cam = local @ rot.transpose(1, 2)
        return cam + (palm - cam[:, 1])[:, None]

    def _hand_placement(self, n: int, kind: torch.Tensor, left: torch.Tensor,
                        count: torch.Tensor, body: dict, intr: Intrinsics, min_mm: float,
                        g: torch.Generator
                        ) -> Tuple[HandAngles, torch.Tensor, torch.Tensor]:
        """Joint angles, model -> camera rotations (n, 3, 3) and palm positions (n, 3) mm of
        one hand in every frame, each viewpoint's prior, drawn from ``g``."""
        cfg = self.config
        angles = sample_angles(n, g, cfg.pose)
        # Third person: the camera's usual mix of rotations (poses.py), the hand in front of
        # its own shoulder's side (a user facing the camera has the right hand on image left).
        rot_third = sample_rotation(n, g, cfg.pose)
        two = count >= 2
        lo = torch.where(two, torch.where(left, 0.55, 0.08), torch.where(left, 0.3, 0.08))
        hi = torch.where(two, torch.where(left, 0.92, 0.45), torch.where(left, 0.92, 0.7))
        u3 = (lo + (hi - lo) * torch.rand(n, generator=g)) * intr.width
        v3 = _u(g, n, (0.12 * intr.height, 0.75 * intr.height))
        z3 = (body['hand_z'] + _u(g, n, (-60.0, 60.0))).clamp_min(min_mm + 50.0)
        palm3 = _ray(u3, v3, z3, intr)
        # Egocentric: the forearm rises from below the camera (the elbow at chest height), so
        # the fingers point forward and up the image, the forearm runs down it towards the
        # camera; palm down to sideways (sometimes up); the right hand on the image's right.
        fingers = torch.stack([_u(g, n, (-0.5, 0.5)), _u(g, n, (-0.7, 0.1)), torch.ones(n)], -1)
        fingers = _unit(fingers)
        roll = torch.deg2rad(_u(g, n, (-110.0, 110.0)))
        roll = torch.where(torch.rand(n, generator=g) < 0.15, roll + math.pi, roll)
        normal = _rotate_about(torch.tensor([[0.0, 1.0, 0.0]]).expand(n, 3), fingers, roll)
        rot_ego = hand_frame(fingers, normal)
        lo_e = torch.where(two, torch.where(left, 0.08, 0.55), torch.where(left, 0.1, 0.3))
        hi_e = torch.where(two, torch.where(left, 0.45, 0.92), torch.where(left, 0.7, 0.9))
        ue = (lo_e + (hi_e - lo_e) * torch.rand(n, generator=g)) * intr.width
        ve = _u(g, n, (0.35 * intr.height, 0.85 * intr.height))
        ze = _u(g, n, (max(cfg.ego_hand_mm[0], min_mm), max(cfg.ego_hand_mm[1], min_mm + 100)))
        palm_e = _ray(ue, ve, ze, intr)
        # Robot: fingers across the table, the back of the hand (mostly) towards the camera.
        ang = _u(g, n, (0.0, 2.0 * math.pi))
        fingers_r = _unit(torch.stack([torch.cos(ang), torch.sin(ang), _u(g, n, (-0.35, 0.35))],
                                      -1))
        roll_r = torch.deg2rad(_u(g, n, (-90.0, 90.0)))
        roll_r = torch.where(torch.rand(n, generator=g) < 0.25, roll_r + math.pi, roll_r)
        normal_r = _rotate_about(torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3), fingers_r, roll_r)
        rot_robot = hand_frame(fingers_r, normal_r)
        ur = torch.where(two, torch.where(left, _u(g, n, (0.15, 0.45)), _u(g, n, (0.55, 0.85))),
                         _u(g, n, (0.15, 0.85))) * intr.width
        vr = _u(g, n, (0.15 * intr.height, 0.85 * intr.height))
        zt = self._plane_depth_at(ur, vr, body['table'], intr)
        zr = (zt - _u(g, n, cfg.robot_height_mm)).clamp_min(min_mm + 50.0)
        palm_r = _ray(ur, vr, zr, intr)
        pick = kind[:, None, None]
        rot = torch.where(pick == 0, rot_third, torch.where(pick == 1, rot_ego, rot_robot))
        palm = torch.where(kind[:, None] == 0, palm3, torch.where(kind[:, None] == 1, palm_e,
                                                                  palm_r))
        return angles, rot, palm

    def _robot_table(self, n: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(point, normal) of the table plane seen from above, tilted up to robot_tilt_deg."""
        g, cfg = self.gen, self.config
        tilt = torch.deg2rad(_u(g, n, (0.0, cfg.robot_tilt_deg)))
        az = _u(g, n, (0.0, 2.0 * math.pi))
        normal = -torch.stack([torch.sin(tilt) * torch.cos(az), torch.sin(tilt) * torch.sin(az),
                               torch.cos(tilt)], -1)
        point = torch.stack([torch.zeros(n), torch.zeros(n), _u(g, n, cfg.robot_table_mm)], -1)
        return point, normal

    @staticmethod
    def _plane_depth_at(u: torch.Tensor, v: torch.Tensor, plane: Tuple[torch.Tensor, ...],
                        intr: Intrinsics) -> torch.Tensor:
        """Depth (n,) mm of the plane (point, normal) along the rays of pixels (u, v)."""
        point, normal = plane
        ray = _ray(u, v, torch.ones_like(u), intr)
        denom = (ray * normal).sum(-1)
        denom = torch.where(denom.abs() < 1e-3, torch.full_like(denom, -1e-3), denom)
        return (point * normal).sum(-1) / denom

    def _draw_hand(self, zbuf: torch.Tensor, idx: torch.Tensor, hand22: torch.Tensor,
                   left: torch.Tensor, intr: Intrinsics
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Render the hands (with forearm stubs) of frames ``idx`` into ``zbuf``; returns the
        forearm stubs' (wrist end, far end) (len(idx), 3) mm, where the rest of the arm joins,
        and each hand's own z-buffer without its forearm (len(idx), H, W) mm."""
        rand = torch.rand(idx.numel(), NUM_HAND_RANDOMS, generator=self.gen)
        cones, slab = hand_primitives(hand22[:, _ICVL], self.skeleton, self.shape, rand, intr,
                                      left)
        forearm = torch.zeros_like(cones.active)
        forearm[:, -2 * FOREARM_PIECES:] = True
        sub = empty_zbuffer(idx.numel(), intr, zbuf.device)
        draw_cones(sub, Cones(cones.a, cones.b, cones.ra, cones.rb, cones.active & ~forearm),
                   intr)
        draw_slab(sub, slab, intr)
        hand_only = sub.clone()
        draw_cones(sub, Cones(cones.a, cones.b, cones.ra, cones.rb, cones.active & forearm),
                   intr)
        zbuf[idx] = torch.minimum(zbuf[idx], sub)
        end = 0.5 * (cones.b[:, -1] + cones.b[:, -1 - FOREARM_PIECES])
        start = 0.5 * (cones.a[:, -FOREARM_PIECES] + cones.a[:, -2 * FOREARM_PIECES])
        return start, end, hand_only

    def _arm(self, wrist: torch.Tensor, elbow: torch.Tensor, kind: torch.Tensor, body: dict,
             left: torch.Tensor, present: torch.Tensor) -> Cones:
        """Upper arm (third person: elbow to shoulder; else onwards out of the frame), sleeve;
        an arm hanging down beside the torso where the hand is absent (third person)."""
        g, n = self.gen, kind.shape[0]
        shoulder = torch.where(left[:, None], body['shoulders'][:, 1], body['shoulders'][:, 0])
        direction = _unit(elbow - wrist)
        onward = elbow + 700.0 * direction
        arm_end = torch.where(kind[:, None] == 0, shoulder, onward)
        hang = shoulder + torch.stack([torch.zeros(n), torch.full((n,), 650.0),
                                       torch.zeros(n)], -1)
        upper_a = torch.where(present[:, None], elbow, shoulder)
        upper_b = torch.where(present[:, None], arm_end, hang)
        upper_on = present | (kind == 0)
        radius = _u(g, n, (38.0, 50.0))
        sleeve_on = present & (torch.rand(n, generator=g) < self.config.sleeve_prob)
        sleeve_a = wrist + direction * _u(g, n, (30.0, 80.0))[:, None]
        sleeve_r = _u(g, n, (36.0, 48.0))
        cones = Cones(torch.stack([upper_a, sleeve_a], 1), torch.stack([upper_b, elbow], 1),
                      torch.stack([radius, sleeve_r], 1), torch.stack([radius, sleeve_r], 1),
                      torch.stack([upper_on, sleeve_on], 1))
        return cones.split(4)

    def _draw_body(self, zbuf, kind, body, present, left, intr) -> None:
        """Torso and head (third person), the chest at the bottom edge (egocentric)."""
        g, n = self.gen, kind.shape[0]
        r = body['radius']
        third = kind == 0
        semi = torch.stack([r, 1.7 * r, 0.7 * r], -1)
        draw_ellipsoids(zbuf, body['centre'], semi, third, intr)
        head_r = _u(g, n, (85.0, 105.0))
        head = body['centre'] + torch.stack([_u(g, n, (-30.0, 30.0)), -1.7 * r - 1.25 * head_r,
                                             -0.2 * r], -1)
        draw_ellipsoids(zbuf, head, torch.stack([head_r, 1.2 * head_r, head_r], -1), third,
                        intr)
        chest_on = (kind == 1) & (torch.rand(n, generator=g) < 0.5)
        chest = torch.stack([_u(g, n, (-80.0, 80.0)), _u(g, n, (380.0, 480.0)),
                             _u(g, n, (120.0, 260.0))], -1)
        draw_ellipsoids(zbuf, chest, torch.stack([r, 0.8 * r, 0.7 * r], -1), chest_on, intr)

    def _draw_held(self, zbuf, hand22, present, intr) -> None:
        """Objects in the grip: a cylinder across the palm, a sphere or a box on its palm side."""
        g, cfg, n = self.gen, self.config, hand22.shape[0]
        parts = []
        for k in range(MAX_SCENE_HANDS):
            xyz = hand22[:, k]
            on = present[:, k] & (torch.rand(n, generator=g) < cfg.held_object_prob)
            palm, wrist = xyz[:, 1], xyz[:, 0]
            mcp = xyz[:, [5, 9, 13, 17]] if xyz.shape[1] == 22 else xyz[:, 1:5]
            distal = _unit(mcp.mean(1) - wrist)
            radial = _unit(mcp[:, 0] - mcp[:, 3])
            normal = _unit(torch.linalg.cross(radial, distal, dim=-1))
            # The palm side: towards the fingertips' mean (they curl to the palm).
            tips = xyz[:, [4, 8, 12, 16, 20]].mean(1) - palm
            normal = torch.where(((tips * normal).sum(-1) < 0)[:, None], -normal, normal)
            shape = torch.randint(3, (n,), generator=g)
            size = _u(g, n, (18.0, 50.0))
            along = _u(g, n, (0.0, 30.0))[:, None]
            centre = palm + normal * (15.0 + size)[:, None] + distal * along
            length = _u(g, n, (60.0, 220.0))
            cyl = on & (shape == 0)
            sph = on & (shape == 1)
            a = torch.where(cyl[:, None], centre - radial * (0.5 * length)[:, None], centre)
            b = torch.where(cyl[:, None], centre + radial * (0.5 * length)[:, None], centre)
            parts.append(Cones(a[:, None], b[:, None], size[:, None], size[:, None],
                               (cyl | sph)[:, None]))
            axes = torch.stack([radial, distal, normal], -1)
            half = torch.stack([_u(g, n, (20.0, 70.0)), _u(g, n, (15.0, 50.0)), size], -1)
            draw_boxes(zbuf, centre, axes, half, on & (shape == 2), intr)
        draw_cones(zbuf, Cones.cat(*parts).split(2), intr)

    def _draw_surroundings(self, zbuf, kind, hand22, present, body, intr) -> None:
        """Walls, tables, clutter behind the hands and an object nearer than them, beside."""
        g, cfg, n = self.gen, self.config, kind.shape[0]
        any_hand = present.any(1)
        hz = torch.where(present, hand22[..., 2].amax(-1), torch.zeros(n, 2)).amax(1)
        near = torch.where(present, hand22[..., 2].amin(-1), torch.full((n, 2), 1e4)).amin(1)
        behind = torch.where(any_hand, hz, body['hand_z'])
        behind = torch.where(kind == 0, torch.maximum(behind, body['centre'][:, 2]), behind)
        # Wall behind everything.
        wall_on = (torch.rand(n, generator=g) < cfg.wall_prob) & (kind != 2)
        tilt = torch.deg2rad(_u(g, n, (0.0, 40.0)))
        az = _u(g, n, (0.0, 2.0 * math.pi))
        normal = -torch.stack([torch.sin(tilt) * torch.cos(az), torch.sin(tilt) * torch.sin(az),
                               torch.cos(tilt)], -1)
        point = torch.stack([torch.zeros(n), torch.zeros(n),
                             behind + _u(g, n, (300.0, 1800.0))], -1)
        draw_planes(zbuf, point, normal, behind + 100.0, wall_on, intr)
        # Table: below the hands (third person, egocentric) or under them (robot).
        low = torch.where(present, hand22[..., 1].amax(-1), torch.full((n, 2), -1e4)).amax(1)
        low = torch.where(any_hand, low, torch.full((n,), 200.0))
        pitch = torch.deg2rad(torch.where(kind == 1, _u(g, n, (30.0, 70.0)),
                                          _u(g, n, (10.0, 50.0))))
        t_normal = torch.stack([torch.zeros(n), -torch.cos(pitch), -torch.sin(pitch)], -1)
        t_point = torch.stack([torch.zeros(n), low + _u(g, n, (40.0, 300.0)),
                               torch.where(any_hand, 0.5 * (near + hz), body['hand_z'])], -1)
        table_on = (torch.rand(n, generator=g) < cfg.table_prob) & (kind != 2)
        draw_planes(zbuf, t_point, t_normal, near.clamp_max(5e3) - 50.0, table_on, intr)
        r_point, r_normal = body['table']
        draw_planes(zbuf, r_point, r_normal, torch.full((n,), 100.0), kind == 2, intr)
        # Clutter: boxes and blobs behind the hands, standing on the robot's table.
        for _ in range(cfg.clutter_slots):
            on = torch.rand(n, generator=g) < cfg.clutter_prob
            u = _u(g, n, (0.0, intr.width - 1.0))
            v = _u(g, n, (0.0, intr.height - 1.0))
            size = _u(g, n, (25.0, 150.0))
            z_back = behind + _u(g, n, (100.0, 1200.0)) + size
            z_table = self._plane_depth_at(u, v, (r_point, r_normal), intr) - size
            z = torch.where(kind == 2, z_table, z_back)
            centre = _ray(u, v, z.clamp_min(200.0), intr)
            q, _ = torch.linalg.qr(torch.randn(n, 3, 3, generator=g))
            half = torch.stack([size, _u(g, n, (0.3, 1.0)) * size, _u(g, n, (0.3, 1.0)) * size],
                               -1)
            is_box = torch.rand(n, generator=g) < 0.5
            draw_boxes(zbuf, centre, q, half, on & is_box, intr)
            draw_ellipsoids(zbuf, centre, half, on & ~is_box, intr)
        # One object nearer than the hands, beside them in the image.
        on = any_hand & (torch.rand(n, generator=g) < cfg.near_object_prob)
        size = _u(g, n, (15.0, 60.0))
        z = (near - _u(g, n, (40.0, 200.0)) - size).clamp_min(250.0)
        k = torch.where(present[:, 1] & (torch.rand(n, generator=g) < 0.5), 1, 0)
        c = hand22[torch.arange(n), k, 1]
        uv = xyz_to_uvd(c, intr)
        off = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        u = uv[:, 0] + off * (intr.fx * (110.0 + size) / c[:, 2].clamp_min(1.0))
        v = uv[:, 1] + _u(g, n, (-40.0, 40.0))
        centre = _ray(u, v, z, intr)
        draw_ellipsoids(zbuf, centre, size[:, None].expand(n, 3) * torch.stack(
            [torch.ones(n), _u(g, n, (1.0, 2.5)), torch.ones(n)], -1), on, intr)

    # -- a calm scene for the demo -----------------------------------------------------------
    def animate(self, t_s: float, camera: str = 'realsense_d435_640x480',
                joint_set: str = 'icvl16') -> Tuple[np.ndarray, List[Tuple[np.ndarray, str]]]:
        """Frame at time ``t_s`` of a user facing the camera with both hands raised, opening
        and closing out of phase: depth (H, W) float32 mm and [(joints (J, 3) mm of
        ``joint_set``, a selection of the whole hand, side), ...], the user's right hand first
        (on the image's left). Pose, body and scene are continuous in t; the noise is redrawn
        for every millisecond."""
        labels = list(FROM_HAND22[joint_set])
        intr, sensor = self.camera(camera)
        zbuf = empty_zbuffer(1, intr, torch.device('cpu'))
        hands, ends = [], []
        for k, is_left in enumerate((False, True)):
            t = t_s + 1.3 * k
            left = torch.tensor([is_left])
            local = forward_kinematics(animated_angles(t), self.skeleton, left)
            rot, palm = animated_placement(t)
            palm = palm + torch.tensor([[(1.0 if is_left else -1.0) * 170.0, 0.0, 80.0]])
            cam = local @ rot.transpose(1, 2)
            xyz = cam + (palm - cam[:, 1])[:, None]
            rand = torch.full((1, NUM_HAND_RANDOMS), 0.5)
            cones, slab = hand_primitives(xyz[:, _ICVL], self.skeleton, self.shape, rand, intr,
                                          left)
            draw_cones(zbuf, cones, intr)
            draw_slab(zbuf, slab, intr)
            ends.append(0.5 * (cones.b[:, -1] + cones.b[:, -1 - FOREARM_PIECES]))
            side = 'left' if is_left else 'right'
            hands.append((xyz[0, labels].numpy().astype(np.float32), side))
        centre = torch.tensor([[0.0, 330.0, 900.0]])
        draw_ellipsoids(zbuf, centre, torch.tensor([[170.0, 290.0, 120.0]]),
                        torch.tensor([True]), intr)
        draw_ellipsoids(zbuf, centre + torch.tensor([[0.0, -410.0, -20.0]]),
                        torch.tensor([[95.0, 115.0, 95.0]]), torch.tensor([True]), intr)
        shoulders = centre + torch.tensor([[-195.0, -250.0, -40.0], [195.0, -250.0, -40.0]])
        arm = Cones(torch.stack(ends, 1), shoulders[None], torch.full((1, 2), 45.0),
                    torch.full((1, 2), 45.0), torch.ones(1, 2, dtype=torch.bool))
        draw_cones(zbuf, arm.split(4), intr)
        draw_planes(zbuf, torch.tensor([[0.0, 0.0, 1700.0]]), torch.tensor([[0.0, 0.0, -1.0]]),
                    torch.tensor([1000.0]), torch.tensor([True]), intr)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(round(t_s * 1000)))
        depth = apply_sensor(zbuf, intr, torch.full((1, NUM_SENSOR_RANDOMS), 0.3), gen, sensor)
        return depth[0].numpy(), hands


def one_hand_frame(depth: np.ndarray, cx: float, side: str) -> np.ndarray:
    """A frame of ``animate`` with only the user's ``side`` hand: the user's right hand is on
    the image's left (facing the camera), so the other image half, from column ``cx``
    (pixels), is blanked (depth 0 = missing)."""
    out = depth.copy()
    if side == 'right':
        out[:, int(round(cx)):] = 0.0
    else:
        out[:, :int(round(cx))] = 0.0
    return out
