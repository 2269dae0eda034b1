"""What every component of one simulation shares: the clock, the records, the random
streams and the directory of named brokers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evsim.errors import UnknownNameError
from evsim.plain_engine import Engine
from evsim.records import Recorder
from evsim.workload.dist import Distribution
from evsim.workload.rng import Streams


@dataclass
class World:
    """The shared state of one simulation (one SimPy environment)."""

    env: Engine
    records: Recorder
    streams: Streams
    brokers: dict[str, Any] = field(default_factory=dict)
    message_ids: Iterator[int] = field(default_factory=itertools.count)
    """Queue message ids (SQS MessageId), unique within the simulation, from 0."""
    redrive_cursors: dict[str, list[int]] = field(default_factory=dict)
    """How far redrives have read each dead-letter topic: the next offset per partition."""
    callees: dict[str, Any] = field(default_factory=dict)
    """What calls can reach, by name: services, load balancers and caches."""

    def callee(self, name: str, argument: str) -> Any:
        """The service, load balancer or cache called ``name`` (a call's target)."""
        return _named(self.callees, name, argument, "service, load balancer or cache", "")

    def broker(self, name: Any, argument: str) -> Any:
        """The topic, queue or fanout called ``name`` (or ``name`` itself if it is one)."""
        if not isinstance(name, str):
            known = getattr(name, "name", None)
            if known is not None and self.brokers.get(known) is name:
                return name
            raise UnknownNameError(
                f"{argument}: expected the name of a topic, queue or fanout, got {name!r}"
            )
        return _named(self.brokers, name, argument, "topic, queue or fanout", " yet")

    def sampler(self, dist: Distribution, *path: str) -> Callable[[], float]:
        """A zero-argument function drawing from ``dist`` (seconds) on the random stream
        named ``path`` (a constant draws nothing from it)."""
        return dist.sampler(self.streams.generator(*path))


def _named(directory: dict[str, Any], name: str, argument: str, kinds: str, yet: str) -> Any:
    """``directory[name]``, or an UnknownNameError naming ``argument`` and what is known."""
    found = directory.get(name)
    if found is None:
        known = ", ".join(repr(n) for n in directory) or f"none defined{yet}"
        raise UnknownNameError(f"{argument}: no {kinds} named {name!r} (known: {known})")
    return found
