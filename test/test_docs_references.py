"""The user documents name only what exists: training configs, files, modules and names.

README.md, models/MODEL_CARD.md and docs/*.md tell users which command to run and where to
look; a config renamed, a module moved or a constant dropped would leave them a command that
fails or a pointer to nothing.
"""
from pathlib import Path
import re
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / 'README.md', ROOT / 'models' / 'MODEL_CARD.md',
             *sorted((ROOT / 'docs').glob('*.md'))]
PACKAGE_DIRS = 'core|training|synthetic|ros|commands|benchmark|teleop'
# `--config NAME` (a shipped training config; a .yaml path or a placeholder is not one)
CONFIG = re.compile(r'--config[ =]([a-z0-9_]+)\b(?!\.ya?ml)')
# a repository path (runs/ and out/ are outputs, not shipped)
REPO_PATH = re.compile(r'(?<![\w/.])((?:hand_pose_ros|config|docs|models|launch|test|resource)/'
                       r'[\w/.\-]*\w\.(?:py|yaml|md|png|rviz|txt|pt))')
# a path inside the package, as the model card writes them (synthetic/user_scene.py)
PACKAGE_PATH = re.compile(rf'(?<![\w/.])((?:{PACKAGE_DIRS})/[\w/]*\w\.py)')
MODULE = re.compile(r'python -m (hand_pose_ros(?:\.\w+)+)')
# "`NAME` in `hand_pose_ros/...py`": the file defines or uses that name
NAME_IN_FILE = re.compile(r'`(\w+)` in `(hand_pose_ros/[\w/]+\.py)`')


def missing_references(text: str, root: Path = ROOT) -> List[str]:
    """What ``text`` names that does not exist under ``root``: one line per reference."""
    out = [f'config {n}' for n in CONFIG.findall(text)
           if not (root / 'config' / 'train' / f'{n}.yaml').is_file()]
    out += [f'path {p}' for p in REPO_PATH.findall(text) if not (root / p).exists()]
    out += [f'path hand_pose_ros/{p}' for p in PACKAGE_PATH.findall(text)
            if not (root / 'hand_pose_ros' / p).exists()]
    for module in MODULE.findall(text):
        base = root / module.replace('.', '/')
        if not (base.with_suffix('.py').is_file() or (base / '__init__.py').is_file()):
            out.append(f'module {module}')
    for name, path in NAME_IN_FILE.findall(text):
        source = root / path
        if not source.is_file() or not re.search(rf'\b{name}\b', source.read_text()):
            out.append(f'name {name} in {path}')
    return out


@pytest.mark.parametrize('document', DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_name_what_exists(document: Path) -> None:
    assert missing_references(document.read_text()) == []


def test_a_stale_reference_is_found(tmp_path: Path) -> None:
    """The check itself: each kind of stale reference is reported, a live one is not."""
    (tmp_path / 'config' / 'train').mkdir(parents=True)
    (tmp_path / 'config' / 'train' / 'real_cpu.yaml').write_text('task: pose\n')
    (tmp_path / 'hand_pose_ros' / 'core').mkdir(parents=True)
    (tmp_path / 'hand_pose_ros' / '__init__.py').write_text('')
    (tmp_path / 'hand_pose_ros' / 'core' / 'crop.py').write_text('CUBE_MM = 250\n')
    text = ('hand-pose train --config real_cpu and --config gone_cpu; '
            '`hand_pose_ros/core/crop.py`, `hand_pose_ros/core/moved.py`, core/old.py; '
            'python -m hand_pose_ros.core.crop, python -m hand_pose_ros.core.nothing; '
            '`CUBE_MM` in `hand_pose_ros/core/crop.py`, `GONE_MM` in `hand_pose_ros/core/crop.py`'
            '; --config my.yaml')
    assert missing_references(text, tmp_path) == [
        'config gone_cpu', 'path hand_pose_ros/core/moved.py', 'path hand_pose_ros/core/old.py',
        'module hand_pose_ros.core.nothing', 'name GONE_MM in hand_pose_ros/core/crop.py']
