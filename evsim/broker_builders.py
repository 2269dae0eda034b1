"""Adding brokers to a simulation: ``sim.topic``, ``sim.queue`` and ``sim.fanout``.

Each method documents its arguments with their units and the real system's names,
ranges and defaults (Kafka's topic configs, SQS's queue attributes, SNS's topic), builds
the broker on the simulation's world, and registers it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from evsim import _check
from evsim.brokers.configs import FanoutConfig, TopicConfig
from evsim.brokers.fanout import Fanout
from evsim.brokers.log import Topic
from evsim.brokers.queue import Queue
from evsim.brokers.sqs_rules import (
    DEFAULT_RETENTION,
    DEFAULT_VISIBILITY_TIMEOUT,
    DEFAULT_WAIT_TIME,
    max_receives,
)
from evsim.brokers.world import World
from evsim.component_config import describe
from evsim.errors import ConfigError
from evsim.workload.dist import Distribution

BrokerT = TypeVar("BrokerT", Topic, Queue, Fanout)


class BrokerBuilders:
    """The broker methods of :class:`~evsim.Simulation` (a base class it builds on)."""

    world: World
    topics: dict[str, Topic]
    queues: dict[str, Queue]
    fanouts: dict[str, Fanout]

    def _free(self, name: Any) -> None:
        raise NotImplementedError  # Simulation's: refuse a taken or invalid name

    def _claim(self, name: str, kind: str) -> None:
        raise NotImplementedError  # Simulation's: register a component built successfully

    def _register(
        self,
        config: TopicConfig | FanoutConfig,
        build: Callable[[World, Any], BrokerT],
        registry: dict[str, BrokerT],
    ) -> BrokerT:
        """Build a broker from its checked config under a free name, and register it."""
        self._free(config.name)
        broker = build(self.world, config)
        self._claim(config.name, config.METHOD)
        self.world.brokers[config.name] = registry[config.name] = broker
        return broker

    def topic(self, *args: Any, **options: Any) -> Topic:
        """Add a Kafka-like topic (see :class:`evsim.brokers.log.Topic`).

        Takes the fields of :class:`~evsim.brokers.configs.TopicConfig` (``name``,
        ``partitions``, ``latency``, ``retention``), each described there with its unit
        and Kafka's default.
        """
        config = TopicConfig.build(*args, **options)
        return self._register(config, Topic, self.topics)

    def queue(
        self,
        name: str,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        retention: float = DEFAULT_RETENTION,
        dead_letter: Queue | str | None = None,
        max_receive_count: int | None = None,
        fifo: bool = False,
        latency: Distribution | float = 0.0,
        receive_batch: int = 1,
        wait_time: float = DEFAULT_WAIT_TIME,
        delay: float = 0.0,
        content_based_deduplication: bool = False,
    ) -> Queue:
        """Add an SQS-like queue (see :class:`evsim.brokers.queue.Queue`). Times are seconds;
        SQS's attribute names, ranges and defaults in brackets.

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
        self._free(name)
        if isinstance(dead_letter, str) and max_receive_count is not None:
            max_receives(max_receive_count)  # refuse before creating the DLQ
            dead_letter = self._dead_letter_queue(name, dead_letter, fifo)
        queue = Queue(
            self.world, name, visibility_timeout=visibility_timeout, retention=retention,
            dead_letter=dead_letter, max_receive_count=max_receive_count, fifo=fifo,
            latency=latency, receive_batch=receive_batch, wait_time=wait_time, delay=delay,
            content_based_deduplication=content_based_deduplication,
        )  # fmt: skip
        self._claim(name, "queue")
        self.world.brokers[name] = self.queues[name] = queue
        return queue

    def fanout(self, *args: Any, **options: Any) -> Fanout:
        """Add an SNS-like fan-out topic (see :class:`evsim.brokers.fanout.Fanout`).

        Takes the fields of :class:`~evsim.brokers.configs.FanoutConfig` (``name``,
        ``latency``, ``fifo``, ``content_based_deduplication``), each described there
        with its unit and SNS's default.
        """
        config = FanoutConfig.build(*args, **options)
        return self._register(config, Fanout, self.fanouts)

    def _dead_letter_queue(self, source: str, name: str, fifo: Any) -> Any:
        """The DLQ called ``name``, created with SQS's defaults if it does not exist."""
        if name == source:
            raise ConfigError(f"dead_letter: queue {source!r} cannot be its own DLQ")
        if name in self.world.brokers:
            return self.world.brokers[name]
        fifo = _check.flag("fifo", fifo)
        if fifo and not name.endswith(".fifo"):
            raise ConfigError(
                f"dead_letter: a FIFO queue's DLQ is a FIFO queue, whose name ends in "
                f"'.fifo' (SQS), got {name!r}"
            )
        return self.queue(name, fifo=fifo)


describe(BrokerBuilders.topic, TopicConfig, "Topic")
describe(BrokerBuilders.fanout, FanoutConfig, "Fanout")
