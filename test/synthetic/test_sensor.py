"""Sensor model: noise growing with depth, missing edges, quantisation, zeros for nothing."""
import torch

from hand_pose_ros.core.camera import Intrinsics
from hand_pose_ros.synthetic.sensor import apply_sensor, SensorConfig

INTR = Intrinsics(100.0, 100.0, 39.5, 29.5, 80, 60)


def _sensor(zbuf, cfg=SensorConfig(), seed=0):
    n = zbuf.shape[0]
    return apply_sensor(zbuf, INTR, torch.full((n, 1), 0.5), torch.Generator().manual_seed(seed),
                        cfg)


def test_noise_std_grows_with_distance():
    distances = (400.0, 800.0, 1600.0)
    zbuf = torch.stack([torch.full((60, 80), d) for d in distances])
    depth = _sensor(zbuf, SensorConfig(dropout_prob=0.0))
    stds = [float((depth[k][depth[k] > 0] - d).std()) for k, d in enumerate(distances)]
    assert stds[0] < stds[1] < stds[2]
    assert stds[2] > 3.0 * stds[1] > 9.0 * stds[0] * 0.5       # roughly the z^2 law


def test_quantised_to_millimetres_and_empty_is_zero():
    zbuf = torch.full((1, 60, 80), float('inf'))
    zbuf[:, 20:40, 30:50] = 523.4
    depth = _sensor(zbuf)
    assert depth.dtype == torch.float32
    assert torch.equal(depth, depth.round())
    assert float(depth[0, :10].abs().max()) == 0.0
    assert 0 < int((depth[0] > 0).sum()) <= 400


def test_pixels_go_missing_at_silhouette_edges_not_inside():
    zbuf = torch.full((8, 60, 80), 900.0)
    zbuf[:, :, 40:] = 500.0                                      # a step of 400 mm
    depth = _sensor(zbuf, SensorConfig(dropout_prob=0.0))
    edge = depth[:, 1:-1, 39:41]
    inside = depth[:, 1:-1, 5:30]
    assert 0.3 < float((edge == 0).float().mean()) < 0.7
    assert float((inside == 0).float().mean()) == 0.0


def test_grazing_surfaces_go_missing():
    u = torch.arange(80, dtype=torch.float32)
    frontal = torch.full((60, 80), 600.0)
    grazing = 600.0 + 60.0 * (u - 40)                            # ~84 deg from the ray
    depth = _sensor(torch.stack([frontal, grazing.expand(60, 80)]),
                    SensorConfig(dropout_prob=0.0, edge_jump_mm=100.0))
    assert float((depth[0] == 0).float().mean()) == 0.0
    assert float((depth[1, :, 35:45] == 0).float().mean()) > 0.9


def test_same_seed_same_noise():
    zbuf = torch.full((2, 60, 80), 700.0)
    assert torch.equal(_sensor(zbuf, seed=3), _sensor(zbuf, seed=3))
    assert not torch.equal(_sensor(zbuf, seed=3), _sensor(zbuf, seed=4))
