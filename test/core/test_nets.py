"""Every network variant: output shapes, no NaN, gradients reach every parameter; it learns."""
import pytest
import torch

from hand_pose_ros.core.config import LocalizerConfig, ModelConfig, VARIANTS
from hand_pose_ros.core.heatmaps import gaussian_heatmaps
from hand_pose_ros.core.nets.blocks import SEResBlock, SqueezeExcite
from hand_pose_ros.core.nets.localizer import Localizer
from hand_pose_ros.core.nets.pose_net import PoseNet
from hand_pose_ros.training.losses import localizer_loss, pose_loss


def _grads_everywhere(model: torch.nn.Module) -> None:
    """Autograd reaches every parameter; all gradients are finite, and non-zero except inside
    squeeze-excitation bottlenecks (a 4-unit ReLU there can start dead at random init)."""
    unreached = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unreached, f'no gradient reached: {unreached[:5]}'
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    zero = [n for n, p in model.named_parameters()
            if not p.grad.abs().sum() and '.se.fc' not in n]
    assert not zero, f'zero gradient: {zero[:5]}'


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('stacks', [1, 2])
def test_variant_forward_backward(variant, stacks):
    cfg = ModelConfig(variant=variant, width=16, stacks=stacks, input_size=64, heatmap_size=32,
                      hourglass_depth=3)
    net = PoseNet(cfg)
    x = torch.randn(3, 1, 64, 64)
    out = net(x)
    j = cfg.num_joints
    assert out.depths.shape == (3, j)
    if variant == 'plain':
        assert out.heatmaps is None and out.uv.shape == (3, j, 2)
    else:
        assert out.heatmaps.shape == (3, stacks, j, 32, 32)
        assert torch.isfinite(out.heatmaps).all()
    assert (out.attention is not None) == (variant == 'attention')
    target = torch.rand(3, j, 3) * 1.6 - 0.8
    loss, parts = pose_loss(out, target, cfg.sigma)
    assert torch.isfinite(loss)
    loss.backward()
    _grads_everywhere(net)
    nuvd, conf = PoseNet.joints(out)
    assert nuvd.shape == (3, j, 3) and conf.shape == (3, j)


def test_paper_config_shapes():
    net = PoseNet(ModelConfig()).eval()
    with torch.inference_mode():
        out = net(torch.zeros(1, 1, 128, 128))
    assert out.heatmaps.shape == (1, 2, 16, 64, 64)
    assert out.attention.shape == (1, 128, 64, 64)
    assert out.attention.min() >= 0 and out.attention.max() <= 1


def test_wrong_input_shape_is_reported():
    net = PoseNet(ModelConfig(width=16, stacks=1, input_size=64, heatmap_size=32,
                              hourglass_depth=3))
    with pytest.raises(ValueError, match=r'expects \(B, 1, 64, 64\).*found \(1, 1, 32, 32\)'):
        net(torch.zeros(1, 1, 32, 32))


def test_unknown_config_key_and_variant_raise():
    with pytest.raises(ValueError, match='unknown keys'):
        ModelConfig.from_dict({'widht': 3})
    with pytest.raises(ValueError, match='variant'):
        ModelConfig(variant='fancy')


def test_blocks():
    se = SqueezeExcite(32)
    x = torch.randn(2, 32, 8, 8)
    assert se(x).shape == x.shape
    block = SEResBlock(16, 32, stride=2)
    assert block(torch.randn(2, 16, 8, 8)).shape == (2, 32, 4, 4)


def test_localizer_forward_backward():
    loc = Localizer(LocalizerConfig(width=8, input_size=64))
    pred = loc(torch.randn(4, 1, 64, 64))
    assert pred.shape == (4, 3)
    localizer_loss(pred, torch.zeros(4, 3)).backward()
    _grads_everywhere(loc)


def _tiny_frames(n: int, size: int, j: int):
    """Crops with a few bright discs (joints) and their normalised coordinates."""
    g = torch.Generator().manual_seed(3)
    target = torch.rand(n, j, 3, generator=g) * 1.4 - 0.7
    ticks = (torch.arange(size) * 2 + 1) / size - 1
    heat = gaussian_heatmaps(target[..., :2], size, 3.0).amax(1)          # (n, size, size)
    x = (1 - 2 * heat)[:, None] * (0.5 + 0.5 * target[..., 2].mean(1))[:, None, None, None]
    assert ticks.shape == (size,)
    return x, target


@pytest.mark.parametrize('variant', ['attention', 'plain'])
def test_pose_net_overfits_four_frames(variant):
    torch.manual_seed(0)
    cfg = ModelConfig(variant=variant, width=16, stacks=2, input_size=64, heatmap_size=32,
                      hourglass_depth=3, joint_set='icvl16')
    net = PoseNet(cfg)
    x, target = _tiny_frames(4, 64, cfg.num_joints)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss, _ = pose_loss(net(x), target, cfg.sigma)
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        final = float(pose_loss(net(x), target, cfg.sigma)[0])
    assert final < first / 10, (first, final)
