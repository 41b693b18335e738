"""Where shipped files live: models/ and config/ of an installed or source-tree package.

Lookup order: (1) the ament index (a colcon install: <prefix>/share/hand_pose_ros),
(2) the source tree beside the package (an editable pip install or a clone),
(3) <sys.prefix>/share/hand_pose_ros (a plain pip install of the data_files).
The ament index is read as files, so the core needs no ROS import.
"""
import os
from pathlib import Path
import sys
from typing import List, Optional

PACKAGE = 'hand_pose_ros'


def _ament_share_dirs() -> List[Path]:
    """Share folders of this package registered in the ament index on AMENT_PREFIX_PATH."""
    found = []
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        marker = Path(prefix) / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE
        if marker.is_file():
            found.append(Path(prefix) / 'share' / PACKAGE)
    return found


def share_dirs() -> List[Path]:
    """Candidate folders holding config/, models/ and launch/, most specific first."""
    candidates = _ament_share_dirs()
    candidates.append(Path(__file__).resolve().parents[2])  # source tree / editable install
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE)
    return [c for c in candidates if (c / 'config').is_dir() or (c / 'models').is_dir()]


def find_resource(relative: str) -> Path:
    """Path of a shipped file such as 'config/hand_pose.yaml'; the error lists the tries."""
    tried = []
    for base in share_dirs() or [Path(__file__).resolve().parents[2]]:
        path = base / relative
        if path.exists():
            return path
        tried.append(str(path))
    raise FileNotFoundError(f'shipped file {relative!r} not found; looked in: {tried}')


def resolve_model(name_or_path: str, suffix: str = '.pt') -> Path:
    """A model file from a path, or a shipped model name ('compact' -> models/compact.pt)."""
    path = Path(os.path.expanduser(name_or_path))
    if path.suffix and path.exists():
        return path
    if path.suffix or os.sep in name_or_path:
        raise FileNotFoundError(f'model file not found: {path}')
    return find_resource(f'models/{name_or_path}{suffix}')


def optional_resource(relative: str) -> Optional[Path]:
    """Like find_resource but None when the file is not shipped."""
    try:
        return find_resource(relative)
    except FileNotFoundError:
        return None


def shipped_models() -> dict:
    """The registry models/models.yaml: {'default': name, 'models': {name: {pose, localizer}}}."""
    import yaml  # local: only needed when a shipped model is looked up

    path = optional_resource('models/models.yaml')
    if path is None:
        return {'default': None, 'models': {}}
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f) or {'default': None, 'models': {}}


def resolve_model_files(model: str = 'default', localizer: Optional[str] = 'default'):
    """(pose checkpoint path, localizer path or None) for a shipped name or file paths.

    ``model``: 'default', a name in models/models.yaml, or a path. ``localizer``: 'default'
    (the shipped model's own localizer, or ``<model stem>_localizer.pt`` beside a model file,
    when present), 'none'/None/'' for no localizer, a name or a path.
    """
    registry = shipped_models()
    names = registry.get('models') or {}
    name = registry.get('default') if model == 'default' else model
    if name is None:
        raise FileNotFoundError('no shipped model: models/models.yaml is missing or has no '
                                'default; pass a checkpoint path')
    if name in names:
        pose = find_resource('models/' + names[name]['pose'])
        default_loc = names[name].get('localizer')
        default_loc = find_resource('models/' + default_loc) if default_loc else None
    else:
        pose = resolve_model(name)
        sibling = pose.with_name(pose.stem + '_localizer.pt')
        default_loc = sibling if sibling.is_file() else None
    if localizer in (None, '', 'none'):
        return pose, None
    if localizer == 'default':
        return pose, default_loc
    if localizer in names:
        return pose, find_resource('models/' + names[localizer]['localizer'])
    return pose, resolve_model(localizer)


def resolve_detector_file(model: str = 'default', detector: Optional[str] = 'default',
                          kind: str = 'detector') -> Optional[Path]:
    """The hand-detector (``kind`` 'detector') or left/right classifier (``kind`` 'side')
    checkpoint to use with pose model ``model``, or None.

    ``detector``: 'default' (``<model stem>_<kind>.pt`` beside a model file, else the shipped
    model's: neither network depends on the pose network), 'none' / None / '' for none, a
    shipped model name or a path.
    """
    if detector in (None, '', 'none'):
        return None
    registry = shipped_models()
    names = registry.get('models') or {}
    if detector != 'default':
        if detector in names and names[detector].get(kind):
            return find_resource('models/' + names[detector][kind])
        return resolve_model(detector)
    if model not in names and model != 'default':
        path = Path(os.path.expanduser(model))
        sibling = path.with_name(f'{path.stem}_{kind}.pt')
        if path.suffix and sibling.is_file():
            return sibling
    name = registry.get('default') if model == 'default' or model not in names else model
    entry = names.get(name) or {}
    return find_resource('models/' + entry[kind]) if entry.get(kind) else None
