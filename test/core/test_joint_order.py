"""Joint orders: MediaPipe-21 in the registry and the estimator's selections of the whole hand."""
from dataclasses import replace

import pytest
import torch

from hand_pose_ros.core.estimator import HandPoseEstimator
from hand_pose_ros.core.nets.pose_net import PoseNet
from hand_pose_ros.core.skeleton import (FROM_HAND22, get_joint_set, HAND22, joint_selection,
                                         MEDIAPIPE21, resolve_joint_order)
from test.conftest import blob_frame


def test_mediapipe21_is_the_mediapipe_order():
    names = MEDIAPIPE21.joint_names
    assert len(names) == 21 and names[0] == 'wrist'
    assert names[1:5] == ('thumb_cmc', 'thumb_mcp', 'thumb_ip', 'thumb_tip')
    assert names[5:9] == ('index_mcp', 'index_pip', 'index_dip', 'index_tip')
    assert names[17:21] == ('little_mcp', 'little_pip', 'little_dip', 'little_tip')
    assert MEDIAPIPE21.parents[1] == 0 and MEDIAPIPE21.parents[5] == 0
    assert MEDIAPIPE21.parents[8] == 7
    assert [HAND22.joint_names[i] for i in FROM_HAND22['mediapipe21']] == list(names)
    assert get_joint_set('MediaPipe21') is MEDIAPIPE21


def test_joint_selection_and_auto_order():
    assert joint_selection('hand22', 'icvl16') == FROM_HAND22['icvl16']
    assert joint_selection('icvl16', 'icvl16') == tuple(range(16))
    with pytest.raises(ValueError, match='cannot give mediapipe21'):
        joint_selection('icvl16', 'mediapipe21')
    assert resolve_joint_order('auto', 'hand22') == 'mediapipe21'
    assert resolve_joint_order('auto', 'icvl16') == 'icvl16'
    assert resolve_joint_order('icvl16', 'hand22') == 'icvl16'
    with pytest.raises(ValueError, match='joint_order must be one of'):
        resolve_joint_order('mano', 'hand22')


def test_estimator_returns_the_chosen_selection_of_one_forward(tiny_config, icvl):
    torch.manual_seed(0)
    net = PoseNet(replace(tiny_config, joint_set='hand22')).eval()
    frame = blob_frame()
    kw = dict(device='cpu', detector='nearest', handedness='right', precision='fp32',
              optimize='none')
    whole = HandPoseEstimator(net, **kw).estimate(frame, icvl.intrinsics)
    assert whole.joint_set is HAND22 and whole.xyz.shape == (22, 3)
    for order, n in (('mediapipe21', 21), ('icvl16', 16), ('auto', 21)):
        est = HandPoseEstimator(net, joint_order=order, **kw)
        pose = est.estimate(frame, icvl.intrinsics)
        sel = list(FROM_HAND22[est.joint_set.name])
        assert pose.xyz.shape == (n, 3) and est.joint_set.num_joints == n
        assert (pose.xyz == whole.xyz[sel]).all() and (pose.uvd == whole.uvd[sel]).all()
        assert (pose.confidence == whole.confidence[sel]).all()
    with pytest.raises(ValueError, match='cannot give mediapipe21'):
        HandPoseEstimator(PoseNet(tiny_config), joint_order='mediapipe21', **kw)
