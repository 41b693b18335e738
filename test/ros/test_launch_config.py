"""camera.launch.py decisions without the launch system: presets, overrides, nodes started."""
import pytest

from hand_pose_ros.ros.launch_config import (ARGUMENTS, CAMERA_PRESETS, parse_bool,
                                             plan)

SHARE = '/opt/ros/x/share/hand_pose_ros'


def remaps(spec):
    return dict(spec.remappings)


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
    assert node.parameters == [f'{SHARE}/config/hand_pose.yaml']
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
    assert source.parameters == [{'frame_id': 'camera_depth_optical_frame'}]


def test_overrides_params_file_device_model_and_rviz():
    nodes = plan(SHARE, camera='azure_kinect', depth_topic='/d', params_file='/my.yaml',
                 device='cuda', model='/m.pt', rviz='true')
    node = nodes[0]
    assert remaps(node)['depth/image'] == '/d'
    assert remaps(node)['depth/camera_info'] == '/depth/camera_info'
    assert node.parameters == ['/my.yaml', {'device': 'cuda', 'model': '/m.pt'}]
    rviz = nodes[-1]
    assert (rviz.package, rviz.executable) == ('rviz2', 'rviz2')
    assert rviz.arguments == ['-d', f'{SHARE}/config/hand_pose.rviz', '-f',
                              CAMERA_PRESETS['azure_kinect'].frame_id]
    assert remaps(rviz) == {'/depth/image': '/d'}


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='camera must be one of'):
        plan(SHARE, camera='webcam')
    with pytest.raises(ValueError, match='true or false'):
        plan(SHARE, rviz='maybe')
    assert parse_bool('True') and not parse_bool('0')


def test_every_argument_is_described_and_plan_accepts_it():
    assert set(ARGUMENTS) == {'camera', 'depth_topic', 'camera_info_topic', 'params_file',
                              'rviz', 'device', 'model'}
    assert all(a.description for a in ARGUMENTS.values())
    plan(SHARE, **{name: arg.default for name, arg in ARGUMENTS.items()})
