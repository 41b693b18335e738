"""Sensor model: noise growing with depth, missing edges, quantisation, zeros for nothing."""
import pytest
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


# -- per-camera effects (config/cameras.yaml) ------------------------------------------------

def _box_before_wall(near=500.0, far=1000.0):
    """A clean z-buffer: a wall at ``far`` with a box at ``near`` over columns 30..49."""
    zbuf = torch.full((1, 60, 80), far)
    zbuf[:, 10:50, 30:50] = near
    return zbuf


def test_projector_shadow_falls_beside_the_object_away_from_the_projector():
    from hand_pose_ros.synthetic.sensor import projector_shadow
    zbuf = _box_before_wall()
    width = INTR.fx * 50.0 * (1 / 500.0 - 1 / 1000.0)         # f b (1/z_near - 1/z_far) = 5 px
    for baseline, side in ((50.0, 'left'), (-50.0, 'right')):
        shadow = projector_shadow(zbuf, INTR, baseline)[0]
        cols = shadow[30].nonzero()[:, 0].tolist()
        assert cols, f'no shadow for baseline {baseline}'
        assert len(cols) == pytest.approx(width, abs=1)
        if side == 'left':
            assert max(cols) == 29                              # just left of the box
        else:
            assert min(cols) == 50                              # just right of the box
        assert not shadow[:10].any() and not shadow[50:].any()  # only beside the box
    assert not projector_shadow(zbuf, INTR, 0.0).any()
    flat = torch.full((1, 60, 80), 800.0)
    assert not projector_shadow(flat, INTR, 75.0).any()         # a wall is never its own shadow


def test_disparity_quantisation_gives_steps_growing_with_depth():
    cfg = SensorConfig(noise_mm_at_1m=(0.0, 0.0), noise_floor_mm=0.0, dropout_prob=0.0,
                       shadow_baseline_mm=75.0, disparity_step_px=0.125)
    zbuf = torch.linspace(600.0, 3000.0, 60 * 80).view(1, 60, 80)   # 0.5 mm apart
    depth = _sensor(zbuf, cfg)[0, 1:-1, 1:-1]
    levels = torch.unique(depth[depth > 0])
    steps = levels[1:] - levels[:-1]
    fb = INTR.fx * 75.0
    near_step = float(steps[0])
    far_step = float(steps[-1])
    assert near_step == pytest.approx(600.0 ** 2 * 0.125 / fb, rel=0.2)
    assert far_step == pytest.approx(3000.0 ** 2 * 0.125 / fb, rel=0.2)
    assert far_step > 10 * near_step                             # z^2 growth over 600..3000 mm


def test_flying_pixels_lie_between_the_two_surfaces():
    cfg = SensorConfig(noise_mm_at_1m=(0.0, 0.0), noise_floor_mm=0.0, dropout_prob=0.0,
                       edge_drop_prob=1.0, flying_pixel_prob=1.0)
    depth = _sensor(_box_before_wall(), cfg)[0]
    edge = depth[20:40, [29, 30, 49, 50]]
    assert bool((edge > 0).all())                                # mixed, not missing
    assert bool(((edge >= 500.0) & (edge <= 1000.0)).all())
    assert bool((edge > 501.0).any() and (edge < 999.0).any())
    without = _sensor(_box_before_wall(), SensorConfig(edge_drop_prob=1.0, dropout_prob=0.0))[0]
    assert bool((without[20:40, [30, 49]] == 0).all())           # the default: edges go missing


def test_every_camera_preset_has_a_valid_sensor_model():
    from hand_pose_ros.core.specs import camera_names, camera_spec
    from hand_pose_ros.synthetic.sensor import camera_sensor
    for name in camera_names():
        cfg = camera_sensor(camera_spec(name).sensor)
        assert cfg.range_mm[0] < cfg.range_mm[1]
    with pytest.raises(ValueError, match='unknown keys'):
        camera_sensor({'noise_at_1m': 2.0})
