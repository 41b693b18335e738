"""Every network variant: output shapes, no NaN, gradients reach every parameter; each one
learns (beats the best constant predictor on the frames it was trained on)."""
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
    # what the mask does in a trained network (near 1 on the hand, near 0 elsewhere) is
    # test/training/test_attention_stats.py; its range per normalisation is below


def _untrained_mask(**mask) -> torch.Tensor:
    """The attention mask of a small untrained network (seed 0) on 4 random crops."""
    torch.manual_seed(0)
    net = PoseNet(ModelConfig(width=16, stacks=1, input_size=64, heatmap_size=32,
                              hourglass_depth=3, **mask)).eval()
    with torch.inference_mode():
        return net(torch.randn(4, 1, 64, 64)).attention


@pytest.mark.parametrize('mask_name', [None, 'channel_minmax', 'heatmap_minmax'])
def test_attention_mask_can_switch_off_the_background(mask_name):
    mask = _untrained_mask() if mask_name is None else \
        _untrained_mask(attention_mask=mask_name)                          # None: the default
    # a mask spanning [0, 1] goes well below one half somewhere
    assert mask.min() < 0.25, float(mask.min())


def test_legacy_sigmoid_mask_never_goes_below_half():
    # why it is no longer the default (issue #13): sigmoid of post-ReLU features is >= 0.5, so
    # it can at most halve a feature and never switches the background off
    mask = _untrained_mask(attention_mask='sigmoid')
    assert mask.min() >= 0.5 and mask.max() < 1.0


@pytest.mark.parametrize('mask_name', ['channel_minmax', 'heatmap_minmax'])
def test_normalised_masks_span_zero_to_one_per_sample(mask_name):
    torch.manual_seed(1)
    cfg = ModelConfig(width=16, stacks=2, input_size=64, heatmap_size=32, hourglass_depth=3,
                      attention_mask=mask_name)
    net = PoseNet(cfg).eval()
    with torch.inference_mode():
        mask = net(torch.randn(3, 1, 64, 64)).attention
    channels = 16 if mask_name == 'channel_minmax' else 1
    assert mask.shape == (3, channels, 32, 32)
    flat = mask.flatten(2)
    assert torch.allclose(flat.amin(-1), torch.zeros(3, channels), atol=1e-6)
    # every map reaches 1 somewhere, but one that is constant over the image (a channel the
    # last ReLU zeroes everywhere) carries no "where": its mask is 0
    top = flat.amax(-1)
    varying = top > 0
    assert varying.float().mean() > 0.5
    assert torch.allclose(top[varying], torch.ones_like(top[varying]), atol=1e-4)
    with pytest.raises(ValueError, match='attention_mask must be one of'):
        ModelConfig(attention_mask='softmax')


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
    """Crops with a bright disc per joint and their normalised (u, v, d) targets.

    The discs give the (u, v) of every joint; the joints' identities and their depths differ
    from frame to frame, so the net can only fit them by learning these very frames."""
    g = torch.Generator().manual_seed(3)
    target = torch.rand(n, j, 3, generator=g) * 1.4 - 0.7
    heat = gaussian_heatmaps(target[..., :2], size, 3.0).amax(1)          # (n, size, size)
    x = (1 - 2 * heat)[:, None] * (0.5 + 0.5 * target[..., 2].mean(1))[:, None, None, None]
    return x, target


def _mean_errors(pred: torch.Tensor, target: torch.Tensor):
    """Mean (u, v) distance and mean |d| error of (B, J, 3) normalised joints."""
    return (float((pred[..., :2] - target[..., :2]).norm(dim=-1).mean()),
            float((pred[..., 2] - target[..., 2]).abs().mean()))


@pytest.mark.slow
@pytest.mark.parametrize('variant', VARIANTS)
def test_pose_net_fits_four_frames_better_than_any_constant(variant):
    """Every variant learns its four training frames: the decoded joints (heatmap arg-max +
    depth branch, as at inference) beat the best constant predictor (the per-joint mean of the
    targets) by far, in (u, v) and in depth separately. An all-zero, constant or
    input-independent output, a depth branch that does not learn, or heatmaps decoded from an
    untrained stack cannot do better than that constant."""
    torch.manual_seed(0)
    cfg = ModelConfig(variant=variant, width=16, stacks=2, input_size=32, heatmap_size=16,
                      hourglass_depth=2, joint_set='icvl16')
    net = PoseNet(cfg)
    x, target = _tiny_frames(4, 32, cfg.num_joints)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(150):
        loss, _ = pose_loss(net(x), target, cfg.sigma)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        pred, _ = PoseNet.joints(net(x))
    uv_err, d_err = _mean_errors(pred, target)
    uv_const, d_const = _mean_errors(target.mean(0, keepdim=True).expand_as(target), target)
    # measured (seed 0, 150 steps): (u, v) 0.06-0.07 and depth 0.01-0.04 for every variant,
    # against 0.44 and 0.33 for the constant. Broken nets trained the same way: all-zero
    # output (u, v) 1.35 (plain 0.55); a depth branch blind to the input, depth 0.33; a net
    # fed a blank input, (u, v) 0.47.
    assert uv_err < 0.35 * uv_const, (uv_err, uv_const)
    assert d_err < 0.35 * d_const, (d_err, d_const)


def test_wrong_side_crops_are_taught_flat_heatmaps_and_no_depth():
    """A crop of the other side: its exact own-side answer costs what its heatmaps weigh,
    flat heatmaps cost nothing whatever the depth; the own-side crop beside it keeps its loss."""
    from hand_pose_ros.core.nets.pose_net import PoseOutput
    torch.manual_seed(0)
    target = torch.rand(2, 4, 3) * 1.6 - 0.8
    maps = gaussian_heatmaps(target[..., :2], 16, 1.5)[:, None].repeat(1, 2, 1, 1, 1)
    exact = PoseOutput(maps, target[..., 2].clone(), None, None)
    wrong = torch.tensor([False, True])
    loss0, _ = pose_loss(exact, target, 1.5, depth_weight=10.0)
    loss1, parts1 = pose_loss(exact, target, 1.5, depth_weight=10.0, wrong_side=wrong)
    assert float(loss0) == pytest.approx(0.0, abs=1e-6)
    assert float(parts1['heatmap']) == pytest.approx(float((maps[1] ** 2).sum()) / 2, rel=1e-5)
    flat = maps.clone()
    flat[1] = 0.0
    off_depth = target[..., 2].clone()
    off_depth[1] += 0.5                                   # no depth term for the wrong side
    loss2, _ = pose_loss(PoseOutput(flat, off_depth, None, None), target, 1.5,
                         depth_weight=10.0, wrong_side=wrong)
    assert float(loss2) == pytest.approx(0.0, abs=1e-6) and float(loss1) > 1.0
    off_depth[0] += 0.5                                   # the own side keeps its depth term
    loss3, _ = pose_loss(PoseOutput(flat, off_depth, None, None), target, 1.5,
                         depth_weight=10.0, wrong_side=wrong)
    assert float(loss3) == pytest.approx(10.0 * 4 * 0.25 / 2, rel=1e-5)


def test_side_pairs_ask_the_own_side_to_read_more_confidently_by_the_margin():
    """The pair hinge: zero when the own-side crop's mean peak beats its mirror image's by the
    margin, margin minus the gap otherwise (peaks clamped to 1, mean over pairs), and its
    gradient raises the own side's peaks and lowers the mirrored one's."""
    from hand_pose_ros.core.nets.pose_net import PoseOutput
    from hand_pose_ros.training.losses import side_pair_loss
    maps = torch.zeros(4, 2, 3, 8, 8)
    maps[0, -1, :, 2, 2] = 0.9          # own 0.9 vs mirrored 0.5: gap 0.4 > 0.3, no loss
    maps[1, -1, :, 5, 5] = 0.5
    maps[2, -1, :, 1, 6] = torch.tensor([0.6, 0.6, 1.5])   # own mean (0.6+0.6+1)/3
    maps[3, -1, :, 3, 3] = 0.7          # mirrored reads better: gap negative
    maps[:, 0] = 5.0                    # the first stack does not count
    pairs = torch.tensor([[0, 1], [2, 3]])
    want = (0.0 + (0.3 - ((0.6 + 0.6 + 1.0) / 3 - 0.7))) / 2
    assert float(side_pair_loss(maps, pairs, 0.3)) == pytest.approx(want, rel=1e-5)
    assert float(side_pair_loss(maps, pairs[:1], 0.3)) == 0.0
    assert float(side_pair_loss(maps, torch.zeros(0, 2, dtype=torch.long), 0.3)) == 0.0
    leaf = maps.clone().requires_grad_(True)
    side_pair_loss(leaf, pairs, 0.3).backward()
    assert float(leaf.grad[2, -1, 0, 1, 6]) < 0 < float(leaf.grad[3, -1, 0, 3, 3])
    assert float(leaf.grad[2, -1, 2, 1, 6]) == 0.0          # clamped above 1
    assert float(leaf.grad[0].abs().sum()) == 0.0           # a pair past the margin
    # pose_loss adds it with its weight, heatmap networks only
    target = torch.zeros(4, 3, 3)
    out = PoseOutput(maps, torch.zeros(4, 3), None, None)
    base, parts0 = pose_loss(out, target, 1.5)
    total, parts = pose_loss(out, target, 1.5, side_pairs=pairs, pair_weight=10.0)
    assert 'side_pair' not in parts0
    assert float(parts['side_pair']) == pytest.approx(want, rel=1e-5)
    assert float(total) == pytest.approx(float(base) + 10.0 * want, rel=1e-6)
