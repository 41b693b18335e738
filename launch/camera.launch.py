"""hand_pose_node on a depth camera (realsense, azure_kinect, kinect) or the synthetic source.

Examples:
  ros2 launch hand_pose_ros camera.launch.py camera:=realsense rviz:=true
  ros2 launch hand_pose_ros camera.launch.py camera:=synthetic device:=cpu
  ros2 launch hand_pose_ros camera.launch.py depth_topic:=/my/depth camera_info_topic:=/my/info

Thin on purpose: presets and argument logic live in hand_pose_ros.ros.launch_config (tested
without the launch system); this file declares the arguments and maps the plan to Nodes.
"""
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hand_pose_ros.ros.launch_config import ARGUMENTS, PACKAGE, plan


def _launch_setup(context, *args, **kwargs):
    """Resolve the arguments and start the planned nodes."""
    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    specs = plan(get_package_share_directory(PACKAGE), **values)
    return [Node(package=s.package, executable=s.executable, name=s.name,
                 parameters=s.parameters, remappings=s.remappings, arguments=s.arguments,
                 output='screen', emulate_tty=True) for s in specs]


def generate_launch_description() -> LaunchDescription:
    """Every argument declared with its description, then the opaque set-up."""
    declared = [DeclareLaunchArgument(name, default_value=arg.default,
                                      description=arg.description,
                                      **({'choices': list(arg.choices)} if arg.choices else {}))
                for name, arg in ARGUMENTS.items()]
    return LaunchDescription(declared + [OpaqueFunction(function=_launch_setup)])
