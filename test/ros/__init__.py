"""Tests of the ROS 2 adapters (real nodes over real DDS)."""
