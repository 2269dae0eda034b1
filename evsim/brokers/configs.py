"""The brokers' descriptions: each broker's settings, checked once, with the real system's
names, ranges and defaults.

``sim.topic(...)``, ``sim.queue(...)`` and ``sim.fanout(...)`` take the fields of
:class:`TopicConfig`, :class:`QueueConfig` and :class:`FanoutConfig` (their signatures
and help are read from here), scenario files' entries are checked against them, and
:class:`~evsim.brokers.log.Topic`, :class:`~evsim.brokers.queue.Queue` and
:class:`~evsim.brokers.fanout.Fanout` are built from one. What needs the rest of the
simulation (the cluster's partition total, a dead-letter queue by name) is checked when
the broker is built.
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
        deduplicates = _content_deduplication(self.content_based_deduplication, fifo, "SNS")
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


@dataclass(frozen=True)
class QueueConfig(ComponentConfig):
    """An SQS-like queue, standard or FIFO. Times are seconds; SQS's attribute names,
    ranges and defaults in brackets.

    ``name``
        unique; 1-80 of ``[A-Za-z0-9_-]``, ending in ``.fifo`` for a FIFO queue
        [QueueName].
    ``visibility_timeout``
        how long a received message stays invisible to other receivers; not deleted by
        then (its consumer failed, crashed or was too slow), it is received again
        [VisibilityTimeout, 0-43200, default 30].
    ``retention``
        how long a message is kept, counted from when it was first enqueued; older
        ones are deleted, as ``expired`` [MessageRetentionPeriod, 60-1209600, default
        345600: 4 days].
    ``dead_letter``, ``max_receive_count``
        the redrive policy, both or neither: a message already received
        ``max_receive_count`` times moves to the ``dead_letter`` queue instead of being
        received again [RedrivePolicy: deadLetterTargetArn, maxReceiveCount 1-1000; no
        policy by default]. ``dead_letter`` is a queue or a queue's name; a name not
        defined yet creates that queue with SQS's defaults (FIFO if this queue is FIFO,
        as SQS requires).
    ``fifo``
        a FIFO queue: ordered within a message group (the event's key), one message of
        a group in flight at a time, a message whose deduplication id was accepted in
        the last 5 minutes dropped [FifoQueue, default false].
    ``latency``
        seconds from SendMessage to the message being stored (a distribution or a
        number; default 0). Real sends take a few to tens of milliseconds.
    ``receive_batch``
        messages a consumer receives at once [MaxNumberOfMessages, 1-10, default 1].
    ``wait_time``
        how long a receive waits for a message when the queue is empty (long polling)
        [ReceiveMessageWaitTimeSeconds, 0-20]. The default here is 20, the longest:
        SQS's own default, 0, is short polling, which answers at once, often empty.
    ``delay``
        how long a new message stays invisible before its first receive [DelaySeconds,
        0-900, default 0].
    ``content_based_deduplication``
        a FIFO queue deduplicates by a SHA-256 of the payload when an event carries no
        ``MessageDeduplicationId`` attribute [ContentBasedDeduplication, default
        false].
    """

    METHOD: ClassVar[str] = "queue"

    name: str
    visibility_timeout: float = rules.DEFAULT_VISIBILITY_TIMEOUT
    retention: float = rules.DEFAULT_RETENTION
    dead_letter: Any = None
    max_receive_count: int | None = None
    fifo: bool = False
    latency: Distribution | float = 0.0
    receive_batch: int = 1
    wait_time: float = rules.DEFAULT_WAIT_TIME
    delay: float = 0.0
    content_based_deduplication: bool = False

    def __post_init__(self) -> None:
        """Check every field against SQS's ranges; the dead-letter queue itself (a queue,
        of the same type) is checked when the queue is built."""
        fifo = _check.flag("fifo", self.fifo)
        deduplicates = _content_deduplication(self.content_based_deduplication, fifo, "SQS")
        receives = self.max_receive_count
        self._keep(
            {
                "name": rules.queue_name(self.name, fifo),
                "visibility_timeout": rules.seconds(
                    "visibility_timeout", self.visibility_timeout, 0, 43200
                ),
                "retention": rules.seconds("retention", self.retention, 60, 1209600),
                "max_receive_count": None if receives is None else rules.max_receives(receives),
                "fifo": fifo,
                "latency": as_distribution(self.latency, "latency"),
                "receive_batch": rules.batch("receive_batch", self.receive_batch),
                "wait_time": rules.seconds("wait_time", self.wait_time, 0, 20),
                "delay": rules.seconds("delay", self.delay, 0, 900),
                "content_based_deduplication": deduplicates,
            }
        )

    @property
    def latency_distribution(self) -> Distribution:
        """``latency`` as a Distribution (seconds)."""
        return _distribution(self.latency)


def _content_deduplication(value: Any, fifo: bool, service: str) -> bool:
    """ContentBasedDeduplication: a flag, for FIFO topics (SNS) or queues (SQS) only."""
    deduplicates = _check.flag("content_based_deduplication", value)
    if deduplicates and not fifo:
        kinds = "topics" if service == "SNS" else "queues"
        raise ConfigError(
            f"content_based_deduplication: only FIFO {kinds} deduplicate ({service}); "
            "set fifo=True or leave it False"
        )
    return deduplicates


def _distribution(value: Distribution | float) -> Distribution:
    assert isinstance(value, Distribution)  # normalised in __post_init__
    return value
