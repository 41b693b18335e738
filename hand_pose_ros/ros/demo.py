"""The camera-free demo: depth_source (a synthetic user raising both hands) and hand_pose_node
as separate processes talking over real DDS (a private ROS_DOMAIN_ID, localhost discovery), a
listener scoring each side's joints (~/right/joints, ~/left/joints) against the source's ground
truth of that hand; one line per second, snapshots and a summary in the output folder.
Children are always stopped (try/finally), also on Ctrl-C or SIGTERM."""
from dataclasses import dataclass
import math
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .demo_scores import MatchedHand, scores, status_text
from ..core.checkpoint import CheckpointError
from ..core.skeleton import FROM_HAND22, get_joint_set, JointSet, resolve_joint_order

STARTUP_TIMEOUT_S = 300.0   # first joints: model load + DDS discovery on a slow box
STOP_TIMEOUT_S = 5.0
LOOP_S = 4.0             # seconds of animation depth_source renders once and replays
SETTLE_S = 0.2           # a snapshot shows a frame received this long ago: all its hands are in


@dataclass(frozen=True)
class DemoConfig:
    """What to run and where to write."""

    seconds: float = 10.0
    out: Path = Path('demo_output')
    model: str = 'default'
    device: str = 'auto'
    rate_hz: float = 15.0
    snapshots: int = 4


def domain_id_for(pid: int) -> int:
    """A ROS_DOMAIN_ID in 101..200 derived from the pid (tests use 1..100)."""
    return 101 + pid % 100


def _parent_death_signal() -> Optional[Callable[[], None]]:
    """A preexec_fn making a child get SIGTERM when the demo dies uncleanly (Linux), or None.

    libc is resolved here, in the parent, so the child only makes one system call.
    """
    if not sys.platform.startswith('linux'):
        return None
    import ctypes
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Children:
    """Node processes started with ``python -m``; ``stop_all`` SIGINTs, then kills."""

    def __init__(self, env: Dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.procs: Dict[str, Tuple[subprocess.Popen, Path]] = {}

    def start(self, name: str, module: str, params: Dict[str, str],
              env: Optional[Dict[str, str]] = None) -> None:
        """Start ``module`` with ROS parameters (and extra environment variables); output
        goes to <log_dir>/<name>.log."""
        cmd = [sys.executable, '-m', module, '--ros-args']
        for key, value in params.items():
            cmd += ['-p', f'{key}:={value}']
        log = self.log_dir / f'{name}.log'
        with open(log, 'wb') as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                    env={**self.env, **(env or {})},
                                    preexec_fn=_parent_death_signal())
        self.procs[name] = (proc, log)

    def dead(self) -> Optional[str]:
        """Name and log tail of a child that exited, or None."""
        for name, (proc, log) in self.procs.items():
            if proc.poll() is not None:
                tail = log.read_text(errors='replace').strip().splitlines()[-5:]
                return f'{name} exited with status {proc.returncode}: ' + ' | '.join(tail)
        return None

    def stop_all(self) -> None:
        """SIGINT every child, wait, then SIGKILL what is left."""
        for proc, _ in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc, _ in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def resolve_demo_model(model: str, scratch: Path) -> Tuple[str, JointSet, str]:
    """(model argument for the node, the joints the node publishes for it (joint_order
    'auto'), note). Only when ``model`` is 'default' and no model is shipped: an untrained
    tiny model, with a note saying so."""
    from ..core.checkpoint import load_pose_model, save_checkpoint
    from ..core.exported import is_exported, load_exported
    from ..core.resources import resolve_model_files

    try:
        path, _ = resolve_model_files(model, None)
    except FileNotFoundError as exc:
        if model != 'default':
            raise
        from ..core.config import ModelConfig
        from ..core.nets.pose_net import build_pose_net
        config = ModelConfig(width=16, stacks=1)
        untrained = scratch / 'untrained.pt'
        save_checkpoint(untrained, build_pose_net(config), config)
        return (str(untrained), get_joint_set(config.joint_set),
                f'no shipped model ({exc}); running an UNTRAINED random-weight model, so '
                'the joint errors are meaningless')
    net = load_exported(path, 'pose') if is_exported(path) else load_pose_model(path)[0]
    return model, get_joint_set(resolve_joint_order('auto', net.config.joint_set)), ''


def demo_hand_parameters(model: str) -> Dict[str, str]:
    """The node's hand-finding parameters: its defaults (both hands, sides from the learned
    networks) where a detector network comes with ``model``, else the nearest hand taken for
    a right hand (one hand per frame)."""
    from ..core.resources import resolve_detector_file

    if resolve_detector_file(model) is not None:
        return {}
    return {'handedness': 'right', 'detector': 'nearest'}


def source_hands(joint_set: JointSet) -> Tuple[int, str]:
    """(hands depth_source draws, note): the two-handed user where its truth can come in the
    node's joints (a selection of the synthetic whole hand), else a single right hand, with a
    note saying so."""
    if joint_set.name in FROM_HAND22:
        return 2, ''
    return 1, (f'the synthetic user has no {joint_set.name} joints (it has '
               f'{", ".join(sorted(FROM_HAND22))}): depth_source draws a single right hand')


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached the demo."""


class _StopRequest:
    """SIGINT/SIGTERM handler: the first signal sets a flag the demo loops check (it cannot be
    lost inside library code the way a KeyboardInterrupt can); a second one interrupts."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def __call__(self, signum, frame) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()


def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> int:
    """Run the demo; 0 on success, 1 when a process failed, 130 on Ctrl-C or SIGTERM."""
    stop = _StopRequest()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    run = DemoRun(config, say, stop.requested)
    try:
        return run.run()
    except (FileNotFoundError, CheckpointError) as exc:
        say(f'ERROR: cannot use model {config.model!r}: {exc}')
        return 1
    except (Interrupted, KeyboardInterrupt):
        say('interrupted: stopping the nodes')
        return 130
    finally:
        run.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class DemoRun:
    """One demo run: children, listener, timed loop, outputs."""

    def __init__(self, config: DemoConfig, say: Callable[[str], None],
                 stop: threading.Event) -> None:
        self.config, self.say, self.stop = config, say, stop
        self.out = Path(config.out)
        (self.out / 'logs').mkdir(parents=True, exist_ok=True)
        self.domain = domain_id_for(os.getpid())
        env = {**os.environ, 'ROS_DOMAIN_ID': str(self.domain),
               'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'PYTHONUNBUFFERED': '1'}
        self.children = Children(env, self.out / 'logs')
        self.context = self.listener = self.executor = None
        self.pngs: List[str] = []
        self.notes: List[str] = []
        self.frames_in_start = 0
        self.elapsed_s = config.seconds

    def run(self) -> int:
        """Start, wait for the first joints, measure, write the outputs."""
        with tempfile.TemporaryDirectory() as scratch:
            model, self.joint_set, note = resolve_demo_model(self.config.model, Path(scratch))
            if note:
                self.say(f'NOTE: {note}')
            self._start(model)
            if not self._wait_first_joints() or not self._measure():
                return 1
        from .demo_report import hand_lines, write_summary

        summary = self._summary(model, note)
        write_summary(self.out, summary)
        for line in hand_lines(summary):
            self.say(line)
        self.say(f"latency p50 {summary['latency_ms']['p50']} ms; wrote "
                 f"{self.out / 'summary.txt'}, {self.out / 'summary.json'} and "
                 f"{len(self.pngs)} PNGs")
        return 0

    def _note(self, note: str) -> None:
        """Print a NOTE line and keep it for the summary."""
        self.say(f'NOTE: {note}')
        self.notes.append(note)

    def _start(self, model: str) -> None:
        """The two node processes, then the in-process listener on the same domain."""
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        from .demo_listener import DemoListener

        drawn, note = source_hands(self.joint_set)
        if note:
            self._note(note)
        self.children.start('depth_source', 'hand_pose_ros.ros.depth_source', {
            'rate_hz': repr(float(self.config.rate_hz)), 'reliable': 'true',
            'joint_set': self.joint_set.name, 'hands': str(drawn),
            # one 4 s open/close cycle rendered before publishing, then replayed at full rate
            'loop_frames': str(min(600, int(round(self.config.rate_hz * LOOP_S))))},
            env={'OMP_NUM_THREADS': '1'})   # the renderer leaves the cores to the network
        hands = demo_hand_parameters(model)
        if hands:
            self._note('no hand detector network for this model: the node takes the nearest '
                       'hand for a right hand (handedness right, detector nearest), so it finds '
                       'one hand per frame, never a left one, and calls the left hand right '
                       'whenever that one is nearer (wrong label)')
        self.children.start('hand_pose_node', 'hand_pose_ros.ros.node', {
            'model': model, 'device': self.config.device, 'reliable_input': 'true',
            'min_confidence': '0.0', 'threads': str(max(1, (os.cpu_count() or 2) - 1)),
            **hands})
        os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
        self.context = rclpy.Context()
        # Ctrl-C stays a KeyboardInterrupt here, so run_demo's finally stops the children.
        rclpy.init(context=self.context, domain_id=self.domain,
                   signal_handler_options=SignalHandlerOptions.NO)
        self.listener = DemoListener(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.listener)
        self.say(f'ROS_DOMAIN_ID={self.domain}: started depth_source and hand_pose_node '
                 f'(logs in {self.out / "logs"}); waiting for the first joints ...')

    def _spin_checked(self) -> bool:
        """Spin a little; False (with a message) when a child died; Interrupted on Ctrl-C."""
        if self.stop.is_set():
            raise Interrupted()
        self.executor.spin_once(timeout_sec=0.05)
        failure = self.children.dead()
        if failure:
            self.say(f'ERROR: {failure}')
        return failure is None

    def _wait_first_joints(self) -> bool:
        """Until the first prediction matched to ground truth arrives."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.listener.matched:
            if not self._spin_checked():
                return False
            if time.monotonic() > deadline:
                self.say(f'ERROR: no joints within {STARTUP_TIMEOUT_S:.0f} s')
                return False
        return True

    def _measure(self) -> bool:
        """The timed part: one status line per second and the snapshots."""
        cfg, listener = self.config, self.listener
        t0 = time.monotonic()
        next_line, second = t0 + 1.0, 0
        shots = [t0 + cfg.seconds * (k + 0.5) / cfg.snapshots for k in range(cfg.snapshots)]
        listener.matched.clear()
        listener.estimator_ms.clear()
        self.frames_in_start = in_last = int(listener.diagnostics.get('frames_in', 0))
        while second < math.ceil(cfg.seconds):      # one line per (started) second
            if not self._spin_checked():
                return False
            now = time.monotonic()
            if shots and now >= shots[0] and self._snapshot():
                shots.pop(0)
            if now >= next_line:
                second += 1
                recent = listener.since(next_line - 1.0)
                frames_in = int(listener.diagnostics.get('frames_in', 0))
                self.say(f'{second:3d} s | input {frames_in - in_last:3d} fps | output '
                         f'{len({m.stamp_ns for m in recent}):3d} fps | latency '
                         f'{_fmt([m.latency_ms for m in recent])} ms | '
                         f'{status_text(recent)}')
                in_last, next_line = frames_in, next_line + 1.0
        self.elapsed_s = time.monotonic() - t0
        return True

    def _snapshot(self) -> bool:
        """Write the newest matched frame with its depth as a PNG; False if not possible yet."""
        from ..core.drawing import snapshot, write_png

        listener = self.listener
        before_s = time.monotonic() - SETTLE_S
        settled = [m for m in listener.since(-math.inf) if m.received_s <= before_s]
        if not settled or listener.intrinsics is None:
            return False
        hands = listener.frame_hands(settled[-1].stamp_ns)
        depth = listener.depth_for(settled[-1].stamp_ns)
        if depth is None:
            return False
        name = f'frame_{len(self.pngs):02d}.png'
        write_png(self.out / name, snapshot(depth, listener.intrinsics,
                                            [(m.side, m.pred_mm) for m in hands],
                                            hands[0].truths_mm, self.joint_set,
                                            snapshot_caption(hands)))
        self.pngs.append(name)
        return True

    def _summary(self, model: str, note: str) -> Dict:
        """Everything the run measured, JSON-ready (no NaN)."""
        from .demo_report import percentiles

        cfg, listener, diag = self.config, self.listener, self.listener.diagnostics
        matched = listener.matched
        rejected = {k.split('.', 1)[1]: int(v) for k, v in diag.items()
                    if k.startswith('rejected.')}
        frames_in = int(diag.get('frames_in', 0))
        return _no_nan({
            'seconds': round(self.elapsed_s, 2), 'rate_hz': cfg.rate_hz, 'model': model,
            'model_note': note, 'notes': self.notes, 'device': diag.get('device', cfg.device),
            'ros_domain_id': self.domain, 'frames_in': frames_in,
            'frames_out': int(diag.get('frames_out', 0)),
            'dropped_frames': int(diag.get('dropped_frames', 0)), 'rejected': rejected,
            'input_fps': round((frames_in - self.frames_in_start) / self.elapsed_s, 1),
            'output_fps': round(len({m.stamp_ns for m in matched}) / self.elapsed_s, 1),
            'latency_ms': percentiles([m.latency_ms for m in matched]),
            'estimator_ms_p50': round(float(np.median(listener.estimator_ms)), 1)
            if listener.estimator_ms else None,
            **scores(matched, self.joint_set.joint_names),
            'pngs': self.pngs,
        })

    def close(self) -> None:
        """Stop the children and the listener (always)."""
        import rclpy

        self.children.stop_all()
        if self.listener is not None:
            self.listener.destroy_node()
        if self.context is not None and self.context.ok():
            rclpy.shutdown(context=self.context)


def snapshot_caption(hands: List[MatchedHand]) -> str:
    """'right 12.3 mm, left 14.0 mm' for a frame's hands ('WRONG LABEL' for a hand published
    as the side it is not)."""
    return ', '.join(f'{m.side} {m.error_mm.mean():.1f} mm' if m.label_ok
                     else f'{m.side}: WRONG LABEL' for m in hands)


def _fmt(values: List[float]) -> str:
    """Median of a list as text ('-' when empty)."""
    return f'{np.median(values):6.1f}' if values else '     -'


def _no_nan(value):
    """NaN -> None throughout a JSON-ready structure."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
