"""ROS-free core: geometry, networks, checkpoints and the estimator (torch, numpy, opencv, yaml)."""
