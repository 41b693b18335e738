"""Lint: flake8 at 99 columns with Google import order (the ament_flake8 conventions)."""
from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_flake8_clean():
    pytest.importorskip('flake8', reason='flake8 is not installed (pip install .[dev])')
    done = subprocess.run([sys.executable, '-m', 'flake8', 'hand_pose_ros', 'test', 'launch',
                           'setup.py'], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
