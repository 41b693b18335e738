"""Shared fixtures: small configs, a synthetic hand-like depth frame, CPU threads."""
import numpy as np
import pytest
import torch

from hand_pose_ros.core.config import LocalizerConfig, ModelConfig, SideConfig
from hand_pose_ros.core.nets.side import SideClassifier
from hand_pose_ros.core.specs import dataset_spec

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def icvl():
    """The ICVL dataset spec (intrinsics 320x240, ICVL16 joints)."""
    return dataset_spec('icvl')


@pytest.fixture
def tiny_config() -> ModelConfig:
    """A fast pose-net config for tests (16 channels, one stack, 64x64 input)."""
    return ModelConfig(width=16, stacks=1, input_size=64, heatmap_size=32, hourglass_depth=3)


@pytest.fixture
def tiny_localizer_config() -> LocalizerConfig:
    """A fast localizer config for tests."""
    return LocalizerConfig(width=8, input_size=64)


def blob_frame(shape=(240, 320), center=(160, 120), depth=400.0, radius=25) -> np.ndarray:
    """A float32 frame (mm) with one hand-sized disc of constant depth; 0 elsewhere."""
    h, w = shape
    vv, uu = np.mgrid[0:h, 0:w]
    frame = np.zeros(shape, np.float32)
    frame[(uu - center[0]) ** 2 + (vv - center[1]) ** 2 <= radius ** 2] = depth
    return frame


def constant_side_classifier(config: SideConfig, left_logit: float) -> SideClassifier:
    """A left/right classifier that answers ``left_logit`` (> 0: left) whatever it sees."""
    net = SideClassifier(config)
    with torch.no_grad():
        net.fc.weight.zero_()
        net.fc.bias.fill_(left_logit)
    return net
