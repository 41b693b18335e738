"""launch_pytest tests of launch/camera.launch.py (need a ROS 2 distribution)."""
