"""hand_pose_ros: 3D hand joints from a single depth image (ROS-free core + ROS 2 adapters)."""

__version__ = '0.1.0'
