"""Producers: services that publish events to a topic, queue or fanout.

A producer draws its arrival times from an arrival process and, for each arrival,
publishes one event of its ``event_type``, keyed by its key chooser (or unkeyed). Handlers
publish follow-up events through the same :func:`send`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from evsim import _check
from evsim.brokers.sqs_rules import DELAY_SECONDS
from evsim.brokers.world import World
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.arrivals import Arrivals, as_arrivals
from evsim.workload.keys import KeyChooser, as_keys

DEFAULT_EVENT_BYTES = 1024  # record size used by the sticky partitioner's batch count


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


class Producer:
    """Publishes one event per arrival (times in seconds, rates per second)."""

    kind = "producer"

    def __init__(
        self,
        world: World,
        name: str,
        target: Broker | str,
        arrivals: Arrivals,
        event_type: str = "Event",
        keys: KeyChooser | None = None,
        payload: Any = None,
        attributes: dict[str, Any] | Callable[[int], dict[str, Any]] | None = None,
        schema_version: int = 1,
        start: float = 0.0,
        stop: float | None = None,
        size_bytes: int = DEFAULT_EVENT_BYTES,
    ) -> None:
        self.world = world
        self.name = _check.name("name", name)
        self.target = world.broker(target, "target")
        self.arrivals = as_arrivals(arrivals, "arrivals")
        self.event_type = _check.name("event_type", event_type)
        self.keys = as_keys(keys, "keys")
        self.payload = payload
        self.attributes = _attributes(attributes)
        _screen(self.target, self.attributes, keys is not None)
        self.schema_version = _check.integer("schema_version", schema_version, minimum=1)
        self.start = _check.non_negative("start", start)
        self.stop = None if stop is None else _check.positive("stop", stop)
        if self.stop is not None and self.stop <= self.start:
            raise ConfigError(
                f"stop: must be after start ({self.start:g} s), got {self.stop:g} s; a "
                "producer publishes from start until stop"
            )
        self.size_bytes = _check.integer("size_bytes", size_bytes, minimum=1)
        self.code = world.records.names.code(name)
        self._event_type_code = world.records.names.code(event_type)

    def spec(self) -> dict:
        """The keyword arguments that rebuild this producer (functions by name)."""
        return {
            "name": self.name,
            "target": self.target.name,
            "arrivals": self.arrivals.spec(),
            "event_type": self.event_type,
            "keys": None if self.keys is None else self.keys.spec(),
            "payload": _plain(self.payload),
            "attributes": _plain(self.attributes),
            "schema_version": self.schema_version,
            "start": self.start,
            "stop": self.stop,
            "size_bytes": self.size_bytes,
        }

    def launch(self) -> None:
        """Start publishing when the simulation runs.

        One :class:`~evsim.engine.Timer`, restarted for each arrival: its callback publishes
        the event that is due and sets the next arrival. No SimPy process per producer,
        since one would cost a generator resume per event.
        """
        world, env = self.world, self.world.env
        times, next_key = self._draws()
        payload, attributes = self.payload, self.attributes
        payload_for = payload if callable(payload) else None
        attributes_for = attributes if callable(attributes) else None
        stop = float("inf") if self.stop is None else self.stop
        target, code, event_type = self.target, self.code, self._event_type_code
        version, size = self.schema_version, self.size_bytes
        indexes = itertools.count()

        def arrive(timer_fired: object) -> None:
            if timer_fired is not None:  # an arrival is due: publish it
                index = next(indexes)
                send(
                    world, target, code, event_type, None if next_key is None else next_key(),
                    payload if payload_for is None else payload_for(index),
                    attributes if attributes_for is None else attributes_for(index), version,
                    size,
                )  # fmt: skip
            time = next(times, stop)
            if time < stop:
                if time < env.now:
                    raise ConfigError(
                        f"arrivals: {self.arrivals!r} gave an arrival at {time} s after one at "
                        f"{env.now} s; arrival times must not decrease"
                    )
                timer.start(time - env.now)

        timer = env.timer(arrive)
        arrive(None)  # set the first timer

    def _draws(self) -> tuple[Iterator[float], Callable[[], str] | None]:
        """The arrival times (seconds) and the key chooser (None: unkeyed), each on its own
        random stream."""
        streams = self.world.streams
        generator = streams.generator("producer", self.name, "arrivals")
        times = iter(self.arrivals.times(generator, self.start))
        if self.keys is None:
            return times, None
        return times, self.keys.chooser(streams.generator("producer", self.name, "keys"))


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


def _attributes(value: Any) -> Any:
    if value is None or callable(value):
        return value
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigTypeError(
            "attributes: expected a dict of attribute names to values "
            f"(or a function of the event index returning one), got {value!r}"
        )
    return value
