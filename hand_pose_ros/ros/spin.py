"""The executable's life cycle shared by our nodes: init, build, spin until Ctrl-C, clean up.

The shutdown is orderly and no signal can cut it short. rclpy's own handlers (which raise
KeyboardInterrupt wherever the main thread happens to be and shut the context down from
another thread at once) are not installed. Instead SIGINT and SIGTERM only *request* the
shutdown; the spin loop sees the request and the clean-up then runs to its end in this order:
stop and join the node's threads, destroy its publishers, subscriptions and timers and drop
its networks (``node.destroy_node()``), shut the executor down, and only then shut the rclpy
context down. A second Ctrl-C, or ``ros2 launch`` forwarding the interrupt (SIGINT) or
escalating (SIGTERM), changes nothing: the exit status stays 0.

Why it matters: a second signal used to raise KeyboardInterrupt inside the clean-up, so the
inference thread was never joined; the interpreter then finalized while that thread was
inside the network, and the thread, killed by ``pthread_exit`` when it reached for the GIL,
unwound through C++ code and aborted the process (``terminate called without an active
exception``, exit code -6), or the process died of the signal (-2, -15).

While the node is being built (loading a model can take seconds) the first signal still
interrupts at once (KeyboardInterrupt): nothing runs on another thread yet.
"""
import signal
from typing import Callable, List, Optional, Tuple, Type

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Python runs signal handlers on the main thread between executor waits: the longest wait.
SIGNAL_POLL_S = 0.1


class ShutdownRequest:
    """SIGINT/SIGTERM handlers that record a shutdown request instead of raising.

    ``interrupt`` (true while the node is being built): the first signal also raises
    KeyboardInterrupt. Every later signal only records itself.
    """

    def __init__(self) -> None:
        # A plain flag, not a threading.Event: a second signal can run its handler in the
        # middle of the first one's (between any two bytecodes), and Event.set() would then
        # take the Event's non-reentrant lock twice on the same thread and hang the process
        # for good (seen with two signals 0 ms apart). Assigning a bool takes no lock; the
        # spin loop polls it every SIGNAL_POLL_S.
        self._requested = False
        self.interrupt = True
        self.signals: List[int] = []

    def __call__(self, signum: int, _frame=None) -> None:
        """The signal handler (Python runs it on the main thread)."""
        first = not self._requested
        self.signals.append(signum)
        self._requested = True
        if first and self.interrupt:
            raise KeyboardInterrupt

    def is_set(self) -> bool:
        """True once a shutdown signal arrived."""
        return self._requested

    def install(self) -> 'ShutdownRequest':
        """Handle SHUTDOWN_SIGNALS from now on (main thread only)."""
        for signum in SHUTDOWN_SIGNALS:
            signal.signal(signum, self)
        return self

    def ignore_from_now(self) -> None:
        """Ignore SHUTDOWN_SIGNALS for the rest of the process (the clean-up is done). Python
        resets its own handlers to the default action while it finalizes, so without this a
        second Ctrl-C in the last milliseconds of the exit would still kill the process
        (status -2 or -15); an ignored signal stays ignored (SIGKILL still works)."""
        for signum in SHUTDOWN_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


def spin_until_shutdown(executor, request: ShutdownRequest, context) -> None:
    """Spin until a shutdown signal or until the context is shut down (by someone else)."""
    try:
        while not request.is_set() and context.ok():
            executor.spin_once(timeout_sec=SIGNAL_POLL_S)
    except ExternalShutdownException:
        pass


def run_node(make_node: Callable[[], Node], startup_errors: Tuple[Type[BaseException], ...],
             logger_name: str, args: Optional[List[str]] = None) -> int:
    """Spin ``make_node()`` until Ctrl-C (SIGINT), SIGTERM or shutdown: 0; 1 with one fatal log
    line when building the node raises one of ``startup_errors`` (a bad model or
    configuration). SIGINT and SIGTERM stay ignored after the return: the process is about
    to exit, and a late signal must not turn a clean exit into a traceback or a kill."""
    request = ShutdownRequest().install()
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO) as init:
            try:
                node = make_node()
            except startup_errors as exc:
                request.interrupt = False
                rclpy.logging.get_logger(logger_name).fatal(str(exc))
                return 1
            request.interrupt = False
            executor = SingleThreadedExecutor(context=init.context)
            try:
                executor.add_node(node)
                spin_until_shutdown(executor, request, init.context)
            finally:
                executor.shutdown()
                node.destroy_node()
    except KeyboardInterrupt:   # the first signal, while the node was being built
        pass
    finally:
        request.ignore_from_now()
    return 0
