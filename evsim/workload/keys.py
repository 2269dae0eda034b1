"""Key choosers: which key each published event carries.

A key (``"key-0"``, ``"key-1"``, …) decides an event's partition, so the spread of keys
decides how evenly load spreads over partitions and consumers. :class:`UniformKeys` spreads
it evenly; :class:`ZipfKeys` makes a few keys hot, as real customer or device ids are.
Keys have no time dimension (no seconds or rates here); producers draw one per event from
the function :meth:`KeyChooser.chooser` returns, which draws indices in blocks and hands
out cached strings, so no NumPy call or string formatting happens per event. ``n`` is at
most :data:`evsim.limits.MAX_KEYS`, and no table grows with ``n`` past
:data:`evsim.limits.MAX_TABLE_KEYS` keys.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from evsim import limits
from evsim._check import integer, name, positive
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.rng import check_generator
from evsim.workload.specs import BLOCK, Specified, blocks, build_from_spec
from evsim.workload.zipf import RejectionInversionZipf

CACHED_KEYS = 1 << 20  # up to this many keys, their strings are built once and reused


class KeyChooser(Specified):
    """Chooses one of ``n`` keys ``f"{prefix}{i}"`` (i = 0 … n−1) at random per event."""

    def __init__(self, n: int, prefix: str = "key-") -> None:
        self._n = integer("n", n, minimum=1)
        limits.at_most("n", n, "MAX_KEYS", "indices are exact in float64", raisable=False)
        self._prefix = name("prefix", prefix)

    @property
    def n(self) -> int:
        """The number of distinct keys."""
        return self._n

    @property
    def prefix(self) -> str:
        """The text before each key's index."""
        return self._prefix

    def key(self, i: int) -> str:
        """The ``i``-th key string, ``f"{prefix}{i}"`` (0 <= i < n)."""
        integer("i", i, minimum=0)
        if i >= self._n:
            raise ConfigError(f"i: must be < n ({self._n}), got {i!r}")
        return f"{self._prefix}{i}"

    @cached_property
    def _key_array(self) -> np.ndarray:
        """Every key string (an object array), built once on first use."""
        return np.array([f"{self._prefix}{i}" for i in range(self._n)], dtype=object)

    def _key_block(self, rng: np.random.Generator, size: int) -> list[str]:
        """``size`` random keys as strings: one NumPy draw, no per-key formatting if cached."""
        indices = self._indices(rng, size)
        if self._n <= CACHED_KEYS:
            keys: list[str] = self._key_array[indices].tolist()
            return keys
        return list(map(self._prefix.__add__, map(str, indices.tolist())))

    def probabilities(self) -> np.ndarray:
        """The probability of each key index, a float64 array of length ``n`` summing to 1.

        Refused (ConfigError) for ``n`` above :data:`evsim.limits.MAX_TABLE_KEYS`, whose
        array would take ``8 * n`` bytes.
        """
        size = f"one float64 per key, {self._n * 8 / 1e9:.1f} GB here"
        limits.at_most("probabilities(): n", self._n, "MAX_TABLE_KEYS", size)
        return self._table()

    @abstractmethod
    def _table(self) -> np.ndarray:
        """What :meth:`probabilities` returns (``n`` already checked)."""

    @abstractmethod
    def _indices(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` random key indices (arguments already checked)."""

    def indices(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` random key indices in ``0 … n−1`` (int64), drawn with one vectorised call."""
        return self._indices(check_generator("rng", rng), integer("size", size, minimum=0))

    def chooser(self, rng: np.random.Generator, block: int = BLOCK) -> Callable[[], str]:
        """A zero-argument function returning one random key per call: the fast path.

        Indices come from blocks of ``block`` drawn by :meth:`indices`, so the keys follow
        ``indices(rng, n)`` on a generator in the same state. The function owns ``rng``.
        """
        check_generator("rng", rng)
        size = integer("block", block, minimum=1)
        return blocks(lambda: self._key_block(rng, size))


class UniformKeys(KeyChooser):
    """``n`` keys (n >= 1), each equally likely: load spreads evenly over partitions."""

    kind = "uniform_keys"

    def _params(self) -> dict[str, Any]:
        return {"n": self._n, "prefix": self._prefix}

    def _table(self) -> np.ndarray:
        return np.full(self._n, 1.0 / self._n)

    def _indices(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.integers(0, self._n, size)


class ZipfKeys(KeyChooser):
    """``n`` keys (n >= 1) with bounded Zipf popularity of exponent ``s`` (> 0): hot keys.

    The key of rank k (k = 1 … n) has probability proportional to ``1 / k**s`` and index
    k − 1, so ``key-0`` is the hottest. Larger ``s`` concentrates more load on the head;
    ``s`` near 1 is typical of real key popularity. Up to
    :data:`evsim.limits.MAX_TABLE_KEYS` keys, sampling inverts the cumulative distribution
    with ``numpy.searchsorted`` on uniform draws, in blocks (a table of 16 bytes per key);
    above, it uses rejection-inversion (:mod:`evsim.workload.zipf`), whose memory does not depend
    on ``n``. The choice is made once, at the first draw, so a seed's draws are fixed.
    """

    kind = "zipf_keys"

    def __init__(self, n: int, s: float, prefix: str = "key-") -> None:
        super().__init__(n, prefix)
        self._s = positive("s", s)

    def _params(self) -> dict[str, Any]:
        return {"n": self._n, "s": self._s, "prefix": self._prefix}

    @property
    def s(self) -> float:
        """The Zipf exponent."""
        return self._s

    @cached_property
    def _probabilities(self) -> np.ndarray:
        weights = np.arange(1, self._n + 1, dtype=np.float64) ** -self._s
        probabilities: np.ndarray = weights / weights.sum()

        probabilities.setflags(write=False)
        return probabilities

    @cached_property
    def _cumulative(self) -> np.ndarray:
        cumulative = np.cumsum(self._probabilities)
        cumulative[-1] = 1.0  # rounding must not leave uniform draws past the last key
        return cumulative

    def _table(self) -> np.ndarray:
        return self._probabilities.copy()

    @cached_property
    def _sampler(self) -> RejectionInversionZipf | None:
        """None: draw with the inverse-CDF table (up to MAX_TABLE_KEYS keys, the draws of
        every earlier version); else the rejection-inversion sampler."""
        return (
            None if self._n <= limits.MAX_TABLE_KEYS else RejectionInversionZipf(self._n, self._s)
        )

    def _indices(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sampler = self._sampler
        if sampler is None:
            return np.searchsorted(self._cumulative, rng.random(size), side="right")
        return sampler.ranks(rng, size) - 1


KINDS: dict[str, type[KeyChooser]] = {cls.kind: cls for cls in (UniformKeys, ZipfKeys)}


def as_keys(value: Any, argument: str) -> KeyChooser | None:
    """``value`` if it is a key chooser or ``None`` (no key), else an error naming ``argument``."""
    if value is None or isinstance(value, KeyChooser):
        return value
    raise ConfigTypeError(
        f"{argument}: expected a key chooser (e.g. ev.UniformKeys(10_000)) "
        f"or None for no key, got {value!r}"
    )


def from_spec(
    spec: Mapping[str, Any] | KeyChooser | None, argument: str = "keys"
) -> KeyChooser | None:
    """The inverse of :meth:`KeyChooser.spec`: ``{kind: {parameter: value}}``.

    Kinds: uniform_keys, zipf_keys. ``None`` (no key) and a KeyChooser pass through.
    Errors name ``argument``, the kind and the parameter.
    """
    if spec is None or isinstance(spec, KeyChooser):
        return spec
    return build_from_spec(spec, KINDS, argument)
