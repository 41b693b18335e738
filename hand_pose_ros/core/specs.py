"""Dataset and camera specifications read from config/datasets.yaml and config/cameras.yaml."""
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, Tuple

import yaml

from .camera import Intrinsics
from .handedness import check_side
from .resources import find_resource
from .skeleton import get_joint_set, JointSet


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset's sensor intrinsics, joint set, crop cube (mm), depth file encoding and the
    side of its hands in the optical frame (core/handedness.py)."""

    name: str
    joint_set: JointSet
    intrinsics: Intrinsics
    cube_mm: float
    depth_png: str
    handedness: str


@dataclass(frozen=True)
class CameraSpec:
    """A depth camera preset: intrinsics, depth noise (mm standard deviation at 1 m) and how
    it measures (``sensor``: the keys documented in config/cameras.yaml)."""

    name: str
    intrinsics: Intrinsics
    depth_noise_mm_at_1m: float
    sensor: Dict = field(default_factory=dict, compare=False)


@lru_cache(maxsize=None)
def _load(relative: str) -> Dict:
    """Parse a shipped YAML file once."""
    with open(find_resource(relative), encoding='utf-8') as f:
        return yaml.safe_load(f)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of 'icvl', 'nyu' or 'msra'; KeyError lists the known names."""
    table = _load('config/datasets.yaml')
    key = name.lower()
    if key not in table:
        raise KeyError(f'unknown dataset {name!r}; known: {sorted(table)}')
    d = table[key]
    return DatasetSpec(key, get_joint_set(d['joint_set']), Intrinsics.from_dict(d['intrinsics']),
                       float(d['cube_mm']), str(d['depth_png']), check_side(d['handedness']))


def camera_spec(name: str) -> CameraSpec:
    """A camera preset from config/cameras.yaml; KeyError lists the known names."""
    table = _load('config/cameras.yaml')
    if name not in table:
        raise KeyError(f'unknown camera preset {name!r}; known: {sorted(table)}')
    d = table[name]
    return CameraSpec(name, Intrinsics.from_dict(d['intrinsics']),
                      float(d['depth_noise_mm_at_1m']), dict(d.get('sensor') or {}))


def camera_names() -> Tuple[str, ...]:
    """The camera presets of config/cameras.yaml."""
    return tuple(_load('config/cameras.yaml'))
