"""Fixtures for the launch tests: the installed share folder, a private DDS domain for the
launched processes, a tiny model and a params file accepting its (random) confidences."""
import os

import pytest
import yaml


@pytest.fixture(scope='module')
def share_dir() -> str:
    """share/hand_pose_ros of a colcon install; skips where the package is not installed."""
    ament = pytest.importorskip('ament_index_python.packages', reason='needs ament_index_python')
    try:
        return ament.get_package_share_directory('hand_pose_ros')
    except ament.PackageNotFoundError:
        pytest.skip('hand_pose_ros is not in an ament prefix: colcon build, then source '
                    'install/setup.bash')


@pytest.fixture(scope='module')
def ros_env():
    """Launched processes inherit this process's environment: a private domain, localhost."""
    from test.ros.harness import ROS_ENV

    saved = {k: os.environ.get(k) for k in ROS_ENV}
    os.environ.update(ROS_ENV)
    yield dict(ROS_ENV)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope='module')
def tiny_model(tmp_path_factory):
    """A fast random-weight pose checkpoint."""
    from test.ros.harness import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp('model') / 'tiny.pt')


@pytest.fixture(scope='module')
def params_file(share_dir, tmp_path_factory) -> str:
    """The installed config/hand_pose.yaml with min_confidence 0 (a random model's joints)."""
    with open(os.path.join(share_dir, 'config', 'hand_pose.yaml'), encoding='utf-8') as f:
        params = yaml.safe_load(f)
    params['hand_pose_node']['ros__parameters'].update(min_confidence=0.0,
                                                       diagnostics_period_s=0.5)
    path = tmp_path_factory.mktemp('params') / 'hand_pose.yaml'
    path.write_text(yaml.safe_dump(params), encoding='utf-8')
    return str(path)
