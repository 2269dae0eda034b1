"""A producer's description: every setting, checked once.

:class:`ProducerConfig` is the one place a producer's keyword arguments are spelled:
``sim.producer(...)`` takes its fields (its signature and help are read from here), the
scenario loader checks ``producers`` entries against them, and
:class:`~evsim.actors.producer.Producer` is built from one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from evsim import _check
from evsim.component_config import ComponentConfig
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.arrivals import Arrivals, as_arrivals
from evsim.workload.keys import KeyChooser, as_keys

DEFAULT_EVENT_BYTES = 1024  # record size used by the sticky partitioner's batch count

Attributes = dict[str, Any] | Callable[[int], dict[str, Any]] | None


@dataclass(frozen=True)
class ProducerConfig(ComponentConfig):
    """A producer publishing one ``event_type`` event per arrival to ``target``.

    ``name``
        unique among the simulation's components (the event's ``producer``).
    ``target``
        a topic, a queue or a fanout, or its name.
    ``arrivals``
        when events are published: ``ev.Poisson(rate=...)`` (events per second, at
        random), ``ev.Periodic(interval=...)`` (seconds), ``ev.Schedule([(t, rate),
        ...])`` (piecewise Poisson: storms), ``ev.Replay([times])``.
    ``event_type``
        the events' type, also their ``eventType`` message attribute (default
        ``"Event"``); consumer groups' ``event_types`` and filter policies match it.
    ``keys``
        a key chooser (``ev.UniformKeys(n)``, ``ev.ZipfKeys(n, s)``), or None for
        unkeyed events (the default). On a topic a keyed event goes to partition
        murmur2(key) mod partitions (Kafka's default partitioner), so a key's events
        stay in order; an unkeyed one to a sticky partition that changes after each
        ``batch.size`` (16384 bytes) sent. On a FIFO queue the key is the message group
        [MessageGroupId], which FIFO queues require.
    ``payload``, ``attributes``
        the events' payload and message attributes (which SNS filter policies match;
        ``eventType`` is always set): constants, or functions of the event's index
        within the producer (0, 1, ...). Default None.
    ``schema_version``
        the events' schema version (an integer >= 1, default 1), for lessons on
        schema evolution.
    ``start``, ``stop``
        seconds at which publishing starts (default 0) and stops (default None: until
        the run ends).
    ``size_bytes``
        the serialized size of one event in bytes (default 1024), used only to count
        ``batch.size`` for unkeyed events' sticky partition: with the default, 16 events
        go to one partition before the next.
    """

    METHOD: ClassVar[str] = "producer"

    name: str
    target: Any
    arrivals: Arrivals
    event_type: str = "Event"
    keys: KeyChooser | None = None
    payload: Any = None
    _: KW_ONLY
    attributes: Attributes = None
    schema_version: int = 1
    start: float = 0.0
    stop: float | None = None
    size_bytes: int = DEFAULT_EVENT_BYTES

    def __post_init__(self) -> None:
        """Check every field that needs no other component (the target is found, and
        screened against the attributes, when the producer is built)."""
        start = _check.non_negative("start", self.start)
        stop = None if self.stop is None else _check.positive("stop", self.stop)
        self._keep(
            {
                "name": _check.name("name", self.name),
                "arrivals": as_arrivals(self.arrivals, "arrivals"),
                "event_type": _check.name("event_type", self.event_type),
                "keys": as_keys(self.keys, "keys"),
                "attributes": _attributes(self.attributes),
                "schema_version": _check.integer("schema_version", self.schema_version, minimum=1),
                "start": start,
                "stop": _after(start, stop),
                "size_bytes": _check.integer("size_bytes", self.size_bytes, minimum=1),
            }
        )


def _after(start: float, stop: float | None) -> float | None:
    if stop is not None and stop <= start:
        raise ConfigError(
            f"stop: must be after start ({start:g} s), got {stop:g} s; a producer "
            "publishes from start until stop"
        )
    return stop


def _attributes(value: Any) -> Attributes:
    if value is None or callable(value):
        given: Attributes = value
        return given
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigTypeError(
            "attributes: expected a dict of attribute names to values "
            f"(or a function of the event index returning one), got {value!r}"
        )
    return value
