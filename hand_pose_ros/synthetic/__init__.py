"""Synthetic depth hands: kinematic model, pose sampler, ray-cast renderer, sensor model.

The training and test data of this project when the real datasets are absent; see
generator.py for the API and measure.py for where the skeleton's numbers come from.
"""
from .generator import SyntheticBatch, SyntheticGenerator
from .hand_model import default_skeleton, HandAngles, HandSkeleton
from .poses import JointLimits, PoseConfig
from .renderer import HandShape
from .scene import SceneConfig
from .sensor import SensorConfig

__all__ = ['default_skeleton', 'HandAngles', 'HandShape', 'HandSkeleton', 'JointLimits',
           'PoseConfig', 'SceneConfig', 'SensorConfig', 'SyntheticBatch', 'SyntheticGenerator']
