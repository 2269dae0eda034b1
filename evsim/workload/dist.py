"""Probability distributions of durations (seconds): service times, latencies, delays.

Every distribution here yields non-negative values in seconds and knows its exact
``mean`` (seconds) and ``variance`` (seconds squared), which :mod:`evsim.analysis.theory` uses.
Draw one value with ``sample(rng)``, many with ``draw(rng, n)``, and, in the simulator's hot
path, call the function returned by ``sampler(rng)`` once per event: it hands out values
from blocks drawn with one NumPy call each, so a value costs a C-level ``next`` rather than
a NumPy call.

Each distribution round-trips through a plain mapping for scenario files:
``Exponential(mean=0.02).spec() == {"exponential": {"mean": 0.02}}`` and
``from_spec({"exponential": {"mean": 0.02}}) == Exponential(mean=0.02)``.
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping
from numbers import Real
from typing import Any

import numpy as np

from evsim._check import integer, non_negative, positive
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.rng import check_generator
from evsim.workload.specs import (
    BLOCK,
    Specified,
    blocks,
    build_from_spec,
    non_negative_array,
    short_list,
)


class Distribution(Specified):
    """A distribution of non-negative durations in seconds.

    ``mean`` is in seconds, ``variance`` in seconds squared. Subclasses implement
    ``mean``, ``variance``, ``sample`` and ``_draw``; ``sampler`` is shared.
    """

    @property
    @abstractmethod
    def mean(self) -> float:
        """The expected value, in seconds."""

    @property
    @abstractmethod
    def variance(self) -> float:
        """The variance, in seconds squared."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> float:
        """One value, in seconds."""

    @abstractmethod
    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` values as a float64 array (arguments already checked)."""

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` values in seconds, as a float64 array, drawn with one vectorised call."""
        return self._draw(check_generator("rng", rng), integer("n", n, minimum=0))

    def sampler(self, rng: np.random.Generator, block: int = BLOCK) -> Callable[[], float]:
        """A zero-argument function returning one value (seconds) per call: the fast path.

        Values come from blocks of ``block`` drawn by :meth:`draw`, so the sequence equals
        ``draw(rng, n)`` on a generator in the same state, and a call costs a C-level
        ``next``. The function owns ``rng`` from now on: do not draw from it elsewhere.
        """
        check_generator("rng", rng)
        size = integer("block", block, minimum=1)
        return blocks(lambda: self._draw(rng, size).tolist())


class Constant(Distribution):
    """Always ``value`` seconds (>= 0); variance 0. Draws consume no random numbers."""

    kind = "constant"

    def __init__(self, value: float) -> None:
        self._value = non_negative("value", value)

    def _params(self) -> dict[str, Any]:
        return {"value": self._value}

    @property
    def mean(self) -> float:
        return self._value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator) -> float:
        return self._value

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self._value, dtype=np.float64)

    def sampler(self, rng: np.random.Generator, block: int = BLOCK) -> Callable[[], float]:
        check_generator("rng", rng)
        integer("block", block, minimum=1)
        return itertools.repeat(self._value).__next__


class Exponential(Distribution):
    """Exponential durations with the given ``mean`` in seconds (> 0).

    The parameter is the mean, not the rate: service at 50 events per second is
    ``Exponential(mean=0.02)``. Variance is ``mean**2``.
    """

    kind = "exponential"

    def __init__(self, mean: float) -> None:
        self._mean = positive("mean", mean)

    def _params(self) -> dict[str, Any]:
        return {"mean": self._mean}

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def variance(self) -> float:
        return self._mean**2

    def sample(self, rng: np.random.Generator) -> float:
        return float(check_generator("rng", rng).exponential(self._mean))

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self._mean, n)


class Uniform(Distribution):
    """Uniform durations between ``low`` and ``high`` seconds (0 <= low <= high)."""

    kind = "uniform"

    def __init__(self, low: float, high: float) -> None:
        self._low = non_negative("low", low)
        self._high = non_negative("high", high)
        if self._high < self._low:
            raise ConfigError(f"high: must be >= low ({self._low!r}), got {high!r}")

    def _params(self) -> dict[str, Any]:
        return {"low": self._low, "high": self._high}

    @property
    def mean(self) -> float:
        return (self._low + self._high) / 2

    @property
    def variance(self) -> float:
        return (self._high - self._low) ** 2 / 12

    def sample(self, rng: np.random.Generator) -> float:
        return float(check_generator("rng", rng).uniform(self._low, self._high))

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self._low, self._high, n)


class LogNormal(Distribution):
    """Log-normal durations: right-skewed, a long tail of slow requests.

    ``mean`` is the mean of the durations themselves, in seconds (> 0); ``sigma`` (>= 0) is
    the standard deviation of their logarithm, so the underlying normal has
    ``mu = ln(mean) - sigma**2 / 2`` and the variance is ``(exp(sigma**2) - 1) * mean**2``.
    """

    kind = "lognormal"

    def __init__(self, mean: float, sigma: float) -> None:
        self._mean = positive("mean", mean)
        self._sigma = non_negative("sigma", sigma)
        self._mu = math.log(self._mean) - self._sigma**2 / 2

    def _params(self) -> dict[str, Any]:
        return {"mean": self._mean, "sigma": self._sigma}

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def variance(self) -> float:
        return math.expm1(self._sigma**2) * self._mean**2

    def sample(self, rng: np.random.Generator) -> float:
        return float(check_generator("rng", rng).lognormal(self._mu, self._sigma))

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.lognormal(self._mu, self._sigma, n)


class Empirical(Distribution):
    """Durations resampled uniformly, with replacement, from observed ``values`` (seconds).

    ``values`` is a non-empty sequence of finite numbers >= 0. ``mean`` and ``variance``
    are those of the values (the population variance).
    """

    kind = "empirical"

    def __init__(self, values: Iterable[float]) -> None:
        self._values = non_negative_array("values", values)

    def _params(self) -> dict[str, Any]:
        return {"values": self._values.tolist()}

    def __repr__(self) -> str:
        return f"Empirical(values={short_list(self._values.tolist())})"

    @property
    def values(self) -> np.ndarray:
        """The observed values (a read-only float64 array)."""
        return self._values

    @property
    def mean(self) -> float:
        return float(self._values.mean())

    @property
    def variance(self) -> float:
        return float(self._values.var())

    def sample(self, rng: np.random.Generator) -> float:
        index = check_generator("rng", rng).integers(len(self._values))
        return float(self._values[index])

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._values[rng.integers(0, len(self._values), n)]


class FoldedNormal(Distribution):
    """Durations ``|X|`` with ``X`` normal of mean ``loc`` and standard deviation ``scale``
    (seconds, both >= 0): a network delay that is usually near ``loc``.

    The AWS Architecture Blog's backoff simulator draws each network delay so
    (``abs(random.normalvariate(10, 2))`` ms). Folding at zero makes ``mean`` slightly more
    than ``loc`` when ``scale`` is not small next to it: ``mean = scale * sqrt(2 / pi) *
    exp(-loc**2 / (2 * scale**2)) + loc * erf(loc / (scale * sqrt(2)))`` seconds, and
    ``variance = loc**2 + scale**2 - mean**2`` seconds squared.
    """

    kind = "folded_normal"

    def __init__(self, loc: float, scale: float) -> None:
        self._loc = non_negative("loc", loc)
        self._scale = non_negative("scale", scale)

    def _params(self) -> dict[str, Any]:
        return {"loc": self._loc, "scale": self._scale}

    @property
    def mean(self) -> float:
        loc, scale = self._loc, self._scale
        if scale == 0:
            return loc
        return scale * math.sqrt(2 / math.pi) * math.exp(
            -(loc**2) / (2 * scale**2)
        ) + loc * math.erf(loc / (scale * math.sqrt(2)))

    @property
    def variance(self) -> float:
        return max(0.0, self._loc**2 + self._scale**2 - self.mean**2)

    def sample(self, rng: np.random.Generator) -> float:
        return abs(float(check_generator("rng", rng).normal(self._loc, self._scale)))

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.abs(rng.normal(self._loc, self._scale, n))


KINDS: dict[str, type[Distribution]] = {
    cls.kind: cls for cls in (Constant, Exponential, Uniform, LogNormal, Empirical, FoldedNormal)
}


def as_distribution(value: Any, argument: str) -> Distribution:
    """``value`` as a Distribution: a Distribution passes, a number of seconds >= 0 becomes
    a :class:`Constant`; anything else raises an error naming ``argument``."""
    if isinstance(value, Distribution):
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigTypeError(
            f"{argument}: expected a distribution (e.g. ev.Exponential(mean=0.02)) "
            f"or a number of seconds, got {value!r}"
        )
    return Constant(non_negative(argument, value))


def from_spec(
    spec: Mapping[str, Any] | float | Distribution, argument: str = "distribution"
) -> Distribution:
    """The inverse of :meth:`Distribution.spec`.

    ``spec`` is a one-key mapping ``{kind: {parameter: value}}`` with kind one of
    constant, exponential, uniform, lognormal, empirical, folded_normal, or a plain number
    of seconds (a constant); a Distribution passes through. Errors name ``argument``.
    """
    if isinstance(spec, Distribution) or (isinstance(spec, Real) and not isinstance(spec, bool)):
        return as_distribution(spec, argument)
    return build_from_spec(spec, KINDS, argument)
