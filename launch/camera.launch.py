"""hand_pose_node on a depth camera (realsense, azure_kinect, kinect) or the synthetic source.

Examples:
  ros2 launch hand_pose_ros camera.launch.py camera:=realsense rviz:=true
  ros2 launch hand_pose_ros camera.launch.py camera:=synthetic device:=cpu
  ros2 launch hand_pose_ros camera.launch.py depth_topic:=/my/depth camera_info_topic:=/my/info
  ros2 launch hand_pose_ros camera.launch.py namespace:=left use_sim_time:=true \\
      depth_topic:=/left/depth/image_raw camera_info_topic:=/left/depth/camera_info
  ros2 launch hand_pose_ros camera.launch.py camera:=realsense input_transport:=compressedDepth
  ros2 launch hand_pose_ros camera.launch.py camera:=realsense input_rotation_deg:=180

Thin on purpose: presets and argument logic live in hand_pose_ros.ros.launch_config (tested
without the launch system); this file declares the arguments and maps the plan to Nodes. A
node the plan marks required (hand_pose_node, depth_source) ends the whole launch when it exits,
so nothing is left running on its own.
"""
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hand_pose_ros.ros.launch_config import ARGUMENTS, EMULATE_TTY, PACKAGE, plan


def _launch_setup(context, *args, **kwargs):
    """Resolve the arguments and start the planned nodes (nothing if the plan raises)."""
    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    specs = plan(get_package_share_directory(PACKAGE), **values)
    return [Node(package=s.package, executable=s.executable, name=s.name,
                 namespace=s.namespace, parameters=s.parameters, remappings=s.remappings,
                 arguments=s.arguments, additional_env=s.env, output='screen',
                 emulate_tty=EMULATE_TTY,
                 on_exit=[Shutdown(reason=f'{s.name} exited')] if s.required else None)
            for s in specs]


def generate_launch_description() -> LaunchDescription:
    """Every argument declared with its description, then the opaque set-up."""
    declared = [DeclareLaunchArgument(name, default_value=arg.default,
                                      description=arg.description,
                                      **({'choices': list(arg.choices)} if arg.choices else {}))
                for name, arg in ARGUMENTS.items()]
    return LaunchDescription(declared + [OpaqueFunction(function=_launch_setup)])
