"""Ray casting and rendering: exact round cones, compositing, a hand where its joints are."""
import math

import pytest
import torch

from hand_pose_ros.core.camera import xyz_to_uvd
from hand_pose_ros.core.skeleton import FROM_HAND22
from hand_pose_ros.core.specs import dataset_spec
from hand_pose_ros.synthetic import SensorConfig, SyntheticGenerator
from hand_pose_ros.synthetic.hand_model import default_skeleton, forward_kinematics
from hand_pose_ros.synthetic.measure import ICVL_GT, load_icvl_xyz, reference_dir
from hand_pose_ros.synthetic.poses import animated_angles
from hand_pose_ros.synthetic.raster import composite_scatter, composite_slices
from hand_pose_ros.synthetic.raycast import ellipsoid_depth, round_cone_depth
from hand_pose_ros.synthetic.renderer import HandShape

STUB = HandShape(forearm_length_mm=(1.0, 1.0))      # no forearm beyond the wrist
QUIET = SensorConfig(noise_mm_at_1m=(0.0, 0.0), noise_floor_mm=0.0, edge_drop_prob=0.0,
                     grazing_cos=(0.0, 1e-6), dropout_prob=0.0)


def _spheres_depth(x, y, a, b, ra, rb, steps=301):
    """Brute force: the nearest hit over many spheres along the segment (float64)."""
    best = torch.full(torch.broadcast_shapes(x.shape, y.shape), math.inf, dtype=torch.float64)
    dd = x * x + y * y + 1
    for s in torch.linspace(0, 1, steps, dtype=torch.float64):
        c, r = a + s * (b - a), ra + s * (rb - ra)
        beta = x * c[0] + y * c[1] + c[2]
        g = beta * beta - dd * ((c * c).sum() - r * r)
        best = torch.minimum(best, torch.where(g >= 0, (beta - g.clamp_min(0).sqrt()) / dd,
                                               torch.tensor(math.inf, dtype=torch.float64)))
    return best


@pytest.mark.parametrize('seed', range(4))
def test_round_cone_matches_a_union_of_spheres(seed):
    g = torch.Generator().manual_seed(seed)
    centre = torch.tensor([0, 0, 400.0], dtype=torch.float64)
    a = torch.randn(3, generator=g, dtype=torch.float64) * 20 + centre
    b = a + torch.randn(3, generator=g, dtype=torch.float64) * 40
    ra, rb = torch.tensor(12.0, dtype=torch.float64), torch.tensor(6.0, dtype=torch.float64)
    mid = (a + b) / 2                                      # a 32 x 32 grid around the cone
    x = torch.linspace(-0.12, 0.12, 32, dtype=torch.float64)[None] + mid[0] / mid[2]
    y = torch.linspace(-0.12, 0.12, 32, dtype=torch.float64)[:, None] + mid[1] / mid[2]
    ours, ref = round_cone_depth(x, y, a, b, ra, rb), _spheres_depth(x, y, a, b, ra, rb)
    assert bool((torch.isfinite(ours) == torch.isfinite(ref)).all())
    hit = torch.isfinite(ref)
    assert int(hit.sum()) > 20
    assert float((ours[hit] - ref[hit]).abs().max()) < 0.05


def test_ellipsoid_depth_of_a_sphere():
    x, y = torch.zeros(1, 1), torch.zeros(1, 1)
    z = ellipsoid_depth(x, y, torch.tensor([0.0, 0.0, 500.0]), torch.tensor([50.0, 50.0, 50.0]))
    assert float(z) == pytest.approx(450.0)


def test_slice_and_scatter_compositing_agree():
    g = torch.Generator().manual_seed(0)
    zbuf = torch.rand(3, 20, 30, generator=g) * 100
    win = torch.rand(2, 5, 7, generator=g) * 100
    idx, v0, u0 = torch.tensor([2, 0]), torch.tensor([3, 15]), torch.tensor([0, 23])
    a, b = zbuf.clone(), zbuf.clone()
    composite_slices(a, win, idx, v0, u0)
    composite_scatter(b, win, idx, v0, u0)
    torch.testing.assert_close(a, b)
    assert bool((a <= zbuf).all()) and not torch.equal(a, zbuf)


def _front_facing_hand(intr, palm_mm=(0.0, 0.0, 400.0)):
    """An open hand, palm towards the camera, fingers up (ICVL16, (1, 16, 3) mm)."""
    local = forward_kinematics(animated_angles(0.0), default_skeleton())
    rot = torch.tensor([[[-1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0]]])
    hand22 = local @ rot.transpose(1, 2) - (rot @ local[:, 1, :, None])[..., 0] + torch.tensor(
        palm_mm)
    return hand22[:, list(FROM_HAND22['icvl16'])]


def _check_palm_and_background(depth, xyz16, intr):
    uvd = xyz_to_uvd(xyz16, intr)
    half = HandShape().palm_half_thickness_mm
    for k in range(len(xyz16)):
        u, v, d = (int(round(float(t))) for t in uvd[k, 0])
        patch = depth[k, v - 1:v + 2, u - 1:u + 2]
        got = float(patch[patch > 0].median())
        assert d - 1.6 * half <= got <= d + 2.0, (k, got, d)
        # Far from every joint (150 mm in the image; forearm stub shortened): nothing.
        vv, uu = torch.meshgrid(torch.arange(intr.height), torch.arange(intr.width),
                                indexing='ij')
        dist = ((uu[..., None] - uvd[k, :, 0]) ** 2 + (vv[..., None] - uvd[k, :, 1]) ** 2)
        far = dist.amin(-1).sqrt() > 150.0 * intr.fx / float(uvd[k, 0, 2])
        assert float(depth[k][far].abs().max()) == 0.0


def test_render_given_pose_palm_depth_and_empty_background():
    intr = dataset_spec('icvl').intrinsics
    gen = SyntheticGenerator(intr, background=False, sensor=QUIET, shape=STUB)
    xyz16 = _front_facing_hand(intr)
    depth = gen.render_joints(xyz16, seed=0)
    assert depth.shape == (1, intr.height, intr.width) and depth.dtype == torch.float32
    _check_palm_and_background(depth, xyz16, intr)
    # With the default forearm, the arm continues below the wrist (fingers point up).
    arm = SyntheticGenerator(intr, background=False, sensor=QUIET).render_joints(xyz16, seed=0)
    uvd = xyz_to_uvd(xyz16, intr)[0, 0]
    below = arm[0, int(uvd[1]) + int(130.0 * intr.fy / float(uvd[2])),
                int(uvd[0]) - 10:int(uvd[0]) + 10]
    assert float((below > 0).float().mean()) > 0.5
    # Noise-free and clean: the palm centre sees the palm face, half a slab in front.
    uvd = xyz_to_uvd(xyz16, intr)[0, 0]
    got = float(depth[0, int(round(float(uvd[1]))), int(round(float(uvd[0])))])
    assert got == pytest.approx(float(uvd[2]) - HandShape().palm_half_thickness_mm, abs=1.5)


@pytest.mark.reference
def test_render_icvl_ground_truth_palm_depth():
    ref = reference_dir()
    if ref is None:
        pytest.skip('ICVL reference ground truth not found (../shared/reference/hand-pose-eval '
                    'or $HAND_POSE_REFERENCE_DIR)')
    intr = dataset_spec('icvl').intrinsics
    xyz16 = torch.from_numpy(load_icvl_xyz(ref / ICVL_GT)[::400]).float()
    depth = SyntheticGenerator(intr, background=False, shape=STUB).render_joints(xyz16, seed=1)
    _check_palm_and_background(depth, xyz16, intr)
