"""The context a handler gets: the clock, waiting, and publishing follow-up events.

A handler is ``fn(event, ctx)``, a plain function or a generator function. A generator
handler waits with ``yield ctx.timeout(seconds)``; any handler publishes with
``ctx.publish(target, event_type, key=..., payload=...)`` so services chain (OrderCreated →
PaymentProcessed → a notification); raising an exception marks the attempt as failed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from evsim import _check
from evsim.errors import ConfigTypeError, EvsimError
from evsim.producer import DEFAULT_EVENT_BYTES, send
from evsim.records import ERROR, OK
from evsim.world import World

if TYPE_CHECKING:
    from evsim.group import ConsumerGroup

Outcome = tuple[int, str | None]  # (attempt status code, error text)


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


def handler_runner(
    group: ConsumerGroup, consumer: str, worker: int
) -> Callable[[int], Generator[Any, Any, Outcome]]:
    """A generator function that runs the group's handler on one event for one worker.

    It returns the attempt's status: ``OK``, or ``ERROR`` with ``"Type: message"`` when
    the handler raised. evsim's own errors (a bad target in ``ctx.publish``) propagate:
    they are mistakes in the scenario, not failures of the event.
    """
    handler = group.handler
    world = group.world
    rng = world.streams.generator("group", group.name, "handler", consumer, str(worker))
    ctx = HandlerContext(world, group.name, consumer, rng)
    is_generator = inspect.isgeneratorfunction(handler)
    events = world.records.events

    def run(event_id: int) -> Generator[Any, Any, Outcome]:
        ctx.event_id = event_id
        try:
            result = handler(events.event(event_id), ctx)
            if is_generator:
                yield from _drive(result, handler)
        except (EvsimError, simpy.Interrupt):
            raise
        except Exception as exc:  # the handler signals a failed attempt by raising
            return ERROR, f"{type(exc).__name__}: {exc}"
        return OK, None

    return run


def _drive(steps: Generator[Any, Any, Any], handler: Any) -> Generator[Any, Any, None]:
    """Run a generator handler, checking that it yields only SimPy events."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = steps.send(value) if error is None else steps.throw(error)
        except StopIteration:
            return
        if not isinstance(request, simpy.Event):
            steps.close()
            name = getattr(handler, "__qualname__", repr(handler))
            raise ConfigTypeError(
                f"handler: {name} yielded {request!r}; a handler may only yield "
                "ctx.timeout(seconds) (or another SimPy event)"
            )
        value, error = None, None
        try:
            value = yield request
        except simpy.Interrupt:
            steps.close()
            raise
        except Exception as exc:  # a failed event the handler waited on: its problem
            error = exc
