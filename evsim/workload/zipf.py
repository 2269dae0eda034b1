"""Bounded Zipf draws in constant memory: rejection-inversion sampling.

W. Hörmann and G. Derflinger, "Rejection-inversion to generate variates from monotone
discrete distributions", ACM TOMACS 6(3), 1996, as Apache Commons RNG's
``RejectionInversionZipfSampler`` implements it: rank ``k`` in ``1 … n`` has probability
proportional to ``k**-s`` (``s > 0``). A draw inverts the integral ``H`` of the hat
function ``h(x) = x**-s`` at a uniform point and accepts the nearest rank unless it falls
in the gap between the hat and the histogram, which happens rarely (the acceptance
probability is above 0.9 for every ``s``), so a draw costs a few vectorised operations
whatever ``n``, and no table of ``n`` entries is built.
"""

from __future__ import annotations

import numpy as np

_TAYLOR = 1e-8  # below this |x|, log1p(x)/x and expm1(x)/x are summed as series (no 0/0)


class RejectionInversionZipf:
    """Draws ranks ``1 … n`` with probability proportional to ``k**-s`` (n >= 1, s > 0)."""

    def __init__(self, n: int, s: float) -> None:
        self.n = n
        self.s = s
        self._h_x1 = float(self._big_h(1.5)) - 1.0
        self._h_n = float(self._big_h(n + 0.5))
        self._squeeze = 2.0 - float(self._big_h_inverse(self._big_h(2.5) - self._h(2.0)))

    def ranks(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` ranks (int64, 1 … n); uniforms are drawn from ``rng`` in batches."""
        out = np.empty(size, dtype=np.int64)
        filled = 0
        while filled < size:
            u = self._h_n + rng.random(size - filled) * (self._h_x1 - self._h_n)
            x = self._big_h_inverse(u)
            k = np.clip(np.floor(x + 0.5), 1.0, float(self.n))
            accept = (k - x <= self._squeeze) | (u >= self._big_h(k + 0.5) - self._h(k))
            taken = k[accept]
            out[filled : filled + taken.size] = taken
            filled += taken.size
        return out

    def _h(self, x: np.ndarray | float) -> np.ndarray:
        """The hat function ``x**-s``."""
        return np.exp(-self.s * np.log(x))

    def _big_h(self, x: np.ndarray | float) -> np.ndarray:
        """``H(x)``, the integral of the hat: ``(x**(1-s) - 1) / (1 - s)``, or ``log x``
        at ``s = 1``, computed without cancellation near ``s = 1``."""
        log_x = np.log(x)
        return _expm1_over((1.0 - self.s) * log_x) * log_x

    def _big_h_inverse(self, y: np.ndarray | float) -> np.ndarray:
        """The inverse of :meth:`_big_h`."""
        t = np.maximum(y * (1.0 - self.s), -1.0)
        return np.exp(_log1p_over(t) * y)


def _log1p_over(x: np.ndarray) -> np.ndarray:
    """``log1p(x) / x``, 1 at 0."""
    small = np.abs(x) < _TAYLOR
    safe = np.where(small, 1.0, x)
    series = 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    return np.where(small, series, np.log1p(safe) / safe)


def _expm1_over(x: np.ndarray) -> np.ndarray:
    """``expm1(x) / x``, 1 at 0."""
    small = np.abs(x) < _TAYLOR
    safe = np.where(small, 1.0, x)
    series = 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    return np.where(small, series, np.expm1(safe) / safe)
