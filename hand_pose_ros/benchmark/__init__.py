"""`hand-pose bench`: per-stage latency of the estimator, model size, and the node over DDS.

models.py picks the networks (shipped, files, or random weights of a config), stages.py times
the estimator and the message conversions, dds.py measures the ROS node end to end, and
report.py assembles the figures (its docstring documents every JSON key).
"""
