"""Whole-frame detection maths: frame sampling, decoding peaks back to the frame, targets that
decode to their own centres, and the detector's input/output contract."""
import numpy as np
import pytest
import torch

from hand_pose_ros.core.camera import Intrinsics, uvd_to_xyz, xyz_to_uvd
from hand_pose_ros.core.config import DetectorConfig
from hand_pose_ros.core.detection import (decode, detector_input, MIN_HAND_SEPARATION_MM,
                                          sample_frames, sampled_intrinsics, sampling_stride)
from hand_pose_ros.core.nets.detector import HandDetector, OUTPUT_MAPS
from hand_pose_ros.training.detector_targets import detector_loss, detector_targets

KINECT = Intrinsics(588.03, 587.07, 320.0, 240.0, 640, 480)
CFG = DetectorConfig(width=4)


def test_sampling_keeps_projection_consistent():
    assert sampling_stride(KINECT, 140.0) == 4
    assert sampling_stride(Intrinsics(241.4, 241.4, 160, 120, 320, 240), 140.0) == 2
    small = sampled_intrinsics(KINECT, 4)
    assert (small.width, small.height) == (160, 120)
    xyz = torch.tensor([[-80.0, 35.0, 700.0], [120.0, -60.0, 900.0]], dtype=torch.float64)
    full = xyz_to_uvd(xyz, KINECT)
    samp = xyz_to_uvd(xyz, small)
    # sampled pixel i is frame pixel 4 i + 2
    assert torch.allclose(samp[:, :2] * 4 + 2, full[:, :2], atol=1e-6)
    frame = torch.arange(480 * 640, dtype=torch.float32).view(1, 480, 640)
    sub, intr, s = sample_frames(frame, KINECT, CFG)
    assert s == 4 and intr == small and tuple(sub.shape) == (1, 120, 160)
    assert float(sub[0, 3, 5]) == float(frame[0, 4 * 3 + 2, 4 * 5 + 2])


def test_input_is_padded_to_multiples_of_16_with_missing_depth():
    depth = torch.zeros(2, 120, 150)
    depth[:, 50:60, 70:80] = 800.0
    x = detector_input(depth, CFG)
    assert tuple(x.shape) == (2, 2, 128, 160)
    assert float(x[0, 1].sum()) == 100.0                       # valid mask
    assert float(x[0, 0, 55, 75]) == pytest.approx(800.0 / 1000.0 - 1.0)
    assert float(x[0, 0, 0, 0]) == 0.0 and float(x[0, 1, 125, 155]) == 0.0


def test_detector_maps_shape_and_bad_input():
    net = HandDetector(CFG).eval()
    out = net(torch.zeros(1, 2, 128, 160))
    assert tuple(out.shape) == (1, OUTPUT_MAPS, 32, 40)
    with pytest.raises(ValueError, match='multiples of 16'):
        net(torch.zeros(1, 2, 120, 160))


def _maps_from_targets(target):
    """Raw maps whose decoding is the targets' (logits of the heat, exact regressions)."""
    heat = target['heat'].clamp(1e-4, 1 - 1e-4)
    side = torch.where(target['side'] > 0.5, 8.0, -8.0)
    return torch.cat([torch.log(heat / (1 - heat))[:, None], side[:, None], target['offset'],
                      (target['depth'])[:, None]], 1)


def test_targets_decode_to_their_own_centres_and_sides():
    small = sampled_intrinsics(KINECT, 4)
    xyz = torch.tensor([[[-150.0, -40.0, 650.0], [160.0, 10.0, 700.0]]])
    center = xyz_to_uvd(xyz, small)                                 # sampled pixels
    present = torch.tensor([[True, True]])
    left = torch.tensor([[False, True]])
    target = detector_targets(center, present, left, small, (32, 40), CFG)
    assert float(target['heat'].max()) == pytest.approx(1.0)
    found = decode(_maps_from_targets(target), CFG, 4, 0.5, 4, KINECT)[0]
    assert len(found) == 2
    got = sorted(found, key=lambda d: d.center_uvd[0])
    want = xyz_to_uvd(xyz, KINECT)[0]
    for d, w, side in zip(got, want, ('right', 'left')):
        assert np.allclose(d.center_uvd[:2], w[:2].numpy(), atol=0.05)   # frame pixels
        assert d.center_uvd[2] == pytest.approx(float(w[2]), abs=0.5)
        assert d.side == side and d.score == pytest.approx(1.0, abs=1e-3)


def test_decode_threshold_max_hands_and_separation():
    small = sampled_intrinsics(KINECT, 4)
    xyz = torch.tensor([[[-200.0, 0.0, 700.0], [200.0, 0.0, 700.0], [0.0, 0.0, 700.0]]])
    target = detector_targets(xyz_to_uvd(xyz, small), torch.ones(1, 3, dtype=torch.bool),
                              torch.zeros(1, 3, dtype=torch.bool), small, (32, 40), CFG)
    maps = _maps_from_targets(target)
    assert len(decode(maps, CFG, 4, 0.5, 4, KINECT)[0]) == 3
    assert len(decode(maps, CFG, 4, 0.5, 2, KINECT)[0]) == 2          # max_hands
    maps[:, 0] -= 12.0                                                  # all scores ~0
    assert decode(maps, CFG, 4, 0.5, 4, KINECT)[0] == []
    # two peaks closer than a palm apart are one hand
    near = torch.tensor([[[0.0, 0.0, 700.0], [0.5 * MIN_HAND_SEPARATION_MM, 0.0, 700.0]]])
    t2 = detector_targets(xyz_to_uvd(near, small), torch.ones(1, 2, dtype=torch.bool),
                          torch.zeros(1, 2, dtype=torch.bool), small, (32, 40), CFG)
    m2 = _maps_from_targets(t2)
    m2[:, 0] = -12.0
    for c in xyz_to_uvd(near, small)[0]:                               # two separate peaks
        m2[0, 0, int(round((float(c[1]) - 1.5) / 4)), int(round((float(c[0]) - 1.5) / 4))] = 5.0
    assert len(decode(m2, CFG, 4, 0.5, 4, KINECT)[0]) == 1


def test_loss_is_lowest_at_the_targets_and_penalises_false_peaks():
    small = sampled_intrinsics(KINECT, 4)
    xyz = torch.tensor([[[0.0, 0.0, 700.0], [0.0, 0.0, 700.0]]])
    present = torch.tensor([[True, False]])
    target = detector_targets(xyz_to_uvd(xyz, small), present, torch.zeros(1, 2, dtype=torch.bool),
                              small, (32, 40), CFG)
    good = _maps_from_targets(target)
    best, _ = detector_loss(good, target)
    bad = good.clone()
    bad[0, 0, 2, 3] = 6.0                                               # a false peak
    worse, _ = detector_loss(bad, target)
    shifted = good.clone()
    shifted[:, 2:4] += 0.5                                              # offsets off by half
    off, parts = detector_loss(shifted, target)
    assert float(best) < float(worse) and float(best) < float(off)
    assert float(parts['offset']) == pytest.approx(1.0, abs=1e-4)      # |0.5| + |0.5|
    empty = detector_targets(torch.zeros(1, 2, 3), torch.zeros(1, 2, dtype=torch.bool),
                             torch.zeros(1, 2, dtype=torch.bool), small, (32, 40), CFG)
    assert float(empty['heat'].max()) == 0.0
    assert bool(torch.isfinite(detector_loss(good, empty)[0]))


def test_side_weight_scales_only_the_left_right_term():
    """A wrong side costs side_weight times its cross-entropy; the other terms are unchanged."""
    small = sampled_intrinsics(KINECT, 4)
    xyz = torch.tensor([[[0.0, 0.0, 700.0], [0.0, 0.0, 700.0]]])
    target = detector_targets(xyz_to_uvd(xyz, small), torch.tensor([[True, False]]),
                              torch.tensor([[True, False]]), small, (32, 40), CFG)
    wrong = _maps_from_targets(target)
    wrong[:, 1] = -wrong[:, 1]                                          # every side flipped
    plain, parts = detector_loss(wrong, target)
    heavy, heavy_parts = detector_loss(wrong, target, side_weight=5.0)
    none, _ = detector_loss(wrong, target, side_weight=0.0)
    assert float(parts['side']) > 1.0
    assert float(heavy - plain) == pytest.approx(4.0 * float(parts['side']), rel=1e-5)
    assert float(plain - none) == pytest.approx(float(parts['side']), rel=1e-5)
    assert float(heavy_parts['side']) == pytest.approx(float(parts['side']))


def test_a_hidden_hand_is_neither_a_peak_nor_nothing():
    """A hidden hand gets no bump, its cells weigh nothing in the heat loss (a peak there costs
    nothing, as does no peak), the seen hand's cells keep theirs, and it is not counted."""
    small = sampled_intrinsics(KINECT, 4)
    xyz = torch.tensor([[[-150.0, 0.0, 700.0], [150.0, 0.0, 700.0]]])
    seen = torch.tensor([[True, False]])
    hidden = torch.tensor([[False, True]])
    side = torch.zeros(1, 2, dtype=torch.bool)
    target = detector_targets(xyz_to_uvd(xyz, small), seen, side, small, (32, 40), CFG,
                              hidden=hidden)
    plain = detector_targets(xyz_to_uvd(xyz, small), seen, side, small, (32, 40), CFG)
    assert torch.equal(target['heat'], plain['heat']) and int(target['hands']) == 1
    uvd = xyz_to_uvd(xyz, small)[0]
    cells = [(int(round((float(v) - 1.5) / 4)), int(round((float(u) - 1.5) / 4)))
             for u, v, _ in uvd.tolist()]
    assert bool(target['ignore'][0, cells[1][0], cells[1][1]])
    assert not bool(target['ignore'][0, cells[0][0], cells[0][1]])
    assert not bool(plain['ignore'].any())
    good = _maps_from_targets(target)
    base, _ = detector_loss(good, target)
    at_hidden = good.clone()
    at_hidden[0, 0, cells[1][0], cells[1][1]] = 6.0                     # a peak on it
    assert float(detector_loss(at_hidden, target)[0]) == pytest.approx(float(base))
    assert float(detector_loss(at_hidden, plain)[0]) > float(base) + 1.0  # counted when not hidden
    at_seen = good.clone()
    at_seen[0, 0, cells[0][0], cells[0][1]] = -6.0                      # the seen hand missed
    assert float(detector_loss(at_seen, target)[0]) > float(base) + 1.0


def test_decoded_centre_maps_back_to_a_3d_point_on_the_ray():
    maps = torch.full((1, OUTPUT_MAPS, 30, 40), -10.0)
    maps[0, 0, 12, 20] = 4.0
    maps[0, 2:4, 12, 20] = torch.tensor([0.25, -0.25])
    maps[0, 4, 12, 20] = -0.3                                           # 700 mm
    d = decode(maps, CFG, 4, 0.5, 1, KINECT)[0][0]
    u_s, v_s = (20 + 0.5 + 0.25) * 4 - 0.5, (12 + 0.5 - 0.25) * 4 - 0.5
    assert np.allclose(d.center_uvd, [u_s * 4 + 2, v_s * 4 + 2, 700.0], atol=1e-3)
    assert d.left_prob == pytest.approx(float(torch.sigmoid(torch.tensor(-10.0))))
    assert uvd_to_xyz(torch.from_numpy(d.center_uvd[None]).double(), KINECT)[0, 2] == \
        pytest.approx(700.0)


def test_surface_depth_takes_the_hand_not_the_wall_behind_nor_the_forearm_in_front():
    from hand_pose_ros.core.detection import (Detection, surface_depth, SURFACE_BAND_MM,
                                              SURFACE_BEHIND_MM)
    frame = np.full((480, 640), 1500.0, np.float32)                    # a wall
    frame[200:280, 280:360] = 600.0                                     # the hand, 80 px
    # the network's depth a little off (within the band: 30 mm too far)
    det = Detection(np.array([320.0, 240.0, 630.0], np.float32), 0.9, 0.2)
    got = surface_depth(frame, det, KINECT)
    assert got.center_uvd[2] == pytest.approx(600.0 + SURFACE_BEHIND_MM)
    assert got.center_uvd[0] == 320.0 and got.score == 0.9 and got.left_prob == 0.2
    # an egocentric view: the forearm, 100 mm nearer, covers most of the window; a band wide
    # enough to let it in would take its depth (the median of the window)
    frame[180:300, 260:330] = 500.0
    assert SURFACE_BAND_MM < 100.0
    assert surface_depth(frame, det, KINECT).center_uvd[2] == pytest.approx(
        600.0 + SURFACE_BEHIND_MM)
    nothing = np.zeros((480, 640), np.float32)
    assert surface_depth(nothing, det, KINECT) is det                  # no depth: unchanged
    far = Detection(np.array([320.0, 240.0, 900.0], np.float32), 0.9, 0.2)
    assert surface_depth(frame, far, KINECT) is far                    # nothing in either band


def test_surface_depth_falls_back_to_the_wide_band_when_the_narrow_one_is_empty():
    from hand_pose_ros.core.detection import (Detection, surface_depth, SURFACE_BAND_MM,
                                              SURFACE_BEHIND_MM, SURFACE_FALLBACK_BAND_MM)
    frame = np.full((480, 640), 1500.0, np.float32)                    # a wall
    frame[200:280, 280:360] = 600.0                                     # the hand
    off = (SURFACE_BAND_MM + SURFACE_FALLBACK_BAND_MM) / 2              # between the bands
    det = Detection(np.array([320.0, 240.0, 600.0 + off], np.float32), 0.9, 0.2)
    assert surface_depth(frame, det, KINECT).center_uvd[2] == pytest.approx(
        600.0 + SURFACE_BEHIND_MM)
    # the keywords of the sweep that chose the constants: no fallback, another offset
    assert surface_depth(frame, det, KINECT, fallback_band_mm=0.0) is det
    assert surface_depth(frame, det, KINECT, band_mm=200.0, behind_mm=5.0).center_uvd[2] == \
        pytest.approx(605.0)
