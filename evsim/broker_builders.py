"""Adding brokers to a simulation: ``sim.topic``, ``sim.queue`` and ``sim.fanout``.

Each method documents its arguments with their units and the real system's names,
ranges and defaults (Kafka's topic configs, SQS's queue attributes, SNS's topic), builds
the broker on the simulation's world, and registers it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from evsim import _check
from evsim.brokers.configs import FanoutConfig, QueueConfig, TopicConfig
from evsim.brokers.fanout import Fanout
from evsim.brokers.log import Topic
from evsim.brokers.queue import Queue
from evsim.brokers.world import World
from evsim.component_config import describe
from evsim.errors import ConfigError

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
        config: TopicConfig | QueueConfig | FanoutConfig,
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

    def queue(self, *args: Any, **options: Any) -> Queue:
        """Add an SQS-like queue (see :class:`evsim.brokers.queue.Queue`).

        Takes the fields of :class:`~evsim.brokers.configs.QueueConfig` (``name``,
        ``visibility_timeout``, ``retention``, ``dead_letter``, ``max_receive_count``,
        ``fifo``, ``latency``, ...), each described there with SQS's name, range and
        default.
        """
        config = QueueConfig.build(*args, **options)

        def build(world: World, config: QueueConfig) -> Queue:
            return Queue(world, config, self._dead_letter_of(config))

        return self._register(config, build, self.queues)

    def _dead_letter_of(self, config: QueueConfig) -> object:
        """The queue's dead-letter queue: as given, or found or made by name (a name
        without a max_receive_count is left for the queue to refuse)."""
        dead_letter = config.dead_letter
        if isinstance(dead_letter, str) and config.max_receive_count is not None:
            return self._dead_letter_queue(config.name, dead_letter, config.fifo)
        return dead_letter

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
describe(BrokerBuilders.queue, QueueConfig, "Queue")
describe(BrokerBuilders.fanout, FanoutConfig, "Fanout")
