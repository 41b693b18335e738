"""One-Euro: a constant passes unchanged, noise is reduced, a step is followed, gaps reset."""
import numpy as np
import pytest

from hand_pose_ros.core.filters import OneEuroFilter


def test_constant_passes_unchanged():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.01)
    x = np.full((16, 3), 123.4)
    for i in range(50):
        np.testing.assert_allclose(f(i / 30, x), x)


def test_noise_is_reduced():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    noisy = 400 + rng.normal(0, 5, (300, 16, 3))
    out = np.stack([f(i / 30, x) for i, x in enumerate(noisy)])
    assert out[50:].std() < noisy[50:].std() / 3


def test_step_is_followed():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    for i in range(30):
        f(i / 30, np.zeros(3))
    out = [f((30 + i) / 30, np.full(3, 100.0)) for i in range(60)]
    assert out[-1][0] > 99 and out[0][0] < 100


def test_gap_resets_and_time_drives_it():
    f = OneEuroFilter(reset_after_s=0.5)
    f(0.0, np.zeros(3))
    f(0.03, np.zeros(3))
    np.testing.assert_allclose(f(2.0, np.full(3, 7.0)), 7.0)       # after a gap: raw value
    np.testing.assert_allclose(f(1.0, np.full(3, 9.0)), 9.0)       # time went backwards: reset


def test_invalid_parameters():
    with pytest.raises(ValueError, match='min_cutoff'):
        OneEuroFilter(min_cutoff=0)
