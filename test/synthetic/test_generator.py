"""SyntheticGenerator: batches and labels, seeding, the hand as the nearest object, animation."""
import numpy as np
import pytest
import torch

from hand_pose_ros.core.camera import xyz_to_uvd
from hand_pose_ros.core.crop import center_of_mass
from hand_pose_ros.core.skeleton import FROM_HAND22
from hand_pose_ros.core.specs import camera_spec, dataset_spec
from hand_pose_ros.synthetic import SyntheticGenerator

SMALL = dataset_spec('icvl').intrinsics.scaled(0.5)               # 160 x 120


@pytest.mark.parametrize('joint_set, joints', [('icvl16', 16), ('nyu14', 14), ('msra21', 21)])
def test_sample_shapes_and_consistent_labels(joint_set, joints):
    gen = SyntheticGenerator(SMALL, joint_set=joint_set, seed=1)
    b = gen.sample(3)
    assert b.depth_mm.shape == (3, SMALL.height, SMALL.width)
    assert b.depth_mm.dtype == torch.float32 and float(b.depth_mm.min()) >= 0
    assert b.xyz.shape == b.uvd.shape == (3, joints, 3) and b.hand22_xyz.shape == (3, 22, 3)
    torch.testing.assert_close(b.xyz, b.hand22_xyz[:, list(FROM_HAND22[joint_set])])
    torch.testing.assert_close(b.uvd, xyz_to_uvd(b.xyz, SMALL))
    inside = ((b.uvd[..., 0] >= 0) & (b.uvd[..., 0] <= SMALL.width - 1)
              & (b.uvd[..., 1] >= 0) & (b.uvd[..., 1] <= SMALL.height - 1))
    assert bool(inside.all())                                  # every joint in the image
    assert 200.0 < float(b.hand22_xyz[:, 1, 2].min()) and float(b.hand22_xyz[:, 1, 2].max()) < 650


def test_same_seed_same_frames_and_reseed():
    a, b = SyntheticGenerator(SMALL, seed=5), SyntheticGenerator(SMALL, seed=5)
    first = a.sample(2)
    assert torch.equal(first.depth_mm, b.sample(2).depth_mm)
    assert not torch.equal(first.depth_mm, a.sample(2).depth_mm)    # the stream moves on
    a.reseed(5)
    assert torch.equal(first.depth_mm, a.sample(2).depth_mm)
    assert not torch.equal(first.depth_mm, SyntheticGenerator(SMALL, seed=6).sample(2).depth_mm)


def test_render_joints_seeded_and_same_path_as_sample():
    gen = SyntheticGenerator(SMALL, seed=2)
    hand22 = gen.sample_hand22(2)
    xyz16 = hand22[:, list(FROM_HAND22['icvl16'])]
    one = gen.render_joints(xyz16, seed=11)
    assert torch.equal(one, gen.render_joints(xyz16, seed=11))
    # sample() is sample_hand22() then the same ICVL16 rendering path.
    gen.reseed(3)
    b = gen.sample(2)
    gen.reseed(3)
    hand22 = gen.sample_hand22(2)
    torch.testing.assert_close(hand22, b.hand22_xyz)
    assert torch.equal(gen.render_joints(hand22[:, list(FROM_HAND22['icvl16'])]), b.depth_mm)


@pytest.mark.parametrize('bad', [torch.zeros(2, 15, 3), torch.zeros(16, 3),
                                 torch.full((1, 16, 3), -5.0)])
def test_render_joints_rejects_bad_input(bad):
    with pytest.raises(ValueError, match='xyz_icvl16'):
        SyntheticGenerator(SMALL).render_joints(bad)


def test_hand_is_the_nearest_object_with_distractors():
    intr = dataset_spec('icvl').intrinsics
    gen = SyntheticGenerator(intr, seed=4, background=True)
    b = gen.sample(24)
    found = 0
    for depth, xyz in zip(b.depth_mm.numpy(), b.hand22_xyz.numpy()):
        com = center_of_mass(depth, 100.0, 1500.0, 250.0, intr)
        if com is None:
            continue
        from hand_pose_ros.core.camera import uvd_to_xyz
        centre = uvd_to_xyz(com.astype(np.float64), intr)
        found += np.linalg.norm(xyz - centre, axis=-1).min() < 80.0   # near some hand joint
    assert found >= 20                                                  # ~5% near distractors


def test_animate_is_smooth_and_in_front_of_the_camera():
    intr = camera_spec('realsense_d435_640x480').intrinsics
    gen = SyntheticGenerator(intr, seed=0)
    d0, j0 = gen.animate(1.0)
    d1, j1 = gen.animate(1.0 + 1.0 / 30.0)
    assert d0.shape == (480, 640) and d0.dtype == np.float32 and j0.shape == (16, 3)
    assert j0.dtype == np.float32
    assert float(np.abs(j1 - j0).max()) < 15.0                         # mm per 1/30 s
    assert 380.0 < float(j0[0, 2]) < 520.0
    d2, j2 = gen.animate(2.0)                                          # half a cycle later
    assert float(np.abs(j2 - j0).max()) > 20.0
    assert (d0 > 0).sum() > 5000
    again, _ = gen.animate(1.0)
    assert np.array_equal(again, d0)
