"""Producers: services that publish events to a topic, queue or fanout.

A producer draws its arrival times from an arrival process and, for each arrival,
publishes one event of its ``event_type``, keyed by its key chooser (or unkeyed). Handlers
publish follow-up events through the same :func:`send`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from evsim.actors.arrival_timer import start_arrivals
from evsim.actors.producer_config import DEFAULT_EVENT_BYTES, ProducerConfig
from evsim.brokers.sqs_rules import DELAY_SECONDS
from evsim.brokers.world import World
from evsim.component_config import reads_settings


class Broker(Protocol):
    """What a producer needs of a topic, queue or fanout."""

    name: str
    code: int

    def publish(self, event_id: int, key: str | None, producer: int, size_bytes: int) -> None:
        """Accept a newly published event."""


def send(
    world: World,
    broker: Broker,
    producer: int,
    event_type: int,
    key: str | None = None,
    payload: Any = None,
    attributes: dict[str, Any] | None = None,
    schema_version: int = 1,
    size_bytes: int = DEFAULT_EVENT_BYTES,
    cause: int = -1,
    original: int = -1,
) -> int:
    """Record an event published now by ``producer`` and hand it to ``broker``.

    ``producer`` and ``event_type`` are interned name codes. Returns the event id. The
    ``DelaySeconds`` attribute is SendMessage's parameter: a queue takes it as the
    message's own delay (:meth:`~evsim.brokers.queue.Queue.publish_delayed`); to topics and fanouts
    it is an attribute like any other.
    """
    event_id = world.records.events.add(
        event_type, key, producer, broker.code, world.env.now, payload, schema_version, cause,
        attributes, original,
    )  # fmt: skip
    if attributes is not None and DELAY_SECONDS in attributes:
        delayed = getattr(broker, "publish_delayed", None)  # only queues delay one message
        if delayed is not None:
            delayed(event_id, key, producer, size_bytes, attributes[DELAY_SECONDS])
            return event_id
    broker.publish(event_id, key, producer, size_bytes)
    return event_id


@reads_settings(ProducerConfig, "name", "target")
class Producer:
    """Publishes one event per arrival (times in seconds, rates per second), as its
    :class:`~evsim.actors.producer_config.ProducerConfig` describes; the config's fields
    read as the producer's attributes (``producer.arrivals``), and ``target`` is the
    broker itself."""

    kind = "producer"

    def __init__(self, world: World, config: ProducerConfig) -> None:
        self.world = world
        self.config = config
        self.name = config.name
        self.target: Broker = world.broker(config.target, "target")
        _screen(self.target, config.attributes, config.keys is not None)
        self.code = world.records.names.code(config.name)
        self._event_type_code = world.records.names.code(config.event_type)

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this producer (functions by name)."""
        config = self.config
        return {
            "name": config.name,
            "target": self.target.name,
            "arrivals": config.arrivals.spec(),
            "event_type": config.event_type,
            "keys": None if config.keys is None else config.keys.spec(),
            "payload": _plain(config.payload),
            "attributes": _plain(config.attributes),
            "schema_version": config.schema_version,
            "start": config.start,
            "stop": config.stop,
            "size_bytes": config.size_bytes,
        }

    def launch(self) -> None:
        """Start publishing when the simulation runs.

        One timer, restarted for each arrival (:func:`start_arrivals`): it publishes the
        event that is due and sets the next arrival. No SimPy process per producer, since
        one would cost a generator resume per event.
        """
        world, env, config = self.world, self.world.env, self.config
        times, next_key = self._draws()
        payload, attributes = config.payload, config.attributes
        payload_for = payload if callable(payload) else None
        attributes_for = attributes if callable(attributes) else None
        fixed_attributes = None if callable(attributes) else attributes
        stop = float("inf") if config.stop is None else config.stop
        target, code, event_type = self.target, self.code, self._event_type_code
        version, size = config.schema_version, config.size_bytes
        indexes = itertools.count()

        def arrive() -> None:
            index = next(indexes)
            send(
                world, target, code, event_type, None if next_key is None else next_key(),
                payload if payload_for is None else payload_for(index),
                fixed_attributes if attributes_for is None else attributes_for(index), version,
                size,
            )  # fmt: skip

        start_arrivals(env, times, stop, arrive, config.arrivals)

    def _draws(self) -> tuple[Iterator[float], Callable[[], str] | None]:
        """The arrival times (seconds) and the key chooser (None: unkeyed), each on its own
        random stream."""
        streams, config = self.world.streams, self.config
        generator = streams.generator("producer", self.name, "arrivals")
        times = iter(config.arrivals.times(generator, config.start))
        if config.keys is None:
            return times, None
        return times, config.keys.chooser(streams.generator("producer", self.name, "keys"))


def _plain(value: Any) -> Any:
    """``value`` for a config dict: a function is shown by its name."""
    return getattr(value, "__qualname__", repr(value)) if callable(value) else value


def _screen(target: Any, attributes: Any, keyed: bool) -> None:
    """Refuse now a producer every send of which its queue or fanout would refuse (a FIFO
    target without keys, or constant attributes SQS or SNS refuse); attributes that are a
    function of the event index are checked on each send."""
    check = getattr(target, "check_sender", None)  # queues and fanouts screen senders
    if check is not None and not callable(attributes):
        check(attributes, keyed)
