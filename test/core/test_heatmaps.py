"""Heatmap encode -> decode is exact to sub-pixel precision; confidence is the peak."""
import torch

from hand_pose_ros.core.heatmaps import decode_heatmaps, gaussian_heatmaps, norm_to_heatmap_px


def test_encode_decode_within_a_tenth_of_a_pixel():
    g = torch.Generator().manual_seed(0)
    uv = torch.rand(8, 16, 2, generator=g, dtype=torch.float64) * 1.8 - 0.9
    for sigma in (1.0, 2.0, 3.0):
        heat = gaussian_heatmaps(uv, 64, sigma)
        assert heat.shape == (8, 16, 64, 64)
        dec, conf = decode_heatmaps(heat)
        err_px = (norm_to_heatmap_px(dec.double(), 64) - norm_to_heatmap_px(uv, 64)).norm(dim=-1)
        assert err_px.max() < 0.1, (sigma, err_px.max())
        assert conf.min() > 0.85 and conf.max() <= 1.0


def test_confidence_is_low_for_a_flat_map():
    dec, conf = decode_heatmaps(torch.zeros(1, 3, 16, 16))
    assert conf.max() == 0
    assert dec.abs().max() <= 1


def test_edge_peaks_decode_inside_the_map():
    uv = torch.tensor([[[-0.999, 0.999]]])
    dec, _ = decode_heatmaps(gaussian_heatmaps(uv, 32, 1.5))
    assert dec.abs().max() <= 1.0
