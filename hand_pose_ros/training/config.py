"""Training configuration: frozen dataclasses from config/train/*.yaml (unknown keys raise)."""
import copy
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
import re
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import yaml

from ..core.config import load_model_yaml, LocalizerConfig, ModelConfig
from ..core.resources import find_resource
from ..core.specs import dataset_spec


def _from_dict(cls, data: Dict[str, Any], where: str):
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclasses."""
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f'{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}')
    kwargs = {}
    for name, value in data.items():
        ftype = known[name].type
        sub = _NESTED.get(ftype if isinstance(ftype, str) else getattr(ftype, '__name__', ''))
        kwargs[name] = _from_dict(sub, value or {}, f'{where}.{name}') if sub else value
    return cls(**kwargs)


# Rendered sources (no dataset on disk) and the real datasets of config/datasets.yaml.
RENDERED_SOURCES: Tuple[str, ...] = ('synthetic', 'scenes')
DATA_SOURCES: Tuple[str, ...] = RENDERED_SOURCES + ('icvl', 'nyu', 'msra')


@dataclass(frozen=True)
class DataConfig:
    """Where training frames come from."""

    source: str = 'synthetic'          # synthetic | scenes | icvl | nyu | msra
    root: Optional[str] = None         # dataset folder (real datasets); --data-root overrides
    camera: str = 'icvl'               # dataset whose intrinsics synthetic frames are rendered at
    msra_test_subject: int = 0         # leave-one-subject-out split for MSRA
    num_workers: int = 0               # DataLoader workers for real datasets
    background: bool = True            # synthetic: walls, tables, bodies and distractors
    # Edge (mm) of the pose crop cube, stored in the trained model (inference crops the same).
    # None: the dataset's own for a real dataset (config/datasets.yaml: icvl 250, nyu 300,
    # msra 200, the cubes these datasets are usually cropped with), the model config's for
    # synthetic frames.
    cube_mm: Optional[float] = None
    # scenes: this share of each batch is hands cut from user scenes (synthetic/user_scene.py:
    # bodies, held objects, sleeves, three viewpoints, every camera of config/cameras.yaml,
    # rendered at the sampled focal length scene_focal_px), the rest synthetic frames as above.
    scene_share: float = 0.5
    scene_focal_px: float = 200.0
    # scenes: render them at each camera's own resolution instead (scene_focal_px unused), so
    # the sensor's edges, noise and flying pixels in the crops are as wide as a camera makes
    # them and the hand has the detail inference crops from a camera frame (about 8 times the
    # rendering time; README, "Finding hands in a real scene").
    scene_full_resolution: bool = False
    # scenes: how often each viewpoint (third person, egocentric, robot: the order of
    # synthetic/user_scene.SCENE_TYPES) is drawn, relative weights; None: the generator's own.
    scene_probs: Optional[Tuple[float, float, float]] = None
    # synthetic / scenes: render the validation frames from this seed instead of the run's
    # seed + 1,000,003, so runs of different seeds (the stages of a model) are validated on
    # the same frames and their val/ figures can be compared. Real datasets validate on the
    # same held-out frames every run anyway.
    val_seed: Optional[int] = None

    def __post_init__(self) -> None:
        if self.val_seed is not None and (isinstance(self.val_seed, bool) or
                                          not isinstance(self.val_seed, int) or
                                          self.val_seed < 0):
            raise ValueError(f'data.val_seed must be an integer >= 0 or null, found '
                             f'{self.val_seed!r}')
        if self.source not in DATA_SOURCES:
            raise ValueError(f'data.source must be {"|".join(DATA_SOURCES)}, '
                             f'found {self.source!r}')
        if not 0.0 <= self.scene_share <= 1.0 or not self.scene_focal_px > 0:
            raise ValueError(f'data.scene_share must lie in [0, 1] and scene_focal_px be > 0, '
                             f'found {self.scene_share!r}, {self.scene_focal_px!r}')
        if self.scene_probs is not None:
            probs = tuple(float(p) for p in self.scene_probs)
            if len(probs) != 3 or min(probs) < 0 or not sum(probs) > 0:
                raise ValueError('data.scene_probs must be 3 weights >= 0 (third person, '
                                 f'egocentric, robot) with a positive sum, found '
                                 f'{self.scene_probs!r}')
            object.__setattr__(self, 'scene_probs', probs)
        if self.cube_mm is not None and not self.cube_mm > 0:
            raise ValueError(f'data.cube_mm must be > 0 mm (or null), found {self.cube_mm!r}')


@dataclass(frozen=True)
class AugmentConfig:
    """3D-consistent augmentation of the pose crop (labels go through the same transform)."""

    rotation_deg: float = 180.0        # in-plane rotation, uniform in +-rotation_deg
    scale: Tuple[float, float] = (0.9, 1.1)  # cube edge scale range
    center_jitter_mm: float = 8.0      # std of the crop centre error, like the localizer's (mm)
    localizer_rotation_deg: float = 180.0
    # std (mm per axis) of the learned detector's centre error, for most hands and for the
    # quarter in its tail: localizer crops of user scenes start there (training/augment.py)
    detector_jitter_mm: Tuple[float, float] = (20.0, 50.0)


@dataclass(frozen=True)
class OptimConfig:
    """SGD with step decay (paper: lr 0.1 divided by 10 twice, momentum 0.9, wd 5e-5)."""

    name: str = 'sgd'                  # sgd | adamw
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-5
    milestones: Tuple[float, ...] = (0.6, 0.85)   # fractions of the steps where lr /= 10
    gamma: float = 0.1
    warmup_steps: int = 0              # linear warm-up (steps)
    grad_clip: float = 0.0             # max global grad norm; 0 = off

    def __post_init__(self) -> None:
        if self.name not in ('sgd', 'adamw'):
            raise ValueError(f'optimizer.name must be sgd|adamw, found {self.name!r}')


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run: models, data, budget, optimisation, logging."""

    model: str = 'paper'               # config/models/<model>.yaml or a path to such a file
    train_pose: bool = True
    train_localizer: bool = True
    steps: int = 100000
    batch_size: int = 32
    seed: int = 0
    depth_weight: float = 100.0        # weight of the depth-regression loss (see losses.py)
    # Share of each step's pose crops shown as the other side (mirrored the wrong way) with
    # flat heatmap targets and no depth loss: the network learns to fit its own side only, so
    # 'auto' handedness (a crop read as it is and mirrored, the better fit wins) separates them.
    wrong_side_share: float = 0.0
    # > 0: each wrong-side crop is the mirror image of an own-side crop of the same step (one
    # hand read both ways, as 'auto' handedness reads it), and a hinge loss of this weight asks
    # the pair's mean heatmap peak (the confidence 'auto' compares) to be at least
    # side_pair_margin higher read as its own side (losses.py); 0 = wrong-side crops unpaired.
    side_pair_weight: float = 0.0
    side_pair_margin: float = 0.3      # in heatmap peak height (targets peak at 1)
    checkpoint_every: int = 500        # steps between atomic checkpoints
    val_every: int = 1000              # steps between validations
    val_frames: int = 64               # held-out frames of the data source (training/data.py)
    log_every: int = 20
    save_half: bool = True             # store final inference weights as fp16
    threads: int = 0                   # torch CPU threads; 0 = leave the default
    amp: str = 'auto'                  # auto: bf16 autocast on CUDA and on CPUs with native
    #                                    bf16 (AVX-512 BF16 / AMX), else fp32 | bf16 | off
    near_mm: float = 100.0             # depth range searched for the hand (centre of mass), mm
    far_mm: float = 1500.0
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optimizer: OptimConfig = field(default_factory=OptimConfig)
    localizer_optimizer: OptimConfig = field(default_factory=OptimConfig)
    # Warm start: checkpoints (paths, or names under models/) whose weights start the networks;
    # a pose net of another joint set is mapped joint by joint (training/warm_start.py).
    init_pose: Optional[str] = None
    init_localizer: Optional[str] = None
    # Fields of the model file's 'pose' section replaced for this run (ablations: variant,
    # attention_mask), e.g. {variant: plain}; stored with the run like every other field.
    pose: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError('steps, batch_size and checkpoint_every must be >= 1')
        if not (self.train_pose or self.train_localizer):
            raise ValueError('nothing to train: train_pose and train_localizer are both false')
        if not 0.0 <= self.wrong_side_share < 1.0:
            raise ValueError(f'wrong_side_share must be in [0, 1), found {self.wrong_side_share}')
        if self.side_pair_weight < 0.0 or not 0.0 < self.side_pair_margin <= 1.0:
            raise ValueError(f'side_pair_weight must be >= 0 and side_pair_margin in (0, 1], '
                             f'found {self.side_pair_weight} and {self.side_pair_margin}')
        if self.side_pair_weight > 0.0 and self.wrong_side_share == 0.0:
            raise ValueError('side_pair_weight needs wrong-side crops to pair: set '
                             'wrong_side_share > 0')
        if self.amp not in ('auto', 'bf16', 'off'):
            raise ValueError(f'amp must be auto|bf16|off, found {self.amp!r}')

    def model_configs(self) -> Tuple[ModelConfig, LocalizerConfig]:
        """The pose and localizer configs named by ``model``, the pose crop cube set by
        :meth:`pose_cube_mm`; ValueError when the pose network's joint set is not the real
        dataset's (the one place that mismatch is caught, before anything is built)."""
        path = Path(self.model)
        if not path.suffix:
            path = find_resource(f'config/models/{self.model}.yaml')
        pose, localizer = load_model_yaml(path)
        if self.pose:
            try:
                pose = ModelConfig.from_dict({**pose.to_dict(), **self.pose})
            except (TypeError, ValueError) as exc:
                raise ValueError(f'pose overrides {self.pose}: {exc}') from None
        if self.train_pose and self.data.source not in RENDERED_SOURCES:
            labels = dataset_spec(self.data.source).joint_set
            if labels.name != pose.joint_set:
                raise ValueError(
                    f'data.source {self.data.source!r} is labelled with {labels.name} joints '
                    f'({labels.num_joints}), but the model {self.model!r} ({path}) predicts '
                    f'{pose.joint_set} joints ({pose.num_joints}): copy that model file, set '
                    f"'joint_set: {labels.name}' in its 'pose' section and name the copy as "
                    "'model' in the training config")
        return replace(pose, cube_mm=self.pose_cube_mm(pose)), localizer

    def pose_cube_mm(self, pose: ModelConfig) -> float:
        """The pose crop cube edge (mm): data.cube_mm, else the real dataset's own
        (config/datasets.yaml), else the model config's (synthetic frames)."""
        if self.data.cube_mm is not None:
            return float(self.data.cube_mm)
        if self.data.source not in RENDERED_SOURCES:
            return dataset_spec(self.data.source).cube_mm
        return pose.cube_mm

    def to_dict(self) -> Dict[str, Any]:
        """Plain nested mapping (stored in checkpoints and TensorBoard)."""
        def conv(obj):
            if is_dataclass(obj):
                return {f.name: conv(getattr(obj, f.name)) for f in fields(obj)}
            return list(obj) if isinstance(obj, tuple) else obj
        return conv(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'TrainConfig':
        """Build from a nested mapping; unknown keys raise naming where they are."""
        return _from_dict(cls, data, 'train config')


_NESTED = {'DataConfig': DataConfig, 'AugmentConfig': AugmentConfig,
           'OptimConfig': OptimConfig}


def apply_overrides(data: Dict[str, Any], sets: Sequence[str]) -> Dict[str, Any]:
    """A copy of a training YAML mapping with each ``KEY=VALUE`` of ``sets`` applied: KEY a
    dotted path (``pose.variant``, ``optimizer.lr``), VALUE read as YAML (``1e-3``, ``[1, 2]``,
    ``plain``); ValueError for an item without '=' or a path through a non-mapping."""
    out = copy.deepcopy(data)
    for item in sets:
        key, sep, text = item.partition('=')
        if not sep or not key.strip():
            raise ValueError(f'--set expects KEY=VALUE (e.g. pose.variant=plain), found {item!r}')
        *parents, leaf = key.strip().split('.')
        node = out
        for part in parents:
            if node.get(part) is None:         # absent, or an empty section in the YAML
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ValueError(f'--set {item!r}: {part!r} is not a section of the config')
        node[leaf] = _yaml_value(text)
    return out


def _yaml_value(text: str) -> Any:
    """A --set VALUE read as YAML, with '1e-3' a number (YAML 1.1 wants '1.0e-3')."""
    value = yaml.safe_load(text) if text.strip() else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


_NUMBER = re.compile(r'[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+')


def read_train_yaml(path: Union[str, Path], sets: Sequence[str] = ()
                    ) -> Tuple[Path, Dict[str, Any]]:
    """(file, its mapping) of a training YAML: an existing path, else a shipped name under
    config/train/ ('.yaml' optional), with the ``sets`` overrides applied (apply_overrides);
    FileNotFoundError lists where it looked."""
    p = Path(path)
    if not p.is_file():
        name = str(path) if str(path).endswith('.yaml') else f'{path}.yaml'
        p = find_resource(f'config/train/{name}')
    with open(p, encoding='utf-8') as f:
        data = yaml.safe_load(f) or {}
    return p, apply_overrides(data, sets)


def load_train_config(path: Union[str, Path], sets: Sequence[str] = ()) -> TrainConfig:
    """Read a config/train/*.yaml file (a bare name is looked up among the shipped ones), with
    the ``sets`` overrides (``KEY=VALUE``, apply_overrides) applied."""
    p, data = read_train_yaml(path, sets)
    try:
        return TrainConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{p}: {exc}') from None
