"""Round trips of the geometry: uvd <-> xyz, crop <-> inverse, centre of mass, mirroring."""
import math

import numpy as np
import pytest
import torch

from hand_pose_ros.core.camera import Intrinsics, uvd_to_xyz, xyz_to_uvd
from hand_pose_ros.core.crop import (affine_grid, center_of_mass, crop_cube, crop_transform,
                                     inverse_2x2)
from test.conftest import blob_frame


def test_uvd_xyz_round_trip_numpy_and_torch(icvl):
    rng = np.random.default_rng(0)
    uvd = np.stack([rng.uniform(0, 320, (5, 16)), rng.uniform(0, 240, (5, 16)),
                    rng.uniform(200, 900, (5, 16))], -1)
    back = xyz_to_uvd(uvd_to_xyz(uvd, icvl.intrinsics), icvl.intrinsics)
    np.testing.assert_allclose(back, uvd, atol=1e-6)
    t = torch.as_tensor(uvd, dtype=torch.float64)
    torch.testing.assert_close(xyz_to_uvd(uvd_to_xyz(t, icvl.intrinsics), icvl.intrinsics), t)
    # the principal point at depth d is on the optical axis
    xyz = uvd_to_xyz(np.array([160.0, 120.0, 500.0]), icvl.intrinsics)
    np.testing.assert_allclose(xyz, [0, 0, 500])


def test_intrinsics_are_validated():
    with pytest.raises(ValueError, match='fx'):
        Intrinsics(0.0, 1.0, 1.0, 1.0, 10, 10)
    with pytest.raises(ValueError, match='keys'):
        Intrinsics.from_dict({'fx': 1})


@pytest.mark.parametrize('mirror', [False, True])
@pytest.mark.parametrize('rotation', [None, 0.7])
def test_crop_transform_round_trip_within_1e3_mm(icvl, mirror, rotation):
    intr = icvl.intrinsics
    center = torch.tensor([[150.0, 110.0, 380.0], [40.0, 200.0, 620.0]], dtype=torch.float64)
    rot = None if rotation is None else torch.full((2,), rotation, dtype=torch.float64)
    t = crop_transform(center, intr, 250.0, 128, rotation_rad=rot, mirror=mirror)
    uvd = center[:, None] + torch.randn(2, 16, 3, dtype=torch.float64) * 20
    n = t.to_normalized(uvd)
    back = t.from_normalized(n)
    xyz, xyz_back = uvd_to_xyz(uvd, intr), uvd_to_xyz(back, intr)
    assert (xyz - xyz_back).norm(dim=-1).max() < 1e-3
    # the centre maps to the middle of the crop; the cube faces to +-1
    c = t.to_normalized(center[:, None])[:, 0]
    torch.testing.assert_close(c, torch.zeros_like(c), atol=1e-9, rtol=0)
    edge = center.clone()
    edge[:, 2] += 125.0
    far = t.to_normalized(edge[:, None])[:, 0, 2]
    assert torch.allclose(far, torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_closed_form_grid_and_inverse_match_torch(dtype):
    torch.manual_seed(3)
    theta = torch.randn(3, 2, 3, dtype=dtype)
    want = torch.nn.functional.affine_grid(theta, [3, 1, 16, 16], align_corners=False)
    got = affine_grid(theta, 16)
    assert got.shape == want.shape == (3, 16, 16, 2)
    assert torch.allclose(got, want, atol=1e-5 if dtype == torch.float32 else 1e-12)
    # an asymmetric transform: x and y swapped or a sign lost would not match
    theta = torch.tensor([[[0.5, 0.0, 0.1], [0.0, -2.0, 0.3]]], dtype=dtype)
    g = affine_grid(theta, 4)
    assert torch.allclose(g[0, 0, 3], torch.tensor([0.5 * 0.75 + 0.1, -2.0 * -0.75 + 0.3],
                                                   dtype=dtype))
    m = torch.randn(5, 2, 2, dtype=dtype)
    assert torch.allclose(inverse_2x2(m) @ m, torch.eye(2, dtype=dtype).expand(5, 2, 2),
                          atol=1e-4 if dtype == torch.float32 else 1e-10)


def test_one_frame_serves_several_crops_as_its_copies_would(icvl):
    from hand_pose_ros.core.crop import crop_depth
    intr = icvl.intrinsics
    depth = torch.from_numpy(blob_frame((intr.height, intr.width), (120, 90), 400.0, 40))
    centers = torch.tensor([[120.0, 90.0, 400.0], [200.0, 150.0, 600.0], [120.0, 90.0, 420.0]])
    t = crop_transform(centers, icvl.intrinsics, 250.0, 32,
                       mirror=torch.tensor([False, True, True]))
    one = crop_depth(depth[None], t)
    copies = crop_depth(depth[None].expand(3, -1, -1).contiguous(), t)
    assert one.shape == (3, 1, 32, 32) and torch.equal(one, copies)
    assert not torch.equal(one[0], one[1])               # the crops differ: not one repeated
    with pytest.raises(ValueError, match='2 frames for 3 crops'):
        crop_depth(depth[None].expand(2, -1, -1), t)


def test_mirror_flips_u_only(icvl):
    center = torch.tensor([[160.0, 120.0, 400.0]])
    plain = crop_transform(center, icvl.intrinsics, 250.0, 128)
    mirrored = crop_transform(center, icvl.intrinsics, 250.0, 128, mirror=True)
    p = torch.tensor([[[180.0, 100.0, 420.0]]])
    a, b = plain.to_normalized(p), mirrored.to_normalized(p)
    torch.testing.assert_close(a[..., 0], -b[..., 0])
    torch.testing.assert_close(a[..., 1:], b[..., 1:])


@pytest.mark.parametrize('rotation', [None, 0.7])
def test_a_mirrored_crop_is_the_crop_flipped_left_to_right(icvl, rotation):
    """Training pairs a crop with its mirror image by flipping the patch (training/trainer.py):
    the same pixels as cropping mirrored, rotated or not, on an asymmetric frame."""
    rng = np.random.default_rng(3)
    frame = torch.from_numpy(rng.uniform(300.0, 600.0, (240, 320)).astype(np.float32))[None]
    center = torch.tensor([[171.3, 97.8, 450.0]])
    rot = None if rotation is None else torch.tensor([rotation])
    plain, _ = crop_cube(frame, center, icvl.intrinsics, 250.0, 64, rotation_rad=rot)
    mirrored, _ = crop_cube(frame, center, icvl.intrinsics, 250.0, 64, mirror=True,
                            rotation_rad=rot)
    torch.testing.assert_close(mirrored, plain.flip(-1))
    assert not torch.equal(mirrored, plain)


def test_crop_samples_depth_at_the_right_place(icvl):
    frame = blob_frame(center=(200, 90), depth=450.0, radius=20)
    depth = torch.from_numpy(frame)[None]
    patch, t = crop_cube(depth, torch.tensor([[200.0, 90.0, 450.0]]), icvl.intrinsics, 250.0, 64)
    assert patch.shape == (1, 1, 64, 64)
    assert patch.min() >= -1 and patch.max() <= 1
    # the blob sits in the middle at normalised depth 0; missing depth becomes +1 (far)
    assert abs(float(patch[0, 0, 32, 32])) < 1e-6
    assert float(patch[0, 0, 0, 0]) == 1.0
    # a pixel's position survives the crop: the blob's right edge at u=220 maps where expected
    pp = t.to_patch_pixels(t.to_normalized(torch.tensor([[[219.0, 90.0, 450.0]]])))
    col = int(round(float(pp[0, 0, 0])))
    assert patch[0, 0, 32, col - 1] < 1 and patch[0, 0, 32, col + 2] == 1


def test_center_of_mass_picks_the_nearest_blob_and_ignores_noise(icvl):
    frame = blob_frame(center=(100, 100), depth=700.0, radius=40)            # body, far
    hand = blob_frame(center=(230, 140), depth=420.0, radius=22)
    frame = np.where(hand > 0, hand, frame)
    frame[5:8, 5:8] = 150.0                                                   # 9-pixel speck
    frame[200:240, 0:320] = 1200.0                                            # table, far
    com = center_of_mass(frame, 100.0, 1500.0, 250.0, icvl.intrinsics)
    np.testing.assert_allclose(com, [230, 140, 420], atol=0.6)


def test_center_of_mass_keeps_the_hand_not_the_attached_arm(icvl):
    frame = blob_frame(center=(160, 100), depth=400.0, radius=22)
    frame[100:240, 150:170] = np.linspace(420, 900, 140, dtype=np.float32)[:, None]  # arm
    com = center_of_mass(frame, 100.0, 1500.0, 250.0, icvl.intrinsics)
    assert abs(com[0] - 160) < 2 and com[1] < 125 and com[2] < 480


def test_center_of_mass_none_when_nothing_in_range():
    assert center_of_mass(np.zeros((40, 50), np.float32), 100.0, 1000.0) is None
    assert center_of_mass(np.full((40, 50), 3000.0, np.float32), 100.0, 1000.0) is None


def test_scaled_intrinsics_keep_rays(icvl):
    half = icvl.intrinsics.scaled(0.5)
    assert (half.width, half.height) == (160, 120)
    # the ray through the centre of pixel (10, 20) at full size hits pixel (4.75, 9.75) at half
    xyz = uvd_to_xyz(np.array([10.0, 20.0, 500.0]), icvl.intrinsics)
    np.testing.assert_allclose(xyz_to_uvd(xyz, half)[:2], [4.75, 9.75], atol=1e-9)
    assert math.isclose(icvl.intrinsics.mirrored().cx, 319 - 160)
