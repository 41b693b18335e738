"""One direction of imports: the core runs without the renderer, the trainer or ROS."""
from pathlib import Path
import subprocess
import sys

import pytest

from hand_pose_ros.core.estimator import HandPoseEstimator
from hand_pose_ros.core.exported import onnxruntime_available
from hand_pose_ros.core.nets.pose_net import PoseNet

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / 'hand_pose_ros' / 'core'

# Import every core module with the layers above it made unimportable.
IMPORT_CORE = '''
import importlib, pkgutil, sys
for blocked in ('hand_pose_ros.synthetic', 'hand_pose_ros.training', 'hand_pose_ros.ros',
                'hand_pose_ros.commands', 'hand_pose_ros.benchmark', 'rclpy'):
    sys.modules[blocked] = None
import hand_pose_ros.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, 'hand_pose_ros.core.')]
for name in names:
    importlib.import_module(name)
print(len(names))
'''


def test_core_imports_without_the_layers_above_it():
    done = subprocess.run([sys.executable, '-c', IMPORT_CORE], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) >= 10


def test_no_core_source_names_a_layer_above_it():
    offenders = [f'{p.relative_to(REPO)}: {line.strip()}'
                 for p in CORE.rglob('*.py') for line in p.read_text().splitlines()
                 if line.lstrip().startswith(('import ', 'from '))
                 and any(layer in line for layer in ('synthetic', 'training', 'rclpy',
                                                     '.ros', 'commands', 'benchmark'))]
    assert offenders == []


@pytest.mark.skipif(not onnxruntime_available(),
                    reason='onnxruntime is not installed (pip install .[onnx])')
def test_int8_without_calibration_frames_is_one_clear_error(tiny_config):
    with pytest.raises(ValueError, match=r'int8 needs calibration=\(frames, intrinsics\)'):
        HandPoseEstimator(PoseNet(tiny_config), None, device='cpu', precision='int8')
