"""Statistics, diagnostics message, throttled warnings and the latest-frame-wins slot."""
import threading

import pytest

pytest.importorskip('rclpy', reason='needs rclpy (pip install .[ros] or a sourced ROS 2)')
pytestmark = pytest.mark.ros

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402, I100, I202
from std_msgs.msg import Header  # noqa: E402

from hand_pose_ros.ros.diagnostics import (diagnostic_array, PipelineStats,  # noqa: E402
                                           status_values, ThrottledWarnings)
from hand_pose_ros.ros.worker import LatestSlot, Worker  # noqa: E402


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_stats_rates_percentiles_and_counters():
    clock = FakeClock()
    stats = PipelineStats(clock)
    for i in range(10):
        stats.record_input(dropped_previous=i % 2 == 1)
    for ms in range(1, 6):
        stats.record_output(float(ms * 10), 2.0, ['right', 'left'] if ms == 1 else ['right'])
    stats.record_rejected('no_hand')
    stats.record_rejected('no_hand')
    stats.record_handled('big_endian')
    clock.t = 2.0
    snap = stats.snapshot()
    assert snap['input_rate_hz'] == 5.0 and snap['output_rate_hz'] == 2.5
    assert snap['latency_p50_ms'] == 30.0 and snap['dropped_frames'] == 5
    assert snap['rejected'] == {'no_hand': 2} and snap['handled'] == {'big_endian': 1}
    assert snap['hands'] == {'right': 5, 'left': 1}
    array = diagnostic_array(snap, Header(), 'node: pipeline', 'cpu', {'device': 'cpu'})
    values = status_values(array)
    assert values['rejected.no_hand'] == '2' and values['dropped_frames'] == '5'
    assert values['latency_p95_ms'] and values['device'] == 'cpu'
    assert (values['hands.right'], values['hands.left']) == ('5', '1')
    assert array.status[0].level == DiagnosticStatus.OK
    clock.t = 3.0
    quiet = stats.snapshot()
    assert quiet['input_rate_hz'] == 0
    assert diagnostic_array(quiet, Header(), 'n', 'cpu').status[0].level == DiagnosticStatus.WARN


def test_throttled_warnings_per_key():
    clock, lines = FakeClock(), []
    warn = ThrottledWarnings(lines.append, period_s=5.0, clock=clock)
    assert warn.warn('a', 'first a') and warn.warn('b', 'first b')
    assert not warn.warn('a', 'again')
    clock.t = 6.0
    assert warn.warn('a', 'later a')
    assert lines == ['first a', 'first b', 'later a (1 more since the last report)']


def test_latest_slot_newest_wins():
    slot = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True          # 1 was never taken: dropped
    assert slot.take(0.1) == 2
    assert slot.take(0.01) is None
    slot.close()
    assert slot.take(0.01) is None


def test_worker_survives_errors_and_stops():
    slot, seen, errors = LatestSlot(), [], []
    took_bad, done = threading.Event(), threading.Event()

    def handle(item):
        if item == 'bad':
            took_bad.set()
            raise RuntimeError('boom')
        seen.append(item)
        done.set()

    worker = Worker(slot, handle, errors.append)
    worker.start()
    slot.put('bad')
    assert took_bad.wait(10)
    slot.put('good')
    assert done.wait(10)
    assert seen == ['good'] and [str(e) for e in errors] == ['boom']
    assert worker.stop(5.0)
