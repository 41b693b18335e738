"""camera.launch.py's life cycle as a user meets it (need a ROS 2 distribution: launch,
launch_ros, and this package colcon-built): Ctrl-C while frames flow ends every process with
status 0, a required process that dies takes the launch down with it (no orphans), and
rviz:=true without rviz2 stops before any node starts, saying how to install it.

The launch runs as its own process group (test/launch/launch_runner.py, non-interactive), so a
Ctrl-C here is what a terminal sends: SIGINT to launch and to every node, then launch forwards
a second SIGINT to the nodes while they clean up.
"""
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading

import pytest

pytest.importorskip('launch.event_handlers', reason='launch is not installed: it ships with a '
                    'ROS 2 distribution (ros-<distro>-launch), not with the PyPI ROS wheels')
pytest.importorskip('launch_ros', reason='launch_ros is not installed (a ROS 2 distribution)')

from geometry_msgs.msg import PoseArray  # noqa: E402, I100, I202

from hand_pose_ros.ros.launch_config import find_executable  # noqa: E402
from test.ros.harness import Probe, TIMEOUT_S  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CTRL_C_CYCLES = 5     # the DDS test (test/ros/test_shutdown.py) repeats 15 cycles


class Launch:
    """camera.launch.py under launch_runner in a new process group; events and output read
    back from files."""

    def __init__(self, share_dir: str, tmp: Path, **arguments: str) -> None:
        self.events_path, self.log_path = tmp / 'events.jsonl', tmp / 'launch.log'
        self.events_path.write_text('')
        cmd = [sys.executable, '-m', 'test.launch.launch_runner', str(self.events_path),
               os.path.join(share_dir, 'launch', 'camera.launch.py')]
        cmd += [f'{k}:={v}' for k, v in arguments.items()]
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def events(self) -> list:
        lines = self.events_path.read_text(encoding='utf-8').splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors='replace')

    def started(self, prefix: str):
        """The start event of the process whose name begins with ``prefix``, or None."""
        return next((e for e in self.events() if e['event'] == 'start' and
                     e['name'].startswith(prefix)), None)

    def wait_started(self, *prefixes: str) -> bool:
        """True once every named process started (polled), False if launch ended first."""
        return _poll(lambda: all(self.started(p) for p in prefixes) or
                     self.proc.poll() is not None) and all(self.started(p) for p in prefixes)

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self) -> int:
        try:
            return self.proc.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            pytest.fail('the launch did not end:\n' + self.output())
        finally:
            self._log.close()

    def exit_codes(self) -> dict:
        return {e['name']: e['returncode'] for e in self.events() if e['event'] == 'exit'}


def _poll(predicate, timeout_s: float = TIMEOUT_S) -> bool:
    done = threading.Event()
    deadline = threading.Timer(timeout_s, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if predicate():
                return True
            done.wait(0.2)
        return predicate()
    finally:
        deadline.cancel()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope='module')
def probe(ros_env):
    p = Probe('lifecycle_probe')
    yield p
    p.close()


def synthetic_args(tiny_model, params_file, **extra) -> dict:
    return {'camera': 'synthetic', 'model': str(tiny_model), 'device': 'cpu',
            'params_file': params_file, 'rviz': 'false', **extra}


@pytest.mark.parametrize('cycle', range(CTRL_C_CYCLES))
def test_ctrl_c_while_frames_flow_ends_every_process_with_status_0(
        share_dir, ros_env, tiny_model, params_file, probe, tmp_path, cycle):
    joints = probe.subscribe(PoseArray, '/hand_pose_node/joints')
    run = Launch(share_dir, tmp_path, **synthetic_args(tiny_model, params_file))
    assert run.wait_started('hand_pose_node', 'depth_source'), run.output()
    assert joints.wait_count(3), 'no joints while frames flow:\n' + run.output()
    run.ctrl_c()
    run.wait()
    out = run.output()
    codes = run.exit_codes()
    assert len(codes) == 2 and all(code == 0 for code in codes.values()), (codes, out)
    assert 'terminate called' not in out and 'process has died' not in out, out
    assert 'Traceback' not in out, out
    assert '\x1b[' not in out, 'ANSI colour codes in the launch output (emulate_tty)'


def test_a_required_process_that_dies_ends_the_launch(share_dir, ros_env, tiny_model,
                                                      params_file, probe, tmp_path):
    # a namespace on the way: the outputs move into it
    joints = probe.subscribe(PoseArray, '/life/hand_pose_node/joints')
    arguments = synthetic_args(tiny_model, params_file, namespace='life')
    run = Launch(share_dir, tmp_path, **arguments)
    assert run.wait_started('hand_pose_node', 'depth_source'), run.output()
    assert joints.wait_count(1), 'no joints in the namespace:\n' + run.output()
    node_pid = run.started('hand_pose_node')['pid']
    os.kill(run.started('depth_source')['pid'], signal.SIGKILL)   # the camera crashes
    run.wait()
    assert not _alive(node_pid), 'hand_pose_node was left running:\n' + run.output()
    codes = run.exit_codes()
    assert codes[next(n for n in codes if n.startswith('hand_pose_node'))] == 0, run.output()


def test_rviz_without_rviz2_stops_before_any_node(share_dir, ros_env, tiny_model,
                                                  params_file, tmp_path):
    if find_executable('rviz2', 'rviz2'):
        pytest.skip('rviz2 is installed here')
    run = Launch(share_dir, tmp_path, **synthetic_args(tiny_model, params_file, rviz='true'))
    assert run.wait() != 0
    out = run.output()
    assert 'apt install ros-' in out and 'rviz:=false' in out, out
    assert not [e for e in run.events() if e['event'] == 'start'], out
