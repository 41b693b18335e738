"""ROS-free core: geometry, networks, checkpoints, estimator (torch, numpy, opencv, yaml)."""
