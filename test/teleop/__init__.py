"""Tests of hand_pose_ros.teleop (robot hand retargeting; ROS-free)."""
