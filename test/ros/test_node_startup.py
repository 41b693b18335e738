"""Start-up failures a user can cause: one clear line naming the cause, non-zero exit, no
traceback (missing model, corrupt model, invalid parameters)."""
import os
import subprocess
import sys

import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from test.ros.harness import ROS_ENV  # noqa: E402


def run_node(*params: str) -> subprocess.CompletedProcess:
    """Run hand_pose_node with ``-p`` parameters until it exits (it should at once)."""
    cmd = [sys.executable, '-m', 'hand_pose_ros.ros.node', '--ros-args']
    for p in params:
        cmd += ['-p', p]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **ROS_ENV})


def error_lines(result: subprocess.CompletedProcess) -> list:
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert 'Traceback' not in result.stdout + result.stderr
    return [line for line in lines if line.strip()]


def test_missing_model_is_one_line_and_nonzero_exit(tmp_path):
    missing = tmp_path / 'no_such_model.pt'
    result = run_node(f'model:={missing}')
    assert result.returncode != 0
    (line,) = error_lines(result)
    assert str(missing) in line and 'FATAL' in line


def test_corrupt_model_names_the_file(tmp_path):
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'not a checkpoint')
    result = run_node(f'model:={corrupt}', 'device:=cpu')
    assert result.returncode != 0
    (line,) = error_lines(result)
    assert str(corrupt) in line


@pytest.mark.parametrize('param,message', [
    ('near_m:=2.0', 'near_m < far_m'),
    ('near_m:=1', "expecting type 'DOUBLE'"),
    ('precision:=fp16', 'precision must be one of'),
    ('handedness:=both', 'handedness must be one of'),
    ('detector:=yolo', 'detector must be one of'),
    ('max_hands:=0', 'max_hands'),
    ('detection_threshold:=1.5', 'detection_threshold'),
    ('joint_order:=mano', 'joint_order must be one of'),
])
def test_invalid_parameters_at_start(tiny_model, param, message):
    result = run_node(f'model:={tiny_model}', param)
    assert result.returncode != 0
    (line,) = error_lines(result)
    assert message in line


def test_auto_handedness_without_a_detector_is_one_clear_line(tiny_model):
    """The defaults (handedness auto, detector learned) with no detector network to load: one
    line saying what is missing and what to set instead, not a traceback."""
    from hand_pose_ros.core.resources import resolve_detector_file

    if resolve_detector_file(str(tiny_model)) is not None:
        pytest.skip('a detector network is shipped: the tiny model is given that one')
    result = run_node(f'model:={tiny_model}', 'device:=cpu')
    assert result.returncode != 0
    (line,) = error_lines(result)
    assert 'needs the hand detector network' in line and 'nearest' in line


def test_mediapipe_order_from_an_icvl16_model_is_one_clear_line(tiny_model):
    """An ICVL16 network has no wrist and no DIP joints: asking it for MediaPipe-21 stops the
    node with one line naming both joint sets, instead of publishing something else."""
    result = run_node(f'model:={tiny_model}', 'device:=cpu', 'detector:=nearest',
                      'handedness:=right', 'joint_order:=mediapipe21')
    assert result.returncode != 0
    (line,) = error_lines(result)
    assert 'icvl16' in line and 'mediapipe21' in line and 'FATAL' in line
