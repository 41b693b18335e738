"""One-Euro filter (Casiez et al., CHI 2012) over joint positions, driven by time stamps.

Smooths jitter at low speed and follows fast motion (the cut-off rises with speed), which is
what a teleoperation user needs. Time comes from message stamps, not frame counts, and the
filter restarts after a gap (hand lost, frames dropped).
"""
import math
from typing import Optional

import numpy as np


def _alpha(cutoff_hz: float, dt_s: float) -> float:
    """Exponential smoothing factor of a first-order low-pass at ``cutoff_hz``."""
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """Adaptive low-pass over arrays of any shape (e.g. (J, 3) millimetres)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0,
                 reset_after_s: float = 0.5) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0 or reset_after_s <= 0:
            raise ValueError('OneEuroFilter needs min_cutoff > 0, d_cutoff > 0, beta >= 0, '
                             f'reset_after_s > 0; found {min_cutoff}, {d_cutoff}, {beta}, '
                             f'{reset_after_s}')
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset_after_s = reset_after_s
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample passes unchanged."""
        self._t: Optional[float] = None
        self._x: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None

    def __call__(self, t_s: float, x: np.ndarray) -> np.ndarray:
        """Filtered value of sample ``x`` taken at time ``t_s`` (seconds)."""
        x = np.asarray(x, dtype=np.float64)
        if (self._t is None or self._x is None or self._x.shape != x.shape
                or not 0 < t_s - self._t <= self.reset_after_s):
            self._t, self._x, self._dx = t_s, x.copy(), np.zeros_like(x)
            return x.copy()
        dt = t_s - self._t
        dx = (x - self._x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        tau = 1.0 / (2 * np.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        self._x = a * x + (1 - a) * self._x
        self._t = t_s
        return self._x.copy()
