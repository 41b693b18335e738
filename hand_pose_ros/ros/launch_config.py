"""Decisions of launch/camera.launch.py as plain Python (no launch import; unit-tested).

``plan(...)`` turns the launch arguments (strings) into the nodes to start, each with its
namespace, parameters (params file + overrides), remappings, environment and whether the
launch must end when it exits. The launch file only maps the result to launch_ros Node actions.
"""
from dataclasses import dataclass, field
import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from ..core.depth_messages import COMPRESSED_DEPTH, INPUT_TRANSPORTS
from ..core.image_rotation import ROTATIONS_DEG

PACKAGE = 'hand_pose_ros'
NODE_NAME = 'hand_pose_node'
# The node's own (relative) input topics, remapped to each camera's.
DEPTH_TOPIC = 'depth/image'
CAMERA_INFO_TOPIC = 'depth/camera_info'
RVIZ_DEPTH_TOPIC = '/depth/image'   # the depth Image display's topic in config/hand_pose.rviz
# the node's outputs shown by config/hand_pose.rviz (absolute there: remapped with a namespace)
RVIZ_NODE_TOPICS = ('markers', 'joints', 'debug_image')
# Output of the started nodes: no pseudo-terminal (emulate_tty would make rcutils colour the
# lines, and launch writes those ANSI codes into ~/.ros/log); Python unbuffered instead, so
# prints and log lines still appear at once and in order.
EMULATE_TTY = False
PYTHON_ENV = {'PYTHONUNBUFFERED': '1'}


class LaunchError(ValueError):
    """A launch argument that cannot work on this machine; the message says what to do."""


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
    'namespace': LaunchArgument('', 'namespace of the started nodes (e.g. one per camera): '
                                'outputs become /<namespace>/hand_pose_node/...; camera topics '
                                'stay the preset\'s or depth_topic\'s'),
    'input_transport': LaunchArgument('', "how depth images arrive: 'raw' (sensor_msgs/Image "
                                      "on depth_topic) or 'compressedDepth' (image_transport's "
                                      'PNG CompressedImage on <depth_topic>/compressedDepth, '
                                      'e.g. a camera on another machine or a bag recorded '
                                      "over the network); empty = the params file's"),
    'input_rotation_deg': LaunchArgument('', 'a camera mounted rolled about its optical axis '
                                         '(upside down: 180; on its side: 90 or 270): images '
                                         'are turned clockwise by this before estimation, '
                                         "hands reported in the camera's frame; empty = the "
                                         "params file's"),
    'use_sim_time': LaunchArgument('false', 'use the /clock topic (a bag played with '
                                   '--clock) as ROS time in every started node',
                                   ('true', 'false')),
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
    namespace: str = ''
    env: Dict[str, str] = field(default_factory=dict)   # added to the inherited environment
    required: bool = False    # its exit (crash or not) shuts the whole launch down


def find_executable(package: str, executable: str) -> Optional[str]:
    """Path of ``executable`` of an installed ROS package (lib/<package>/), or None when the
    package or the executable is missing (the ament index of the sourced workspaces)."""
    try:
        from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    except ImportError:
        return None
    try:
        prefix = get_package_prefix(package)
    except (PackageNotFoundError, ValueError):
        return None
    path = os.path.join(prefix, 'lib', package, executable)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def rviz_missing_message(distro: Optional[str] = None) -> str:
    """What to do when rviz:=true and rviz2 is not installed."""
    distro = distro if distro is not None else os.environ.get('ROS_DISTRO', '')
    apt = f'ros-{distro}-rviz2' if distro else 'ros-<distro>-rviz2'
    return (f"rviz:=true, but RViz is not installed (no executable rviz2 of package 'rviz2' "
            f'in the sourced workspaces): install it with `sudo apt install {apt}` (it is an '
            f'exec_depend of hand_pose_ros that `rosdep install --skip-keys rviz2` leaves '
            f'out), or launch with rviz:=false')


def parse_bool(text: str) -> bool:
    """'true'/'false' (also 1/0, yes/no, any case) -> bool; ValueError otherwise."""
    value = str(text).strip().lower()
    if value in ('true', '1', 'yes', 'on'):
        return True
    if value in ('false', '0', 'no', 'off'):
        return False
    raise ValueError(f'expected true or false, found {text!r}')


def normalize_namespace(namespace: str) -> str:
    """'' or '/name[/name...]' (no trailing slash); ValueError for characters ROS rejects."""
    parts = [p for p in str(namespace).strip().split('/') if p]
    for part in parts:
        if not (part[0].isalpha() or part[0] == '_') or \
                not all(c.isalnum() or c == '_' for c in part):
            raise ValueError(f'namespace must be names of letters, digits and _ separated by /, '
                             f'found {namespace!r}')
    return '/' + '/'.join(parts) if parts else ''


def plan(share_dir: str, camera: str = 'realsense', depth_topic: str = '',
         camera_info_topic: str = '', params_file: str = '', rviz: str = 'false',
         device: str = '', model: str = '', namespace: str = '', use_sim_time: str = 'false',
         input_transport: str = '', input_rotation_deg: str = '',
         executable_lookup: Callable[[str, str], Optional[str]] = find_executable,
         ) -> List[NodeSpec]:
    """The nodes to start for the given launch arguments (all strings, as launch gives them).

    Raises ValueError for a bad argument and LaunchError (a ValueError) when rviz:=true and
    rviz2 is not installed (``executable_lookup`` finds installed executables), before any
    node is started.
    """
    if camera not in CAMERA_PRESETS:
        raise ValueError(f'camera must be one of {sorted(CAMERA_PRESETS)}, found {camera!r}')
    preset = CAMERA_PRESETS[camera]
    if input_transport not in ('',) + INPUT_TRANSPORTS:
        raise ValueError(f'input_transport must be one of {list(INPUT_TRANSPORTS)} (or empty '
                         f'for the params file\'s), found {input_transport!r}')
    if input_transport == COMPRESSED_DEPTH and preset.starts_depth_source:
        raise ValueError(f'camera:={camera} publishes raw sensor_msgs/Image only: leave '
                         'input_transport empty or raw')
    rotation = {}
    if input_rotation_deg:
        allowed = [str(a) for a in ROTATIONS_DEG]
        if input_rotation_deg.strip() not in allowed:
            raise ValueError(f'input_rotation_deg must be one of {allowed} (degrees clockwise) '
                             f'or empty for the params file\'s, found {input_rotation_deg!r}')
        rotation = {'input_rotation_deg': int(input_rotation_deg)}
    ns = normalize_namespace(namespace)
    sim_time = {'use_sim_time': parse_bool(use_sim_time)}
    with_rviz = parse_bool(rviz)
    if with_rviz and executable_lookup('rviz2', 'rviz2') is None:
        raise LaunchError(rviz_missing_message())
    params_path = params_file or os.path.join(share_dir, 'config', 'hand_pose.yaml')
    overrides = {k: v for k, v in (('device', device), ('model', model),
                                   ('input_transport', input_transport)) if v}
    parameters: List[Union[str, Dict[str, Any]]] = [params_path,
                                                    {**overrides, **rotation, **sim_time}]
    # depth_source is started here: its topics move into the namespace with it
    source_prefix = ns if preset.starts_depth_source else ''
    remappings = [(DEPTH_TOPIC, depth_topic or source_prefix + preset.depth_topic),
                  (CAMERA_INFO_TOPIC,
                   camera_info_topic or source_prefix + preset.camera_info_topic)]
    nodes = [NodeSpec(PACKAGE, 'hand_pose_node', NODE_NAME, parameters, remappings,
                      namespace=ns, env=dict(PYTHON_ENV), required=True)]
    if preset.starts_depth_source:
        # depth_source publishes relative depth/image + depth/camera_info: point them at the
        # topics the node listens to (the preset's, or the user's overrides).
        nodes.insert(0, NodeSpec(PACKAGE, 'depth_source', 'depth_source',
                                 [{'frame_id': preset.frame_id, **sim_time}],
                                 [(DEPTH_TOPIC, remappings[0][1]),
                                  (CAMERA_INFO_TOPIC, remappings[1][1])],
                                 namespace=ns, env=dict(PYTHON_ENV), required=True))
    if with_rviz:
        # hand_pose.rviz shows RVIZ_DEPTH_TOPIC; a remapping points it at the camera's.
        # With a namespace, the node's outputs it shows move too.
        rviz_remaps = [(RVIZ_DEPTH_TOPIC, remappings[0][1])] + [
            (f'/{NODE_NAME}/{t}', f'{ns}/{NODE_NAME}/{t}') for t in RVIZ_NODE_TOPICS if ns]
        nodes.append(NodeSpec('rviz2', 'rviz2', 'rviz2', [dict(sim_time)], rviz_remaps, [
            '-d', os.path.join(share_dir, 'config', 'hand_pose.rviz'), '-f', preset.frame_id],
            namespace=ns))
    return nodes
