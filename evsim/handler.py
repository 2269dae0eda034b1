"""The context a handler gets: the clock, waiting, and publishing follow-up events.

A handler is ``fn(event, ctx)``, a plain function or a generator function. A generator
handler waits with ``yield ctx.timeout(seconds)``; any handler publishes with
``ctx.publish(target, event_type, key=..., payload=...)`` so services chain (OrderCreated →
PaymentProcessed → a notification); raising an exception marks the attempt as failed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import simpy

from evsim import _check
from evsim.producer import DEFAULT_EVENT_BYTES, send
from evsim.world import World


class HandlerContext:
    """One worker's view of the simulation while it handles an event."""

    __slots__ = ("_publisher", "_world", "consumer", "event_id", "group", "rng")

    def __init__(self, world: World, group: str, consumer: str, rng: np.random.Generator) -> None:
        self._world = world
        self._publisher = world.records.names.code(group)
        self.group = group
        self.consumer = consumer
        self.rng = rng
        self.event_id = -1

    @property
    def now(self) -> float:
        """The simulation clock, in seconds."""
        return self._world.env.now

    def timeout(self, seconds: float) -> simpy.Timeout:
        """An event to ``yield`` that fires after ``seconds`` of simulated time."""
        return self._world.env.timeout(_check.non_negative("ctx.timeout(seconds)", seconds))

    def publish(
        self,
        target: Any,
        event_type: str,
        key: str | None = None,
        payload: Any = None,
        *,
        attributes: dict[str, Any] | None = None,
        schema_version: int = 1,
        size_bytes: int = DEFAULT_EVENT_BYTES,
    ) -> int:
        """Publish a follow-up event (caused by the one being handled); returns its id.

        The group is the producer; publishing does not block the handler (Kafka's
        ``send`` is asynchronous) and the event appears after the target's latency.
        """
        world = self._world
        broker = world.broker(target, "ctx.publish(target)")
        names = world.records.names
        return send(
            world,
            broker,
            self._publisher,
            names.code(_check.name("ctx.publish(event_type)", event_type)),
            key,
            payload,
            cause=self.event_id,
            schema_version=schema_version,
            attributes=attributes,
            size_bytes=size_bytes,
        )
