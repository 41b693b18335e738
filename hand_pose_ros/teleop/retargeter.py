"""HandRetargeter: MediaPipe-21 hand joints (metres) -> robot hand joint positions.

A thin wrapper of dex-retargeting (``RetargetingConfig`` -> ``SeqRetargeting``): our joints
are put into the MANO wrist frame its robot configs expect (:func:`wrist_frame_points`), the
reference its optimiser reads is taken from them (vectors between joint pairs for vector and
DexPilot retargeting, positions for position retargeting), and one optimisation per frame,
warm-started from the previous frame's result, gives the robot's joint positions.

dex-retargeting is imported when a HandRetargeter is built, never at import time:
``pip install 'hand_pose_ros[teleop]'`` installs it (with pinocchio, nlopt, ...).
"""
import copy
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
from xml.etree import ElementTree

import numpy as np
import yaml

from .frames import check_side, wrist_frame_points
from ..core.skeleton import FINGER_NAMES, MEDIAPIPE21

INSTALL_HINT = "pip install 'hand_pose_ros[teleop]'"
# The fingertips in MediaPipe-21 order, thumb to little (4, 8, 12, 16, 20).
FINGERS: Tuple[str, ...] = FINGER_NAMES[1:]
FINGERTIPS: Tuple[int, ...] = tuple(MEDIAPIPE21.index(f'{f}_tip') for f in FINGERS)
HumanJoint = Union[int, str]
PathLike = Union[str, Path]


def import_retargeting_config():
    """dex-retargeting's RetargetingConfig; ImportError saying how to install it."""
    try:
        from dex_retargeting.retargeting_config import RetargetingConfig
    except ImportError as exc:
        raise ImportError(f'robot hand retargeting needs the dex-retargeting package: '
                          f'{INSTALL_HINT} (import failed: {exc})') from exc
    return RetargetingConfig


def human_index(joint: HumanJoint) -> int:
    """A MediaPipe-21 joint as its index: an index 0..20 or a name ('wrist', 'index_tip')."""
    if isinstance(joint, str):
        return MEDIAPIPE21.index(joint)
    index = int(joint)
    if not 0 <= index < MEDIAPIPE21.num_joints:
        raise ValueError(f'MediaPipe-21 joint indices are 0..{MEDIAPIPE21.num_joints - 1}, '
                         f'found {joint}')
    return index


def fingertip_pairs(wrist_link: str, tip_links: Sequence[str]
                    ) -> Tuple[List[Tuple[str, str]], List[Tuple[int, int]]]:
    """Robot and human (origin, task) pairs of wrist -> fingertip vectors.

    ``tip_links``: the robot's fingertip links in finger order thumb, index, middle, ring,
    little; '' for a finger the robot lacks, and a shorter list leaves the last fingers out.
    """
    if len(tip_links) > len(FINGERS):
        raise ValueError(f'at most {len(FINGERS)} fingertip links (thumb, index, middle, ring, '
                         f'little), found {len(tip_links)}')
    pairs = [((wrist_link, link), (0, tip)) for link, tip in zip(tip_links, FINGERTIPS) if link]
    if not pairs:
        raise ValueError('no fingertip link given')
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _urdf_root(urdf: PathLike) -> ElementTree.Element:
    """The parsed ``<robot>`` element of a URDF; ValueError for invalid XML."""
    try:
        return ElementTree.parse(str(urdf)).getroot()
    except ElementTree.ParseError as exc:
        raise ValueError(f'{urdf}: not a valid URDF (XML): {exc}') from None


def root_link(urdf: PathLike) -> str:
    """The root link of a URDF (the one link that is no joint's child); ValueError when there
    is not exactly one."""
    robot = _urdf_root(urdf)
    children = {j.find('child').get('link') for j in robot.findall('joint')
                if j.find('child') is not None}
    roots = [str(link.get('name')) for link in robot.findall('link')
             if link.get('name') not in children]
    if len(roots) != 1:
        raise ValueError(f'{urdf}: expected one root link, found {roots}')
    return roots[0]


def driven_joints(urdf: PathLike) -> Optional[List[str]]:
    """The movable joints of a URDF that no ``<mimic>`` couples to another, in file order;
    None when it has no mimic joint (then every movable joint is optimised). dex-retargeting
    refuses a mimic joint among the optimised ones, so these are the ones to name."""
    joints = [j for j in _urdf_root(urdf).findall('joint')
              if j.get('type') not in (None, 'fixed', 'floating')]
    if not any(j.find('mimic') is not None for j in joints):
        return None
    return [str(j.get('name')) for j in joints if j.find('mimic') is None]


def _config_dict(config: Union[PathLike, Dict[str, Any]]) -> Dict[str, Any]:
    """The ``retargeting`` mapping of a dex-retargeting YAML file (or of a dict), a copy."""
    if isinstance(config, dict):
        data = copy.deepcopy(config)
    else:
        path = Path(config).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f'retargeting config not found: {path}')
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
    if isinstance(data, dict) and 'retargeting' in data:
        data = data['retargeting']
    if not isinstance(data, dict) or 'type' not in data:
        raise ValueError(f'{config}: expected a dex-retargeting config (a mapping '
                         f'"retargeting:" with at least "type")')
    return data


def _vector_config(link_pairs: Sequence[Tuple[str, str]],
                   human_pairs: Sequence[Tuple[HumanJoint, HumanJoint]],
                   target_joint_names: Optional[Sequence[str]]) -> Dict[str, Any]:
    """A vector-retargeting config from robot and human (origin, task) pairs."""
    if not link_pairs or len(link_pairs) != len(human_pairs or ()):
        raise ValueError(f'vector retargeting needs one human (origin, task) joint pair per '
                         f'robot (origin, task) link pair, found {len(link_pairs or ())} link '
                         f'pairs and {len(human_pairs or ())} joint pairs')
    human = [(human_index(a), human_index(b)) for a, b in human_pairs]
    cfg: Dict[str, Any] = {
        'type': 'vector',
        'target_origin_link_names': [str(a) for a, _ in link_pairs],
        'target_task_link_names': [str(b) for _, b in link_pairs],
        'target_link_human_indices': [[a for a, _ in human], [b for _, b in human]],
    }
    if target_joint_names:
        cfg['target_joint_names'] = [str(n) for n in target_joint_names]
    return cfg


class HandRetargeter:
    """Robot hand joint positions from MediaPipe-21 hand joints, frame by frame.

    ``urdf``: the robot hand's URDF (its root link frame must be dex-retargeting's MANO wrist
    frame: z from the wrist towards the middle finger, x out of the palm's inside, as in the
    dex-urdf robots; see :func:`wrist_frame_points`). Then either

    - ``config``: a dex-retargeting YAML file (or its ``retargeting`` mapping as a dict), e.g.
      one of its ``configs/teleop/*.yml``; its ``urdf_path`` is replaced by ``urdf``; or
    - ``link_pairs`` [(origin link, task link), ...] of the robot and ``human_pairs``
      [(origin joint, task joint), ...] of the hand (MediaPipe-21 indices or names such as
      ``('wrist', 'index_tip')``), one per vector: vector retargeting, optionally of the
      ``target_joint_names`` only (default: every movable joint but the URDF's mimic joints,
      which follow theirs). :func:`fingertip_pairs` gives wrist -> fingertip pairs.

    ``side``: which hand ('right' | 'left'); the robot hand should be of the same side.
    ``scaling_factor``: robot hand size / human hand size (vectors are scaled by it; None:
    the config's, else 1). ``low_pass_alpha`` in [0, 1]: exponential smoothing of the output,
    new = old + alpha (raw - old), 1 = none (None: the config's, without a config none).

    ``retargeter(xyz21_m)`` -> (joint names, positions (radians or metres, float64)) for every
    movable joint of the robot, in the robot's joint order (``joint_names``).
    Raises ImportError (with the install command) without dex-retargeting, FileNotFoundError
    for a missing URDF or config, ValueError for an invalid config.
    """

    def __init__(self, urdf: PathLike, config: Union[PathLike, Dict[str, Any], None] = None, *,
                 side: str = 'right',
                 link_pairs: Optional[Sequence[Tuple[str, str]]] = None,
                 human_pairs: Optional[Sequence[Tuple[HumanJoint, HumanJoint]]] = None,
                 target_joint_names: Optional[Sequence[str]] = None,
                 scaling_factor: Optional[float] = None,
                 low_pass_alpha: Optional[float] = None) -> None:
        self.side = check_side(side)
        urdf_path = Path(urdf).expanduser()
        if not urdf_path.is_file():
            raise FileNotFoundError(f'robot hand URDF not found: {urdf_path}')
        retargeting_config = import_retargeting_config()
        if config is not None:
            if link_pairs or human_pairs or target_joint_names:
                raise ValueError('give either a retargeting config or link_pairs / human_pairs '
                                 '/ target_joint_names, not both')
            cfg = _config_dict(config)
        else:
            cfg = _vector_config(link_pairs or (), human_pairs or (), target_joint_names)
            cfg['low_pass_alpha'] = -1.0      # dex-retargeting: outside [0, 1] = no filter
        cfg['urdf_path'] = str(urdf_path.resolve())
        if not cfg.get('target_joint_names'):
            cfg['target_joint_names'] = driven_joints(urdf_path)
        if scaling_factor is not None:
            if not scaling_factor > 0:
                raise ValueError(f'scaling_factor must be > 0, found {scaling_factor}')
            cfg['scaling_factor'] = float(scaling_factor)
        if low_pass_alpha is not None:
            if not 0.0 <= low_pass_alpha <= 1.0:
                raise ValueError(f'low_pass_alpha must be in [0, 1], found {low_pass_alpha}')
            cfg['low_pass_alpha'] = float(low_pass_alpha)
        kind = str(cfg['type']).lower()
        if kind in ('vector', 'position') and cfg.get('target_link_human_indices') is None:
            raise ValueError(f'{kind} retargeting needs target_link_human_indices (MediaPipe-21 '
                             f'joint indices)')
        self.config = retargeting_config.from_dict(cfg)
        self._seq = self.config.build()
        self.retargeting_type = self.config.type
        self._indices = np.asarray(self._seq.optimizer.target_link_human_indices, dtype=int)
        self.joint_names: List[str] = [str(n) for n in self._seq.joint_names]
        self.target_joint_names: List[str] = [str(n) for n in
                                              self._seq.optimizer.target_joint_names]

    @property
    def joint_limits(self) -> np.ndarray:
        """(len(target_joint_names), 2) lower and upper limits of the optimised joints."""
        return np.asarray(self._seq.joint_limits, dtype=np.float64)

    def reference(self, points: np.ndarray) -> np.ndarray:
        """What the optimiser matches, from wrist-frame points (21, 3): joint positions for
        position retargeting, task - origin joint vectors otherwise."""
        if self.retargeting_type == 'position':
            return points[self._indices.reshape(-1)]
        return points[self._indices[1]] - points[self._indices[0]]

    def __call__(self, xyz21_m) -> Tuple[List[str], np.ndarray]:
        """(joint names, positions) of the robot for one hand's MediaPipe-21 joints (21, 3) in
        metres in any right-handed frame (e.g. the camera's); ValueError for bad joints."""
        points = wrist_frame_points(xyz21_m, self.side)
        qpos = self._seq.retarget(self.reference(points))
        return list(self.joint_names), np.asarray(qpos, dtype=np.float64)

    def reset(self) -> None:
        """Forget the previous frames: the next optimisation starts from the middle of the
        joint ranges, and the low-pass filter restarts."""
        self._seq.reset()
        if self._seq.filter is not None:
            self._seq.filter.reset()
