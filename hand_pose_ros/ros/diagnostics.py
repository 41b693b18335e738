"""Pipeline statistics (rates, latency percentiles, drops, rejections by reason) and their
diagnostic_msgs form; per-reason throttled warnings. Thread-safe, no spinning needed."""
from collections import Counter, deque
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from std_msgs.msg import Header

LATENCY_WINDOW = 256   # latest samples kept for the percentiles (bounded memory)


class PipelineStats:
    """Counters shared by the subscription callback (inputs, drops) and the worker (the rest)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        self.rejected: Counter = Counter()
        self.handled: Counter = Counter()     # conditions handled without rejection
        self.hands: Counter = Counter()       # published frames with a hand of each side
        self._latency_ms: deque = deque(maxlen=LATENCY_WINDOW)
        self._estimator_ms: deque = deque(maxlen=LATENCY_WINDOW)
        self._last_t = clock()
        self._last_in = 0
        self._last_out = 0

    def record_input(self, dropped_previous: bool) -> None:
        """A frame arrived; ``dropped_previous``: it replaced one the worker never took."""
        with self._lock:
            self.frames_in += 1
            self.dropped += int(dropped_previous)

    def record_rejected(self, reason: str) -> None:
        """A frame produced no output for ``reason``."""
        with self._lock:
            self.rejected[reason] += 1

    def record_handled(self, condition: str, count: int = 1) -> None:
        """A frame was processed despite ``condition`` (e.g. 'downscaled', 'big_endian')."""
        with self._lock:
            self.handled[condition] += count

    def record_output(self, latency_ms: float, estimator_ms: float,
                      sides: Iterable[str] = ()) -> None:
        """A frame with hands of ``sides`` was published ``latency_ms`` after its stamp; the
        estimator took its part."""
        with self._lock:
            self.frames_out += 1
            self.hands.update(sides)
            self._latency_ms.append(latency_ms)
            self._estimator_ms.append(estimator_ms)

    def snapshot(self) -> Dict[str, object]:
        """Rates since the previous snapshot (Hz), latency percentiles (ms) and all counters."""
        with self._lock:
            now = self._clock()
            dt = max(now - self._last_t, 1e-6)
            lat = np.asarray(self._latency_ms, np.float64)
            est = np.asarray(self._estimator_ms, np.float64)
            snap = {
                'input_rate_hz': (self.frames_in - self._last_in) / dt,
                'output_rate_hz': (self.frames_out - self._last_out) / dt,
                'latency_p50_ms': float(np.percentile(lat, 50)) if lat.size else float('nan'),
                'latency_p95_ms': float(np.percentile(lat, 95)) if lat.size else float('nan'),
                'estimator_p50_ms': float(np.percentile(est, 50)) if est.size else float('nan'),
                'frames_in': self.frames_in, 'frames_out': self.frames_out,
                'dropped_frames': self.dropped, 'rejected': dict(self.rejected),
                'handled': dict(self.handled), 'hands': dict(self.hands),
            }
            self._last_t, self._last_in, self._last_out = now, self.frames_in, self.frames_out
            self._latency_ms.clear()
            self._estimator_ms.clear()
        return snap


def diagnostic_array(snap: Dict[str, object], header: Header, name: str, hardware_id: str,
                     extra: Optional[Dict[str, str]] = None) -> DiagnosticArray:
    """One DiagnosticStatus: OK while frames flow out, WARN when input yields no output or
    nothing arrives. Keys: rates (Hz), latency (ms), counters, rejected.<reason>,
    handled.<condition>, hands.<side> (published frames with a hand of that side)."""
    values: List[KeyValue] = []
    for key in ('input_rate_hz', 'output_rate_hz', 'latency_p50_ms', 'latency_p95_ms',
                'estimator_p50_ms'):
        values.append(KeyValue(key=key, value=f'{snap[key]:.1f}'))
    for key in ('frames_in', 'frames_out', 'dropped_frames'):
        values.append(KeyValue(key=key, value=str(snap[key])))
    for reason, count in sorted(snap['rejected'].items()):
        values.append(KeyValue(key=f'rejected.{reason}', value=str(count)))
    for cond, count in sorted(snap['handled'].items()):
        values.append(KeyValue(key=f'handled.{cond}', value=str(count)))
    for side, count in sorted(snap['hands'].items()):
        values.append(KeyValue(key=f'hands.{side}', value=str(count)))
    for key, value in (extra or {}).items():
        values.append(KeyValue(key=key, value=value))
    if snap['input_rate_hz'] == 0:
        level, message = DiagnosticStatus.WARN, 'no depth images received'
    elif snap['output_rate_hz'] == 0:
        level, message = DiagnosticStatus.WARN, 'depth images received but no hand published'
    else:
        level, message = DiagnosticStatus.OK, 'publishing hand joints'
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id,
                              values=values)
    return DiagnosticArray(header=header, status=[status])


def status_values(array: DiagnosticArray) -> Dict[str, str]:
    """{key: value} of the first status of a DiagnosticArray (for listeners and tests)."""
    return {kv.key: kv.value for kv in array.status[0].values} if array.status else {}


class ThrottledWarnings:
    """Emit at most one message per key every ``period_s``; tells how many were suppressed."""

    def __init__(self, emit: Callable[[str], None], period_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._emit, self._period_s, self._clock = emit, period_s, clock
        self._last: Dict[str, float] = {}
        self._suppressed: Counter = Counter()
        self._lock = threading.Lock()

    def warn(self, key: str, message: str) -> bool:
        """Log ``message`` unless ``key`` was logged within the period; True when logged."""
        with self._lock:
            now = self._clock()
            last = self._last.get(key)
            if last is not None and now - last < self._period_s:
                self._suppressed[key] += 1
                return False
            self._last[key] = now
            skipped = self._suppressed.pop(key, 0)
        suffix = f' ({skipped} more since the last report)' if skipped else ''
        self._emit(f'{message}{suffix}')
        return True


def no_input_message(depth_topic: str, info_topic: str, waited_s: float, depth_publishers: int,
                     info_publishers: int, reliable_input: bool) -> str:
    """The console warning while no depth image has arrived yet: the topics the node listens
    on, how many publishers each has, and what to check."""
    def count(n: int) -> str:
        return f'{n} publisher{"" if n == 1 else "s"}'

    text = (f'no depth image received in {waited_s:.0f} s on {depth_topic} '
            f'({count(depth_publishers)}; CameraInfo on {info_topic}: '
            f'{count(info_publishers)}): ')
    if depth_publishers == 0:
        return text + ('is the camera driver running? Check its topic names against the '
                       'remappings (launch arguments camera, depth_topic, camera_info_topic; '
                       '`ros2 topic list -t` shows what is published)')
    if reliable_input:
        return text + ('reliable_input is true: a BEST_EFFORT (sensor-data) publisher never '
                       'reaches this subscription; set reliable_input to false')
    return text + 'the publisher has sent nothing yet (driver still starting, or a bag paused?)'
