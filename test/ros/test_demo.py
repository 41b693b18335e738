"""`hand-pose demo` end to end (three processes over DDS): status lines, snapshots, summary,
exit 0; Ctrl-C or SIGTERM stops both child nodes and exits 130."""
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from hand_pose_ros.core.skeleton import ICVL16  # noqa: E402
from test.ros.harness import TIMEOUT_S  # noqa: E402


def demo_cmd(out: Path, model: Path, seconds: float) -> list:
    return [sys.executable, '-m', 'hand_pose_ros.cli', 'demo', '--seconds', str(seconds),
            '--out', str(out), '--model', str(model), '--device', 'cpu', '--rate', '10',
            '--snapshots', '2']


def children_of(pid: int) -> set:
    """Pids of the direct children of ``pid`` (from /proc)."""
    kids = set()
    for task in Path(f'/proc/{pid}/task').iterdir():
        text = (task / 'children').read_text().split()
        kids.update(int(k) for k in text)
    return kids


def alive(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != 'Z'


@pytest.mark.slow
def test_demo_runs_and_writes_its_outputs(tmp_path, tiny_model):
    out = tmp_path / 'demo_output'
    result = subprocess.run(demo_cmd(out, tiny_model, 3.0), capture_output=True, text=True,
                            timeout=4 * TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if ' s | input' in line]
    assert len(lines) == 3 and all('fps' in line and 'mm' in line for line in lines)
    summary = json.loads((out / 'summary.json').read_text())
    for key in ('frames_in', 'frames_out', 'dropped_frames', 'rejected', 'latency_ms',
                'estimator_ms_p50', 'error_mm', 'input_fps', 'output_fps', 'pngs'):
        assert key in summary
    assert summary['frames_out'] > 0
    # the error was measured: predictions matched to the ground truth by stamp, one number per
    # ICVL16 joint, and the mean is the mean of those (a random-weight model: a large error,
    # but inside the crop cube around the hand, never NaN or 0)
    error = summary['error_mm']
    assert error['frames'] > 0, error
    assert sorted(error['per_joint']) == sorted(ICVL16.joint_names)
    per_joint = np.array(list(error['per_joint'].values()))
    assert error['mean'] == pytest.approx(per_joint.mean(), abs=0.1)
    assert 0 < error['mean'] < 400, error
    assert any(line.split('| error')[1].split()[0] != '-' for line in lines), lines
    assert f"{error['frames']} frames" in (out / 'summary.txt').read_text()
    for name in summary['pngs']:
        assert (out / name).stat().st_size > 0
    assert (out / 'logs' / 'hand_pose_node.log').exists()


@pytest.mark.slow
@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_children(tmp_path, tiny_model, signum):
    out = tmp_path / 'demo_output'
    proc = subprocess.Popen(demo_cmd(out, tiny_model, 60.0), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:                 # until both children are running
            if 'waiting for the first joints' in line:
                break
        kids = children_of(proc.pid)
        assert len(kids) == 2
        proc.send_signal(signum)
        assert proc.wait(TIMEOUT_S) == 130
        deadline = time.monotonic() + TIMEOUT_S
        while any(alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(k) for k in kids)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
