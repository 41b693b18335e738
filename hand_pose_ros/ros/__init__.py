"""ROS 2 adapters (rclpy is imported only here): node, conversions, markers, depth source, demo."""
