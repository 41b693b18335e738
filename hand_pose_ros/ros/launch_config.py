"""Decisions of launch/camera.launch.py as plain Python (no launch import; unit-tested).

``plan(...)`` turns the launch arguments (strings) into the nodes to start, each with its
parameters (params file + overrides) and remappings. The launch file only maps the result to
launch_ros Node actions.
"""
from dataclasses import dataclass, field
import os
from typing import Any, Dict, List, Tuple, Union

PACKAGE = 'hand_pose_ros'
NODE_NAME = 'hand_pose_node'
# The node's own (relative) input topics, remapped to each camera's.
DEPTH_TOPIC = 'depth/image'
CAMERA_INFO_TOPIC = 'depth/camera_info'
RVIZ_DEPTH_TOPIC = '/depth/image'   # the depth Image display's topic in config/hand_pose.rviz


@dataclass(frozen=True)
class CameraPreset:
    """Topics and optical frame of a depth camera driver with its default settings."""

    depth_topic: str
    camera_info_topic: str
    frame_id: str                    # the depth optical frame (RViz fixed frame)
    starts_depth_source: bool = False


CAMERA_PRESETS: Dict[str, CameraPreset] = {
    # realsense2_camera (ROS 2 wrapper 4.x: camera_namespace and camera_name both 'camera')
    'realsense': CameraPreset('/camera/camera/depth/image_rect_raw',
                              '/camera/camera/depth/camera_info', 'camera_depth_optical_frame'),
    # Azure_Kinect_ROS_Driver
    'azure_kinect': CameraPreset('/depth/image_raw', '/depth/camera_info', 'depth_camera_link'),
    # openni_camera / freenect (Kinect v1)
    'kinect': CameraPreset('/camera/depth/image_raw', '/camera/depth/camera_info',
                           'camera_depth_optical_frame'),
    # this package's camera-free depth_source
    'synthetic': CameraPreset('/depth/image', '/depth/camera_info',
                              'camera_depth_optical_frame', starts_depth_source=True),
}


@dataclass(frozen=True)
class LaunchArgument:
    """A launch argument: default (string) and description; ``choices`` when closed."""

    default: str
    description: str
    choices: Tuple[str, ...] = ()


ARGUMENTS: Dict[str, LaunchArgument] = {
    'camera': LaunchArgument('realsense', 'depth camera preset: topic names and optical frame',
                             tuple(CAMERA_PRESETS)),
    'depth_topic': LaunchArgument('', 'depth image topic (sensor_msgs/Image 16UC1 mm or 32FC1 '
                                  'm); empty = the preset\'s'),
    'camera_info_topic': LaunchArgument('', 'CameraInfo topic of the depth image; empty = the '
                                        'preset\'s'),
    'params_file': LaunchArgument('', 'node parameters (ROS params file); empty = '
                                  'config/hand_pose.yaml of this package'),
    'rviz': LaunchArgument('false', 'start RViz with config/hand_pose.rviz',
                           ('true', 'false')),
    'device': LaunchArgument('', "inference device (auto, cpu, cuda, cuda:N); empty = the "
                             "params file's"),
    'model': LaunchArgument('', "pose model name or checkpoint path; empty = the params "
                            "file's"),
}


@dataclass(frozen=True)
class NodeSpec:
    """One node to start: what launch_ros.actions.Node needs."""

    package: str
    executable: str
    name: str
    parameters: List[Union[str, Dict[str, Any]]] = field(default_factory=list)
    remappings: List[Tuple[str, str]] = field(default_factory=list)
    arguments: List[str] = field(default_factory=list)


def parse_bool(text: str) -> bool:
    """'true'/'false' (also 1/0, yes/no, any case) -> bool; ValueError otherwise."""
    value = str(text).strip().lower()
    if value in ('true', '1', 'yes', 'on'):
        return True
    if value in ('false', '0', 'no', 'off'):
        return False
    raise ValueError(f'expected true or false, found {text!r}')


def plan(share_dir: str, camera: str = 'realsense', depth_topic: str = '',
         camera_info_topic: str = '', params_file: str = '', rviz: str = 'false',
         device: str = '', model: str = '') -> List[NodeSpec]:
    """The nodes to start for the given launch arguments (all strings, as launch gives them)."""
    if camera not in CAMERA_PRESETS:
        raise ValueError(f'camera must be one of {sorted(CAMERA_PRESETS)}, found {camera!r}')
    preset = CAMERA_PRESETS[camera]
    params_path = params_file or os.path.join(share_dir, 'config', 'hand_pose.yaml')
    overrides = {k: v for k, v in (('device', device), ('model', model)) if v}
    parameters: List[Union[str, Dict[str, Any]]] = [params_path]
    if overrides:
        parameters.append(overrides)
    remappings = [(DEPTH_TOPIC, depth_topic or preset.depth_topic),
                  (CAMERA_INFO_TOPIC, camera_info_topic or preset.camera_info_topic)]
    nodes = [NodeSpec(PACKAGE, 'hand_pose_node', NODE_NAME, parameters, remappings)]
    if preset.starts_depth_source:
        # depth_source publishes relative depth/image + depth/camera_info: point them at the
        # topics the node listens to (the preset's, or the user's overrides).
        nodes.insert(0, NodeSpec(PACKAGE, 'depth_source', 'depth_source',
                                 [{'frame_id': preset.frame_id}],
                                 [(DEPTH_TOPIC, remappings[0][1]),
                                  (CAMERA_INFO_TOPIC, remappings[1][1])]))
    if parse_bool(rviz):
        # hand_pose.rviz shows RVIZ_DEPTH_TOPIC; a remapping points it at the camera's.
        nodes.append(NodeSpec('rviz2', 'rviz2', 'rviz2', remappings=[
            (RVIZ_DEPTH_TOPIC, remappings[0][1])], arguments=[
            '-d', os.path.join(share_dir, 'config', 'hand_pose.rviz'), '-f', preset.frame_id]))
    return nodes
