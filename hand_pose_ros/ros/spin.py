"""The executable's life cycle shared by our nodes: init, build, spin until Ctrl-C, clean up."""
from typing import Callable, List, Optional, Tuple, Type

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], startup_errors: Tuple[Type[BaseException], ...],
             logger_name: str, args: Optional[List[str]] = None) -> int:
    """Spin ``make_node()`` until Ctrl-C or shutdown: 0; 1 with one fatal log line when
    building the node raises one of ``startup_errors`` (a bad model or configuration)."""
    try:
        with rclpy.init(args=args):
            try:
                node = make_node()
            except startup_errors as exc:
                rclpy.logging.get_logger(logger_name).fatal(str(exc))
                return 1
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            try:
                executor.spin()
            finally:
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    return 0
