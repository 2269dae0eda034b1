"""The brokers' descriptions: each broker's settings, checked once, with the real system's
names, ranges and defaults.

``sim.topic(...)`` and ``sim.fanout(...)`` take the fields of :class:`TopicConfig` and
:class:`FanoutConfig` (their signatures and help are read from here), scenario files'
``topics`` and ``fanouts`` entries are checked against them, and
:class:`~evsim.brokers.log.Topic` and :class:`~evsim.brokers.fanout.Fanout` are built
from one. What needs the rest of the simulation (the cluster's partition total, a
dead-letter queue by name) is checked when the broker is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from evsim import _check, limits
from evsim.brokers import sqs_rules as rules
from evsim.component_config import ComponentConfig
from evsim.errors import ConfigError
from evsim.workload.dist import Distribution, as_distribution

SEVEN_DAYS = 7 * 24 * 3600.0  # seconds: Kafka's default retention (log.retention.hours=168)


@dataclass(frozen=True)
class TopicConfig(ComponentConfig):
    """A Kafka-like topic: a partitioned, append-only log.

    ``name``
        unique among the simulation's components (Kafka: the topic name).
    ``partitions``
        how many partitions (>= 1); Kafka's ``num.partitions`` defaults to 1. A
        partition is the unit of parallelism: a group's consumers work on at most one
        record of a partition at a time, so a group never has more slots than this.
    ``latency``
        seconds from a producer's send to the record's append, when consumers can read
        it (a distribution or a number; default 0: at once). A real produce costs a
        network round trip and the replication ``acks=all`` waits for (the default
        since Kafka 3.0), plus up to ``linger.ms`` of batching (0 before Kafka 4.0, 5 ms
        since): a few milliseconds.
    ``retention``
        seconds a record is kept before deletion (``retention.ms``; default 604800 s,
        7 days, Kafka's ``log.retention.hours=168``). A group that falls further behind
        loses the deleted records as ``expired``.
    """

    METHOD: ClassVar[str] = "topic"

    name: str
    partitions: int = 1
    latency: Distribution | float = 0.0
    retention: float = SEVEN_DAYS

    def __post_init__(self) -> None:
        """Check every field and keep the latency as a Distribution."""
        partitions = _check.integer("partitions", self.partitions, minimum=1)
        limits.at_most("partitions", partitions, "MAX_PARTITIONS", CLUSTER_LIMIT)
        self._keep(
            {
                "name": _check.name("name", self.name),
                "partitions": partitions,
                "latency": as_distribution(self.latency, "latency"),
                "retention": _check.positive("retention", self.retention),
            }
        )

    @property
    def latency_distribution(self) -> Distribution:
        """``latency`` as a Distribution (seconds)."""
        return _distribution(self.latency)

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this topic, as plain data."""
        return {
            "name": self.name,
            "partitions": self.partitions,
            "latency": self.latency_distribution.spec(),
            "retention": self.retention,
        }


CLUSTER_LIMIT = "Kafka's recommended maximum per cluster"


@dataclass(frozen=True)
class FanoutConfig(ComponentConfig):
    """An SNS-like fan-out topic, delivering a copy of each message to every subscribed
    queue whose filter policy matches it.

    ``name``
        unique among the simulation's components (SNS: the topic name); a FIFO topic's
        ends in ``.fifo``, which a standard topic's may not.
    ``latency``
        seconds from a publish to the copies' sends to the subscribed queues (a
        distribution or a number; default 0: at once).
    ``fifo``
        an SNS FIFO topic [FifoTopic, default false]: every publish needs a message group
        (the event's key) and a deduplication id, and each subscribed queue gets a
        group's messages in the order they were published.
    ``content_based_deduplication``
        FIFO topics only: without a ``MessageDeduplicationId`` attribute, deduplicate by a
        SHA-256 of the body [ContentBasedDeduplication, default false]; a message whose
        id was accepted in the 5 minutes before is accepted but delivered to no one.
    """

    METHOD: ClassVar[str] = "fanout"

    name: str
    latency: Distribution | float = 0.0
    fifo: bool = False
    content_based_deduplication: bool = False

    def __post_init__(self) -> None:
        """Check every field (the ``.fifo`` suffix against ``fifo``)."""
        fifo = _check.flag("fifo", self.fifo)
        deduplicates = _check.flag("content_based_deduplication", self.content_based_deduplication)
        if deduplicates and not fifo:
            raise ConfigError(
                "content_based_deduplication: only FIFO topics deduplicate (SNS); "
                "set fifo=True or leave it False"
            )
        self._keep(
            {
                "name": rules.fifo_suffix(_check.name("name", self.name), fifo, "fanout", "SNS"),
                "latency": as_distribution(self.latency, "latency"),
                "fifo": fifo,
                "content_based_deduplication": deduplicates,
            }
        )

    @property
    def latency_distribution(self) -> Distribution:
        """``latency`` as a Distribution (seconds)."""
        return _distribution(self.latency)


def _distribution(value: Distribution | float) -> Distribution:
    assert isinstance(value, Distribution)  # normalised in __post_init__
    return value
