"""Checkpoints: atomic save (temp file, fsync, os.replace) and safe load (weights_only=True).

A file holds {'format', 'kind' ('pose' | 'localizer' | 'detector' | 'side'), 'config',
'state_dict', 'metadata'} plus optional training state. Loading checks all of it and raises one
CheckpointError naming the path, what was expected and what was found.
"""
import os
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import nn

from .config import DetectorConfig, LocalizerConfig, ModelConfig, SideConfig, \
    stored_model_config
from .nets.detector import HandDetector
from .nets.localizer import Localizer
from .nets.pose_net import PoseNet
from .nets.side import SideClassifier

FORMAT = 'hand_pose_ros/1'
PathLike = Union[str, Path]
_KINDS = {ModelConfig: 'pose', LocalizerConfig: 'localizer', DetectorConfig: 'detector',
          SideConfig: 'side'}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or not what the caller expects."""


def atomic_torch_save(obj: Any, path: PathLike) -> None:
    """torch.save ``obj`` so that ``path`` is either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(path: PathLike, model: nn.Module,
                    config: Union[ModelConfig, LocalizerConfig, DetectorConfig, SideConfig],
                    metadata: Optional[Dict[str, Any]] = None, half: bool = False,
                    extra: Optional[Dict[str, Any]] = None) -> None:
    """Save weights + config + metadata atomically; ``half`` stores float weights as fp16."""
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
             for k, v in model.state_dict().items()}
    payload = {'format': FORMAT,
               'kind': _KINDS[type(config)],
               'config': config.to_dict(), 'state_dict': state, 'metadata': dict(metadata or {})}
    payload.update(extra or {})
    atomic_torch_save(payload, path)


def load_checkpoint(path: PathLike, kind: Optional[str] = None) -> Dict[str, Any]:
    """Read a checkpoint dict with weights_only=True; checks format and (optionally) kind."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f'cannot read checkpoint {path}: expected a hand_pose_ros torch '
                              f'checkpoint, found an unreadable file ({exc.__class__.__name__}: '
                              f'{str(exc).splitlines()[0] if str(exc) else ""})') from None
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        found = data.get('format') if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f'{path}: expected format {FORMAT!r}, found {found!r}')
    if kind is not None and data.get('kind') != kind:
        raise CheckpointError(f'{path}: expected a {kind} checkpoint, found {data.get("kind")!r}')
    return data


def _restore(path: Path, model: nn.Module, state: Dict[str, torch.Tensor]) -> nn.Module:
    """Strictly load ``state`` into ``model`` in fp32; mismatches become a CheckpointError."""
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f'{path}: weights do not match the stored config: '
                              f'{str(exc).splitlines()[0]}') from None
    return model.eval()


def load_pose_model(path: PathLike, joint_set: Optional[str] = None
                    ) -> Tuple[PoseNet, ModelConfig, Dict[str, Any]]:
    """(model in eval mode, config, metadata) of a pose checkpoint; checks the joint set."""
    data = load_checkpoint(path, 'pose')
    try:
        config = stored_model_config(data['config'])
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f'{path}: invalid model config: {exc}') from None
    if joint_set is not None and config.joint_set != joint_set:
        raise CheckpointError(f'{path}: expected joint set {joint_set!r}, '
                              f'found {config.joint_set!r}')
    model = _restore(Path(path), PoseNet(config), data['state_dict'])
    return model, config, data.get('metadata', {})


def _load_net(path: PathLike, kind: str, config_cls, net_cls, what: str):
    """(model in eval mode, config, metadata) of a checkpoint of ``kind`` whose config is a
    ``config_cls`` and whose network a ``net_cls``; ``what`` names it in the error."""
    data = load_checkpoint(path, kind)
    try:
        config = config_cls.from_dict(data['config'])
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f'{path}: invalid {what} config: {exc}') from None
    model = _restore(Path(path), net_cls(config), data['state_dict'])
    return model, config, data.get('metadata', {})


def load_localizer(path: PathLike) -> Tuple[Localizer, LocalizerConfig, Dict[str, Any]]:
    """(model in eval mode, config, metadata) of a localizer checkpoint."""
    return _load_net(path, 'localizer', LocalizerConfig, Localizer, 'localizer')


def load_detector(path: PathLike) -> Tuple[HandDetector, DetectorConfig, Dict[str, Any]]:
    """(model in eval mode, config, metadata) of a hand-detector checkpoint."""
    return _load_net(path, 'detector', DetectorConfig, HandDetector, 'detector')


def load_side_classifier(path: PathLike) -> Tuple[SideClassifier, SideConfig, Dict[str, Any]]:
    """(model in eval mode, config, metadata) of a left/right classifier checkpoint."""
    return _load_net(path, 'side', SideConfig, SideClassifier, 'side classifier')
