"""Latest-frame-wins hand-off between the subscription callback and one worker thread.

The callback only ``put``s (never blocks on inference); the worker ``take``s the newest item.
An item replaced before the worker took it is reported as dropped.
"""
import logging
import threading
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar('T')
_log = logging.getLogger(__name__)


class LatestSlot(Generic[T]):
    """A one-item mailbox: ``put`` overwrites, ``take`` waits for an item or close()."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Optional[T] = None
        self._closed = False

    def put(self, item: T) -> bool:
        """Store ``item``; True when it replaced an item nobody took (a dropped frame)."""
        with self._cond:
            dropped = self._item is not None
            self._item = item
            self._cond.notify()
        return dropped

    def take(self, timeout_s: Optional[float] = None) -> Optional[T]:
        """The newest item (removing it), or None on timeout or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            item, self._item = self._item, None
            return None if self._closed else item

    def close(self) -> None:
        """Wake the waiting worker and make every further ``take`` return None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._closed


class Worker:
    """A thread calling ``handle(item)`` for the newest item of a LatestSlot.

    ``handle`` must not raise; if it does, ``on_error`` gets the exception and the loop goes
    on with the next frame (one bad frame never stops the node). The loop ends when the slot
    is closed (``stop``) or, checked between frames, when ``keep_running()`` turns false.

    Not a daemon thread: the interpreter waits for it (at most the frame in flight) instead of
    finalizing while it is inside the network. A daemon thread caught in native code at exit
    is killed by ``pthread_exit`` when it reaches for the GIL; unwinding through torch's C++
    frames, that aborts the process (``terminate called without an active exception``).
    """

    def __init__(self, slot: LatestSlot, handle: Callable[[T], None],
                 on_error: Callable[[BaseException], None], name: str = 'hand_pose_worker',
                 keep_running: Callable[[], bool] = lambda: True):
        self._slot, self._handle, self._on_error = slot, handle, on_error
        self._keep_running = keep_running
        self._thread = threading.Thread(target=self._run, name=name, daemon=False)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout_s: Optional[float] = 30.0) -> bool:
        """Close the slot and join (the frame in flight finishes first); True when the thread
        ended within ``timeout_s`` (None: wait as long as it takes)."""
        self._slot.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        """Take-and-handle loop until the slot closes or keep_running() turns false."""
        while not self._slot.closed and self._keep_running():
            item = self._slot.take(timeout_s=0.5)
            if item is None:
                continue
            try:
                self._handle(item)
            except Exception as exc:  # reported and counted by on_error; the node lives on
                self._on_error(exc)
