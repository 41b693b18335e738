"""camera.launch.py decisions without the launch system: presets, overrides, nodes started,
the rviz2 check, namespace and sim time, and the launch file's mapping of the plan (run here
against stand-ins of launch / launch_ros, which the PyPI ROS wheels do not include)."""
from pathlib import Path
import sys
import types

import pytest

from hand_pose_ros.ros.launch_config import (ARGUMENTS, CAMERA_PRESETS, EMULATE_TTY,
                                             find_executable, LaunchError,
                                             normalize_namespace, parse_bool, plan,
                                             rviz_missing_message)

SHARE = '/opt/ros/x/share/hand_pose_ros'
LAUNCH_FILE = Path(__file__).resolve().parents[2] / 'launch' / 'camera.launch.py'


def remaps(spec):
    return dict(spec.remappings)


def have_rviz(package, executable):
    return f'/opt/ros/x/lib/{package}/{executable}'


def no_rviz(package, executable):
    return None


@pytest.mark.parametrize('camera,depth,info', [
    ('realsense', '/camera/camera/depth/image_rect_raw', '/camera/camera/depth/camera_info'),
    ('azure_kinect', '/depth/image_raw', '/depth/camera_info'),
    ('kinect', '/camera/depth/image_raw', '/camera/depth/camera_info'),
    ('synthetic', '/depth/image', '/depth/camera_info'),
])
def test_presets(camera, depth, info):
    nodes = plan(SHARE, camera=camera)
    node = next(n for n in nodes if n.executable == 'hand_pose_node')
    assert node.package == 'hand_pose_ros' and node.name == 'hand_pose_node'
    assert remaps(node) == {'depth/image': depth, 'depth/camera_info': info}
    assert node.parameters == [f'{SHARE}/config/hand_pose.yaml', {'use_sim_time': False}]
    assert node.namespace == ''
    sources = [n for n in nodes if n.executable == 'depth_source']
    assert len(sources) == (camera == 'synthetic')
    assert not any(n.executable == 'rviz2' for n in nodes)


def test_synthetic_source_follows_topic_overrides():
    nodes = plan(SHARE, camera='synthetic', depth_topic='/sim/depth',
                 camera_info_topic='/sim/info')
    source, node = nodes
    assert source.executable == 'depth_source'
    assert remaps(source) == remaps(node) == {'depth/image': '/sim/depth',
                                              'depth/camera_info': '/sim/info'}
    assert source.parameters == [{'frame_id': 'camera_depth_optical_frame',
                                  'use_sim_time': False}]


def test_overrides_params_file_device_model_and_rviz():
    nodes = plan(SHARE, camera='azure_kinect', depth_topic='/d', params_file='/my.yaml',
                 device='cuda', model='/m.pt', rviz='true', executable_lookup=have_rviz)
    node = nodes[0]
    assert remaps(node)['depth/image'] == '/d'
    assert remaps(node)['depth/camera_info'] == '/depth/camera_info'
    assert node.parameters == ['/my.yaml', {'device': 'cuda', 'model': '/m.pt',
                                            'use_sim_time': False}]
    rviz = nodes[-1]
    assert (rviz.package, rviz.executable) == ('rviz2', 'rviz2')
    assert rviz.arguments == ['-d', f'{SHARE}/config/hand_pose.rviz', '-f',
                              CAMERA_PRESETS['azure_kinect'].frame_id]
    assert remaps(rviz) == {'/depth/image': '/d'}


def test_input_transport_reaches_the_node_and_is_checked():
    node = plan(SHARE, camera='realsense', input_transport='compressedDepth')[0]
    assert node.parameters[1] == {'input_transport': 'compressedDepth', 'use_sim_time': False}
    # the node subscribes to <remapped depth/image>/compressedDepth: the remapping is unchanged
    assert remaps(node)['depth/image'] == CAMERA_PRESETS['realsense'].depth_topic
    assert plan(SHARE, input_transport='raw')[0].parameters[1]['input_transport'] == 'raw'
    assert 'input_transport' not in plan(SHARE)[0].parameters[1]   # the params file's
    with pytest.raises(ValueError, match="input_transport must be one of.*'compressed'"):
        plan(SHARE, input_transport='compressed')
    with pytest.raises(ValueError, match='publishes raw sensor_msgs/Image only'):
        plan(SHARE, camera='synthetic', input_transport='compressedDepth')


def test_rviz_without_rviz2_installed_stops_before_any_node():
    with pytest.raises(LaunchError) as err:
        plan(SHARE, camera='synthetic', rviz='true', executable_lookup=no_rviz)
    message = str(err.value)
    assert 'rviz2' in message and 'apt install ros-' in message and 'rviz:=false' in message
    assert 'ros-jazzy-rviz2' in rviz_missing_message('jazzy')
    assert 'ros-<distro>-rviz2' in rviz_missing_message('')
    # never asked for rviz: never looked up
    assert plan(SHARE, camera='synthetic', rviz='false', executable_lookup=no_rviz)


def test_find_executable_uses_the_ament_index(tmp_path, monkeypatch):
    prefix = tmp_path / 'install'
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'fake_viz').touch()
    exe = prefix / 'lib' / 'fake_viz' / 'fake_viz'
    exe.parent.mkdir(parents=True)
    exe.write_text('#!/bin/sh\n')
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(prefix))
    assert find_executable('fake_viz', 'fake_viz') is None        # not executable yet
    exe.chmod(0o755)
    assert find_executable('fake_viz', 'fake_viz') == str(exe)
    assert find_executable('fake_viz', 'other') is None
    assert find_executable('no_such_package_here', 'x') is None


def test_required_nodes_end_the_launch_and_run_without_a_tty():
    nodes = plan(SHARE, camera='synthetic', rviz='true', executable_lookup=have_rviz)
    required = {n.name: n.required for n in nodes}
    assert required == {'depth_source': True, 'hand_pose_node': True, 'rviz2': False}
    assert EMULATE_TTY is False     # no ANSI colour codes in launch's log files
    for node in nodes:
        if node.package == 'hand_pose_ros':
            assert node.env == {'PYTHONUNBUFFERED': '1'}


def test_namespace_and_sim_time_reach_every_node():
    nodes = plan(SHARE, camera='synthetic', rviz='true', namespace='left',
                 use_sim_time='true', executable_lookup=have_rviz)
    assert {n.namespace for n in nodes} == {'/left'}
    source, node, rviz = nodes
    assert node.parameters[-1] == {'use_sim_time': True}
    assert source.parameters[-1]['use_sim_time'] is True
    assert rviz.parameters == [{'use_sim_time': True}]
    # the synthetic camera is started here: its topics move into the namespace with it
    assert remaps(source) == remaps(node) == {'depth/image': '/left/depth/image',
                                              'depth/camera_info': '/left/depth/camera_info'}
    assert remaps(rviz) == {'/depth/image': '/left/depth/image',
                            '/hand_pose_node/markers': '/left/hand_pose_node/markers',
                            '/hand_pose_node/joints': '/left/hand_pose_node/joints',
                            '/hand_pose_node/debug_image': '/left/hand_pose_node/debug_image'}
    # a camera driver's topics are its own: a namespace does not move them
    (real,) = plan(SHARE, camera='realsense', namespace='/right/')
    assert real.namespace == '/right'
    assert remaps(real)['depth/image'] == CAMERA_PRESETS['realsense'].depth_topic


def test_namespace_validation():
    assert normalize_namespace('') == '' and normalize_namespace('/') == ''
    assert normalize_namespace('cam_1/hands') == '/cam_1/hands'
    for bad in ('1cam', 'my-cam', 'a b'):
        with pytest.raises(ValueError, match='namespace must be'):
            plan(SHARE, namespace=bad)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='camera must be one of'):
        plan(SHARE, camera='webcam')
    with pytest.raises(ValueError, match='true or false'):
        plan(SHARE, rviz='maybe')
    with pytest.raises(ValueError, match='true or false'):
        plan(SHARE, use_sim_time='sometimes')
    assert parse_bool('True') and not parse_bool('0')


def test_input_rotation_reaches_the_node_as_an_integer_and_is_checked():
    node = plan(SHARE, camera='realsense', input_rotation_deg='180')[0]
    assert node.parameters[1] == {'input_rotation_deg': 180, 'use_sim_time': False}
    assert 'input_rotation_deg' not in plan(SHARE)[0].parameters[1]   # the params file's
    for bad in ('45', '360', 'upside', '-90'):
        with pytest.raises(ValueError, match=r"input_rotation_deg must be one of \['0', '90'"):
            plan(SHARE, input_rotation_deg=bad)


def test_every_argument_is_described_and_plan_accepts_it():
    assert set(ARGUMENTS) == {'camera', 'depth_topic', 'camera_info_topic', 'params_file',
                              'rviz', 'device', 'model', 'namespace', 'use_sim_time',
                              'input_transport', 'input_rotation_deg'}
    assert all(a.description for a in ARGUMENTS.values())
    plan(SHARE, **{name: arg.default for name, arg in ARGUMENTS.items()})


class _Recorder:
    """A stand-in launch action class: keeps its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


@pytest.fixture
def fake_launch(monkeypatch):
    """Stand-ins for launch, launch_ros and ament_index_python (enough for the launch file)."""
    class Configuration:
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context[self.name]

    mods = {name: types.ModuleType(name) for name in (
        'launch', 'launch.actions', 'launch.substitutions', 'launch_ros',
        'launch_ros.actions', 'ament_index_python', 'ament_index_python.packages')}
    mods['launch'].LaunchDescription = _Recorder
    for action in ('DeclareLaunchArgument', 'OpaqueFunction', 'Shutdown'):
        setattr(mods['launch.actions'], action, type(action, (_Recorder,), {}))
    mods['launch.substitutions'].LaunchConfiguration = Configuration
    mods['launch_ros.actions'].Node = type('Node', (_Recorder,), {})
    mods['ament_index_python.packages'].get_package_share_directory = lambda pkg: SHARE
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    namespace: dict = {}
    exec(compile(LAUNCH_FILE.read_text(), str(LAUNCH_FILE), 'exec'), namespace)
    return namespace, mods


def test_launch_file_maps_the_plan(fake_launch):
    namespace, mods = fake_launch
    description = namespace['generate_launch_description']()
    declared = description.args[0][:-1]
    assert [d.args[0] for d in declared] == list(ARGUMENTS)
    values = {name: arg.default for name, arg in ARGUMENTS.items()}
    values.update(camera='synthetic', namespace='left')
    setup = description.args[0][-1].kwargs['function']
    nodes = setup(values)
    by_name = {n.kwargs['name']: n.kwargs for n in nodes}
    assert set(by_name) == {'depth_source', 'hand_pose_node'}
    for name, kwargs in by_name.items():
        assert kwargs['namespace'] == '/left'
        assert kwargs['emulate_tty'] is False and kwargs['output'] == 'screen'
        assert kwargs['additional_env'] == {'PYTHONUNBUFFERED': '1'}
        (shutdown,) = kwargs['on_exit']     # a required process: its exit ends the launch
        assert isinstance(shutdown, mods['launch.actions'].Shutdown)
        assert name in shutdown.kwargs['reason']
