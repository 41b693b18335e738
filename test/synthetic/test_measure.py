"""The shipped skeleton's targets are the ICVL test-set bone medians (needs the reference)."""
import numpy as np
import pytest
import torch

from hand_pose_ros.synthetic.hand_model import default_skeleton, palm_frame_icvl16
from hand_pose_ros.synthetic.measure import bone_medians, ICVL_GT, load_icvl_xyz, reference_dir


@pytest.fixture
def icvl_xyz():
    ref = reference_dir()
    if ref is None:
        pytest.skip('ICVL reference ground truth not found (../shared/reference/hand-pose-eval '
                    'or $HAND_POSE_REFERENCE_DIR)')
    return load_icvl_xyz(ref / ICVL_GT)


@pytest.mark.reference
def test_shipped_targets_are_the_measured_medians(icvl_xyz):
    assert icvl_xyz.shape == (1596, 16, 3)
    np.testing.assert_allclose(bone_medians(icvl_xyz), default_skeleton().icvl16_targets_mm,
                               atol=0.01)


@pytest.mark.reference
def test_icvl_chirality_matches_the_model(icvl_xyz):
    # In the palm frame the fingers flex towards -z (the model's palmar side).
    xyz = torch.from_numpy(icvl_xyz)
    local = (xyz - xyz[:, :1]) @ palm_frame_icvl16(xyz)
    tips = local[:, [6, 9, 12, 15], 2]
    assert float(tips.median()) < -5.0
