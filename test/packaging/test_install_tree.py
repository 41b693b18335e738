"""The install tree a ROS user gets from `colcon build`, and the shipped-file lookup in it."""
import os
from pathlib import Path
import shutil
import subprocess
import sys
from xml.etree import ElementTree

import pytest

REPO = Path(__file__).resolve().parents[2]
COLCON = shutil.which('colcon', path=str(Path(sys.executable).parent)) or shutil.which('colcon')


def _tracked_copy(dest: Path) -> None:
    """Copy the files git tracks (a clean checkout, no venv or build folders) to ``dest``."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                           cwd=REPO, capture_output=True, check=True).stdout.split(b'\0')
    for rel in filter(None, files):
        src = REPO / rel.decode()
        if src.is_file():
            (dest / rel.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel.decode())


@pytest.fixture(scope='module')
def install(tmp_path_factory) -> Path:
    if COLCON is None:
        pytest.skip('colcon is not installed (pip install colcon-common-extensions)')
    ws = tmp_path_factory.mktemp('ws')
    _tracked_copy(ws / 'src' / 'hand_pose_ros')
    done = subprocess.run([COLCON, 'build', '--base-paths', 'src'], cwd=ws, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return ws / 'install' / 'hand_pose_ros'


def test_executables_land_in_lib_package(install):
    for exe in ('hand_pose_node', 'depth_source', 'hand-pose'):
        path = install / 'lib' / 'hand_pose_ros' / exe
        assert path.is_file() and os.access(path, os.X_OK), path


def test_share_holds_launch_config_models_and_index_marker(install):
    share = install / 'share' / 'hand_pose_ros'
    assert (share / 'package.xml').is_file()
    assert (install / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'hand_pose_ros').is_file()
    for rel in ('config/datasets.yaml', 'config/cameras.yaml', 'config/models/paper.yaml',
                'config/train/paper.yaml'):
        assert (share / rel).is_file(), rel
    assert list((share / 'launch').glob('*.launch.py')), 'no launch file installed'
    assert (share / 'config' / 'hand_pose.yaml').is_file()
    shipped = sorted(p.name for p in (REPO / 'models').glob('*') if p.is_file())
    assert sorted(p.name for p in (share / 'models').glob('*')) == shipped


def test_resources_resolve_through_the_ament_index(install):
    site = next((install / 'lib').glob('python3*/site-packages'))
    env = dict(os.environ, AMENT_PREFIX_PATH=str(install), PYTHONPATH=str(site))
    code = ('from hand_pose_ros.core.resources import find_resource;'
            'print(find_resource("config/datasets.yaml"))')
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                          cwd=install, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(install / 'share' / 'hand_pose_ros' / 'config' /
                                      'datasets.yaml')


def test_colcon_test_runs_pytest(install):
    """`colcon test` picks pytest (extras_require['test']), not unittest's 0 tests."""
    ws = install.parents[1]
    done = subprocess.run([COLCON, 'test', '--base-paths', 'src', '--packages-select',
                           'hand_pose_ros', '--pytest-args', 'test/core/test_filters.py'],
                          cwd=ws, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = ws / 'build' / 'hand_pose_ros' / 'pytest.xml'
    assert report.is_file(), 'colcon test did not run pytest:\n' + done.stdout[-3000:]
    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    assert int(suite.get('tests')) >= 5
    assert int(suite.get('failures')) == int(suite.get('errors')) == 0


def test_test_dependencies_are_declared_for_colcon_and_rosdep():
    setup_info = pytest.importorskip(
        'colcon_python_setup_py.package_identification.python_setup_py',
        reason='needs colcon (pip install colcon-common-extensions)')
    from colcon_core.task.python.test import has_test_dependency

    data = setup_info.get_setup_information(REPO / 'setup.py')
    test_extras = data['extras_require']['test']
    assert has_test_dependency(data, 'pytest')          # colcon's choice of pytest
    assert not data.get('tests_require')                # dropped by setuptools
    ini = (REPO / 'pytest.ini').read_text()
    assert ('--timeout' not in ini) or any(r.startswith('pytest-timeout') for r in test_extras)
    manifest = ElementTree.parse(REPO / 'package.xml').getroot()
    test_depends = {e.text for e in manifest.findall('test_depend')}
    exec_depends = {e.text for e in manifest.findall('exec_depend')}
    assert {'python3-pytest', 'python3-pytest-timeout', 'launch_pytest'} <= test_depends
    assert {'rviz2', 'launch', 'launch_ros', 'ros2launch'} <= exec_depends
