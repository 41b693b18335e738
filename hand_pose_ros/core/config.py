"""Model configurations: frozen, typed, read from config/models/*.yaml, stored in checkpoints.

Unknown keys raise (a typo must never be silently ignored).
"""
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Dict, Tuple, Type, TypeVar, Union

import yaml

from .handedness import check_side
from .skeleton import get_joint_set

VARIANTS: Tuple[str, ...] = ('attention', 'direct', 'two_branch', 'plain')
# How the attention variant normalises the hourglass output into its mask (nets/pose_net.py).
ATTENTION_MASKS: Tuple[str, ...] = ('sigmoid', 'channel_minmax', 'heatmap_minmax')
T = TypeVar('T', bound='_Config')


class _Config:
    """to_dict / from_dict / from_yaml shared by the config dataclasses."""

    def to_dict(self) -> Dict[str, Any]:
        """Plain mapping of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls: Type[T], data: Dict[str, Any]) -> T:
        """Build from a mapping; unknown keys raise ValueError naming them and the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f'{cls.__name__}: unknown keys {sorted(unknown)}; '
                             f'known keys: {sorted(known)}')
        return cls(**data)


@dataclass(frozen=True)
class ModelConfig(_Config):
    """The two-task pose network (paper defaults: ICVL16, 2 stacks, 128 channels, attention)."""

    joint_set: str = 'icvl16'      # key of core.skeleton.JOINT_SETS
    variant: str = 'attention'     # attention | direct | two_branch | plain
    width: int = 128               # channels of the stem output and of every hourglass
    stacks: int = 2                # stacked hourglasses (intermediate supervision on each)
    input_size: int = 128          # crop edge in pixels fed to the network
    heatmap_size: int = 64         # heatmap edge in pixels (input_size / 2)
    hourglass_depth: int = 4       # down-samplings per hourglass: 64 -> 4 pixels
    cube_mm: float = 250.0         # edge of the 3D cube cropped around the hand centre (mm)
    sigma: float = 2.0             # Gaussian target std in heatmap pixels
    rd_ratio: float = 0.0625       # squeeze-excitation reduction ratio (1/16)
    handedness: str = 'right'      # the hand it is trained on; the estimator mirrors the other
    # ATTENTION_MASKS: how the attention mask is normalised; channel_minmax spans [0, 1] and
    # measured best of the masks in the self-comparison (docs/ablation.md)
    attention_mask: str = 'channel_minmax'

    def __post_init__(self) -> None:
        get_joint_set(self.joint_set)
        check_side(self.handedness)
        if self.variant not in VARIANTS:
            raise ValueError(f'variant must be one of {VARIANTS}, found {self.variant!r}')
        if self.attention_mask not in ATTENTION_MASKS:
            raise ValueError(f'attention_mask must be one of {ATTENTION_MASKS}, found '
                             f'{self.attention_mask!r}')
        if self.input_size != 2 * self.heatmap_size:
            raise ValueError(f'input_size must be 2 x heatmap_size, found {self.input_size} and '
                             f'{self.heatmap_size}')
        if self.heatmap_size % (2 ** self.hourglass_depth):
            raise ValueError(f'heatmap_size {self.heatmap_size} is not divisible by '
                             f'2**hourglass_depth = {2 ** self.hourglass_depth}')
        if self.width < 8 or self.stacks < 1 or self.cube_mm <= 0 or self.sigma <= 0:
            raise ValueError(f'invalid ModelConfig {self}')

    @property
    def num_joints(self) -> int:
        """Number of joints J of the joint set."""
        return get_joint_set(self.joint_set).num_joints


@dataclass(frozen=True)
class LocalizerConfig(_Config):
    """The hand-location CNN: a crop around the centre of mass -> the hand centre in the crop."""

    width: int = 32                # channels of the first stage (doubled at each down-sampling)
    input_size: int = 128          # crop edge in pixels
    cube_mm: float = 300.0         # cube edge around the centre of mass (mm), larger than the hand
    rd_ratio: float = 0.0625       # squeeze-excitation reduction ratio

    def __post_init__(self) -> None:
        if self.width < 4 or self.input_size % 32 or self.cube_mm <= 0:
            raise ValueError(f'invalid LocalizerConfig {self}')


@dataclass(frozen=True)
class DetectorConfig(_Config):
    """The whole-frame hand detector (nets/detector.py): centres, score and side of 0-N hands.

    The frame is sampled every s-th pixel in both directions, s chosen so that the sampled
    focal length comes nearest ``focal_px`` (a 640x480 Kinect, f = 588 px: s = 4, f = 147 px;
    core/detection.py); the network predicts one output cell per ``cell_px`` sampled pixels.
    """

    width: int = 16                # channels at the first level (x2 per down-sampling, max 4x)
    focal_px: float = 140.0        # target focal length of the sampled frame (pixels)
    cell_px: int = 4               # input pixels per output cell
    depth_scale_mm: float = 1000.0  # depth normalisation: input = depth / scale - 1 (0 = missing)
    sigma_mm: float = 40.0         # std of the centre heat target at the hand (mm on the hand)

    def __post_init__(self) -> None:
        if self.width < 4 or self.cell_px != 4 or self.focal_px <= 0 or self.sigma_mm <= 0:
            raise ValueError(f'invalid DetectorConfig {self}')


@dataclass(frozen=True)
class SideConfig(_Config):
    """The left/right hand classifier (nets/side.py): a cube crop around a hand centre (not
    mirrored) -> the probability that it is a left hand."""

    width: int = 16                # channels of the first stage (doubled twice)
    input_size: int = 128          # crop edge in pixels
    cube_mm: float = 250.0         # cube edge around the hand centre (mm)
    context_cube_mm: float = 0.0   # > 0: a second channel, a wider cube around the same centre

    def __post_init__(self) -> None:
        if self.width < 4 or self.input_size % 16 or self.cube_mm <= 0 or \
                not (self.context_cube_mm == 0 or self.context_cube_mm > self.cube_mm):
            raise ValueError(f'invalid SideConfig {self}')

    @property
    def channels(self) -> int:
        """Input channels: the hand's cube, and the context cube where there is one."""
        return 2 if self.context_cube_mm > 0 else 1


# Pose networks stored before their handedness was recorded were all trained on renders with the
# chirality of the ICVL ground truth: left hands (core/handedness.py).
LEGACY_HANDEDNESS = 'left'
# ... and those stored before their attention mask was recorded used the sigmoid mask.
LEGACY_ATTENTION_MASK = 'sigmoid'


def stored_model_config(data: Dict[str, Any]) -> ModelConfig:
    """The ModelConfig of a checkpoint or exported file (a missing ``handedness`` is left, a
    missing ``attention_mask`` sigmoid: what such files were trained with)."""
    return ModelConfig.from_dict({'handedness': LEGACY_HANDEDNESS,
                                  'attention_mask': LEGACY_ATTENTION_MASK, **data})


def load_model_yaml(path: Union[str, Path]) -> Tuple[ModelConfig, LocalizerConfig]:
    """Read a config/models/*.yaml file with sections 'pose' and 'localizer'."""
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f) or {}
    unknown = set(data) - {'pose', 'localizer'}
    if unknown:
        raise ValueError(f'{path}: unknown sections {sorted(unknown)}; expected pose, localizer')
    return (ModelConfig.from_dict(data.get('pose', {})),
            LocalizerConfig.from_dict(data.get('localizer', {})))
