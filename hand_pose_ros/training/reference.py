"""Where the reference evaluation data (ICVL/NYU test labels and published results) live.

The data are read in place, never copied into the project. Lookup order:
(1) ``$HAND_POSE_REFERENCE_DIR``; (2) ``../shared/reference/hand-pose-eval`` next to the
repository root (found from this package's location); (3) the same path relative to the
current working directory.
"""
import os
from pathlib import Path
from typing import List, Optional

ENV_VAR = 'HAND_POSE_REFERENCE_DIR'
RELATIVE = Path('..') / 'shared' / 'reference' / 'hand-pose-eval'
# Ground-truth label file of each dataset, relative to the reference folder.
GT_FILES = {
    'icvl': Path('groundtruth') / 'icvl' / 'icvl_test_groundtruth_label.txt',
    'nyu': Path('groundtruth') / 'nyu' / 'nyu_test_groundtruth_label.txt',
}


def reference_candidates() -> List[Path]:
    """Folders tried for the reference data, in lookup order."""
    candidates = []
    env = os.environ.get(ENV_VAR)
    if env:
        candidates.append(Path(env).expanduser())
    repo_root = Path(__file__).resolve().parents[2]
    candidates.append((repo_root / RELATIVE).resolve())
    candidates.append((Path.cwd() / RELATIVE).resolve())
    unique: List[Path] = []
    for c in candidates:
        if c not in unique:
            unique.append(c)
    return unique


def reference_dir() -> Optional[Path]:
    """The first existing reference folder, or None when there is none."""
    for candidate in reference_candidates():
        if candidate.is_dir():
            return candidate
    return None


def gt_file(dataset: str) -> Path:
    """The reference ground-truth uvd file of 'icvl' or 'nyu'; the error lists the tries."""
    key = dataset.lower()
    if key not in GT_FILES:
        raise KeyError(f'no reference ground truth for dataset {dataset!r}; known: '
                       f'{sorted(GT_FILES)}')
    tried = []
    for candidate in reference_candidates():
        path = candidate / GT_FILES[key]
        if path.is_file():
            return path
        tried.append(str(path))
    raise FileNotFoundError(
        f'reference ground truth for {key} not found (set {ENV_VAR} or pass --gt); '
        f'looked in: {tried}')
