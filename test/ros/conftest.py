"""Fixtures for the ROS tests: a tiny random-weight model, a probe node, node processes.

Every process of a test run shares one pid-derived ROS_DOMAIN_ID and discovers on localhost
only (see harness.py), so parallel runs on one machine do not see each other. Test modules
skip themselves (importorskip) where rclpy is missing.
"""
import pytest


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory):
    """Path of a fast random-weight pose checkpoint (16 channels, 1 stack, 64 px crops)."""
    from test.ros.harness import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp('model') / 'tiny.pt')


@pytest.fixture(scope='module')
def probe():
    """An in-process node spinning on a thread (reliable test traffic)."""
    from test.ros.harness import Probe

    p = Probe()
    yield p
    p.close()


@pytest.fixture(scope='module')
def start_node(tmp_path_factory):
    """Factory: start a node module as a process; every process is stopped at module end."""
    from test.ros.harness import NodeProcess

    started = []

    def start(module: str, params: dict, name: str = 'node',
              extra_args: list = None) -> NodeProcess:
        log = tmp_path_factory.mktemp('logs') / f'{name}.log'
        proc = NodeProcess(module, params, log, extra_args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
