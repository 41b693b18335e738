"""Batch-norm statistics: plain-average re-estimation and training with them frozen."""
import pytest
import torch
from torch import nn

from hand_pose_ros.training.norm_stats import (batch_norm_layers, freeze_batch_norm,
                                               recalibrate_batch_norm)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 1, bias=False), nn.BatchNorm2d(3), nn.ReLU())


def _batches():
    """Three batches whose per-channel means are 1, 2 and 9 (identity conv below)."""
    return [torch.full((2, 1, 4, 4), m) + 0.1 * torch.randn(2, 1, 4, 4) for m in (1.0, 2.0, 9.0)]


def test_recalibration_averages_every_batch_equally_and_restores_the_layers():
    net = _net()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    net.eval()
    bn = net[1]
    batches = _batches()
    assert recalibrate_batch_norm(net, batches) == 3
    expected = torch.stack([b.mean() for b in batches]).mean()
    # an exponential average (momentum 0.1 from zero) would give about 1.2, not 4
    assert torch.allclose(bn.running_mean, expected.expand(3), atol=1e-4)
    assert bn.momentum == 0.1 and not net.training and int(bn.num_batches_tracked) == 3


def test_recalibration_refuses_no_input_and_a_net_without_batch_norm():
    with pytest.raises(ValueError, match='no input'):
        recalibrate_batch_norm(_net(), [])
    with pytest.raises(ValueError, match='no batch-norm'):
        recalibrate_batch_norm(nn.Conv2d(1, 1, 1), [torch.zeros(1, 1, 2, 2)])


def test_frozen_batch_norm_keeps_its_statistics_but_its_weights_learn():
    net = _net()
    net.train()
    assert freeze_batch_norm(net) == len(batch_norm_layers(net)) == 1
    bn = net[1]
    before = bn.running_mean.clone()
    out = net(torch.randn(4, 1, 4, 4) + 5.0)
    out.sum().backward()
    assert torch.equal(bn.running_mean, before) and not bn.training and net.training
    assert bn.weight.grad is not None and bn.weight.grad.abs().sum() > 0
    # training mode without freezing would have moved them
    net.train()
    net(torch.randn(4, 1, 4, 4) + 5.0)
    assert not torch.equal(bn.running_mean, before)
