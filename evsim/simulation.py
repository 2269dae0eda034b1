"""The simulation: builds components on one SimPy environment, runs, returns a Result.

::

    sim = ev.Simulation(seed=1)
    sim.topic("order-events", partitions=6, latency=0.002)
    sim.producer("orders-service", target="order-events", arrivals=ev.Poisson(rate=50),
                 event_type="OrderCreated", keys=ev.UniformKeys(10_000))
    sim.consumer_group("inventory-service", source="order-events", consumers=3,
                       service_time=ev.Exponential(mean=0.02))
    result = sim.run(until=600)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import simpy

from evsim import _check
from evsim.arrivals import Arrivals
from evsim.dist import Distribution
from evsim.errors import ConfigError, SimulationStateError
from evsim.group import KAFKA_AUTO_COMMIT_INTERVAL, ConsumerGroup
from evsim.keys import KeyChooser
from evsim.log import SEVEN_DAYS, Topic
from evsim.producer import DEFAULT_EVENT_BYTES, Producer
from evsim.records import Records
from evsim.result import Result
from evsim.rng import Streams
from evsim.world import World


class Simulation:
    """One simulated system. Times are seconds, rates per second.

    ``seed`` fixes every random stream (the same seed gives identical tables);
    ``sample_interval`` is how often gauges (lag, consumers up) are sampled, in seconds.
    """

    def __init__(self, seed: int | None = None, sample_interval: float = 1.0) -> None:
        self.streams = Streams(seed)
        self.seed = self.streams.seed
        self.sample_interval = _check.positive("sample_interval", sample_interval)
        self.records = Records()
        self.world = World(simpy.Environment(), self.records, self.streams)
        self.topics: dict[str, Topic] = {}
        self.producers: dict[str, Producer] = {}
        self.groups: dict[str, ConsumerGroup] = {}
        self._names: dict[str, str] = {}  # every component name → its kind
        self._result: Result | None = None

    @property
    def now(self) -> float:
        """The simulation clock, in seconds."""
        return self.world.env.now

    def topic(
        self,
        name: str,
        partitions: int = 1,
        latency: Distribution | float = 0.0,
        retention: float = SEVEN_DAYS,
    ) -> Topic:
        """Add a Kafka-like topic (see :class:`evsim.log.Topic`)."""
        self._claim(name, "topic")
        topic = Topic(self.world, name, partitions, latency, retention)
        self.world.brokers[name] = self.topics[name] = topic
        return topic

    def producer(
        self,
        name: str,
        target: Any,
        arrivals: Arrivals,
        event_type: str = "Event",
        keys: KeyChooser | None = None,
        payload: Any = None,
        *,
        attributes: Any = None,
        schema_version: int = 1,
        start: float = 0.0,
        stop: float | None = None,
        size_bytes: int = DEFAULT_EVENT_BYTES,
    ) -> Producer:
        """Add a producer publishing ``event_type`` events to ``target``.

        ``payload`` and ``attributes`` (message attributes such as SNS filter policies
        match; ``eventType`` is always set) are constants or functions of the event's
        index within the producer.
        """
        self._claim(name, "producer")
        producer = Producer(
            self.world, name, target, arrivals, event_type, keys, payload, attributes,
            schema_version, start, stop, size_bytes,
        )  # fmt: skip
        self.producers[name] = producer
        return producer

    def consumer_group(
        self,
        name: str,
        source: Any,
        consumers: int = 1,
        service_time: Distribution | float = 0.0,
        concurrency: int = 1,
        handler: Callable[..., Any] | None = None,
        commit: str = "after",
        assignment: str = "range",
        event_types: Iterable[str] | str | None = None,
        *,
        commit_interval: float = KAFKA_AUTO_COMMIT_INTERVAL,
        join_at: float = 0.0,
        offset_reset: str = "latest",
    ) -> ConsumerGroup:
        """Add a consumer group reading ``source`` (a topic or a list of topics)."""
        self._claim(name, "consumer group")
        group = ConsumerGroup(
            self.world, name, source, consumers, service_time, concurrency, handler,
            commit, commit_interval, assignment, event_types, join_at, offset_reset,
        )  # fmt: skip
        self.groups[name] = group
        return group

    def run(self, until: float, warmup: float = 0.0) -> Result:
        """Run for ``until`` seconds and return the :class:`~evsim.result.Result`.

        ``warmup`` (seconds) drops events published before it from the latency and
        throughput statistics of ``summary()``. A simulation runs once.
        """
        until = _check.positive("until", until)
        warmup = _check.non_negative("warmup", warmup)
        if warmup >= until:
            raise ConfigError(f"warmup: must be < until ({until}), got {warmup}")
        if self._result is not None:
            raise SimulationStateError(
                "run: this simulation has already run; build a new Simulation to run again"
            )
        for group in self.groups.values():
            group.launch()
        for producer in self.producers.values():
            producer.launch()
        env = self.world.env
        env.process(self._sample())
        env.run(until=until)
        self._result = Result(self, until=until, warmup=warmup)
        return self._result

    @property
    def config(self) -> dict[str, Any]:
        """The seed and every component's arguments, as plain data."""
        from evsim import __version__

        return {
            "seed": self.seed,
            "version": __version__,
            "sample_interval": self.sample_interval,
            "scenario": {
                "topics": [t.spec() for t in self.topics.values()],
                "producers": [p.spec() for p in self.producers.values()],
                "consumer_groups": [g.spec() for g in self.groups.values()],
            },
        }

    def _claim(self, name: Any, kind: str) -> None:
        _check.name("name", name)
        if name in self._names:
            raise ConfigError(f"name: a {self._names[name]} named {name!r} already exists")
        self._names[name] = kind

    def _sample(self) -> Iterator[Any]:
        env = self.world.env
        gauges = self.records.gauges
        code = self.records.names.code
        lag, up, in_system = code("lag"), code("consumers_up"), code("in_system")
        entities = {
            group: [code(f"{group.name}/{topic.name}-{p}") for topic, p in group.partitions]
            for group in self.groups.values()
        }
        while True:
            now = env.now
            for group, tp_codes in entities.items():
                if not group.active:  # a group that has not joined yet has no offsets
                    continue
                for tp, entity in enumerate(tp_codes):
                    gauges.add(now, lag, entity, group.lag(tp))
                gauges.add(now, up, group.code, sum(m.up for m in group.members))
                gauges.add(now, in_system, group.code, group.in_system())
            yield env.timeout(self.sample_interval)
