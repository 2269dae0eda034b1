"""Named random streams: one seed, one independent generator per component and concern.

Every random number in a run comes from a stream named by a path such as
``("producer", "orders-service", "arrivals")``. A stream's state depends only on the run's
seed and its path, never on which other streams exist or in which order they were created.
So changing one component's parameters (or adding a component) does not shift another
component's random numbers: two runs that differ in one place see *common random numbers*
everywhere else, which makes comparisons between them fair and their differences less noisy.

Times drawn from these streams are in seconds and rates are per second, as everywhere in
evsim; this module itself only hands out generators.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np

from evsim._check import integer, name
from evsim.errors import ConfigError, ConfigTypeError

_WORDS_PER_PART = 4  # 128 bits of hash per path part


def check_generator(argument: str, value: Any) -> np.random.Generator:
    """Return ``value`` if it is a ``numpy.random.Generator``, else raise naming ``argument``."""
    if not isinstance(value, np.random.Generator):
        raise ConfigTypeError(
            f"{argument}: expected a numpy.random.Generator "
            f"(e.g. Streams(seed=1).generator('my-component')), got {value!r}"
        )
    return value


def _words(part: str) -> tuple[int, ...]:
    """A stable (process- and platform-independent) hash of ``part`` as 32-bit words."""
    digest = hashlib.blake2b(part.encode("utf-8"), digest_size=4 * _WORDS_PER_PART).digest()
    return struct.unpack(f"<{_WORDS_PER_PART}I", digest)


def _check_seed(seed: Any) -> int:
    """A seed is an int >= 0 (NumPy integers are accepted and converted)."""
    if isinstance(seed, np.integer):
        seed = int(seed)
    return integer("seed", seed, minimum=0)


def _fresh_entropy() -> int:
    """128 bits from the operating system, as ``SeedSequence`` draws them."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)  # a fresh SeedSequence always holds one int
    return entropy


class Streams:
    """Independent random generators named by paths, all derived from one seed.

    ``Streams(seed)`` with an int >= 0 reproduces a run exactly; ``Streams(None)`` draws fresh
    entropy from the operating system and keeps it in :attr:`seed`, so any run can be
    repeated afterwards. The generators are ``numpy.random.Generator`` objects on PCG64;
    evsim draws times in seconds and rates per second from them.
    """

    __slots__ = ("_seed",)

    def __init__(self, seed: int | None = None) -> None:
        self._seed = _fresh_entropy() if seed is None else _check_seed(seed)

    @property
    def seed(self) -> int:
        """The seed in use (the fresh entropy if the streams were created with ``None``)."""
        return self._seed

    def seed_sequence(self, *path: str) -> np.random.SeedSequence:
        """The ``SeedSequence`` of the stream named ``path`` (see :meth:`generator`)."""
        if not path:
            raise ConfigError("path: expected at least one name, e.g. generator('arrivals')")
        key: list[int] = []
        for index, part in enumerate(path):
            key.extend(_words(name(f"path[{index}]", part)))
        return np.random.SeedSequence(entropy=self._seed, spawn_key=tuple(key))

    def generator(self, *path: str) -> np.random.Generator:
        """A new PCG64 generator for the stream named ``path``.

        Its state depends only on the seed and ``path`` (e.g. ``"producer",
        "orders-service", "arrivals"``), not on creation order. Asking for the same path
        twice returns two *separate* generators that start in the same state and so draw
        the same numbers: give each consumer of randomness its own path.
        """
        return np.random.Generator(np.random.PCG64(self.seed_sequence(*path)))

    def __repr__(self) -> str:
        return f"Streams(seed={self._seed})"
