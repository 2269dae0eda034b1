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

import dataclasses
import functools
from typing import Any

from evsim import _check, limits, run_budget, utilisation
from evsim._version import __version__
from evsim.actors.cache import Cache
from evsim.actors.client import Client
from evsim.actors.group import ConsumerGroup
from evsim.actors.group_config import GroupConfig
from evsim.actors.load_balancer import LoadBalancer
from evsim.actors.producer import Producer
from evsim.actors.producer_config import ProducerConfig
from evsim.actors.redrive import Redrive
from evsim.actors.retry import Retry
from evsim.actors.sampler import Sampler
from evsim.actors.service import Service
from evsim.broker_builders import BrokerBuilders
from evsim.brokers.fanout import Fanout
from evsim.brokers.log import Topic
from evsim.brokers.queue import Queue
from evsim.brokers.world import World
from evsim.component_config import describe
from evsim.engine import Clock
from evsim.errors import ConfigError, SimulationStateError
from evsim.plain_engine import Engine, PlainClock
from evsim.records import RECORD_MODES, Records
from evsim.records.summary import OutcomeTally
from evsim.request_builders import RequestBuilders
from evsim.result import Result
from evsim.run_record import RunRecord
from evsim.utilisation import warn_overloaded
from evsim.workload.rng import Streams

ENGINES: dict[str, type[Engine]] = {"fast": Clock, "simpy": PlainClock}
"""The engines a simulation runs on, by name (see :class:`Simulation`)."""


class Simulation(BrokerBuilders, RequestBuilders):
    """One simulated system. Times are seconds, rates per second.

    ``seed`` fixes every random stream (the same seed gives identical tables);
    ``sample_interval`` is how often gauges (lag, consumers up) are sampled, in seconds;
    ``record="full"`` keeps a row per event, attempt and sample, ``record="summary"`` only
    the aggregates ``summary()`` needs, so memory stays flat however long the run.
    ``engine="fast"`` (the default) runs on :class:`~evsim.engine.Clock`, which reads
    SimPy's internals to save time per event; ``engine="simpy"`` runs the same model, with
    identical tables, on a plain ``simpy.Environment`` through SimPy's public API only
    (:mod:`evsim.plain_engine`): slower, and the fallback if a SimPy release breaks the
    fast one. Either way :attr:`env` is a SimPy environment: add processes of your own.
    """

    def __init__(
        self,
        seed: int | None = None,
        sample_interval: float = 1.0,
        record: str = "full",
        engine: str = "fast",
    ) -> None:
        self.streams = Streams(seed)
        self.seed = self.streams.seed
        self.sample_interval = _check.positive("sample_interval", sample_interval)
        self.record = _check.choice("record", record, RECORD_MODES)
        self.engine = _check.choice("engine", engine, tuple(ENGINES))
        self.records = Records(record)
        self.world = World(ENGINES[self.engine](), self.records, self.streams)
        self.topics: dict[str, Topic] = {}
        self.queues: dict[str, Queue] = {}
        self.fanouts: dict[str, Fanout] = {}
        self.not_simulated: list[str] = []  # config keys accepted but not modelled (from_aws)
        self.producers: dict[str, Producer] = {}
        self.groups: dict[str, ConsumerGroup] = {}
        self.redrives: list[Redrive] = []
        self.services: dict[str, Service] = {}
        self.clients: dict[str, Client] = {}
        self.load_balancers: dict[str, LoadBalancer] = {}
        self.caches: dict[str, Cache] = {}
        self._names: dict[str, str] = {}  # every component name → its kind
        self._result: Result | None = None
        self._failed: str | None = None  # what stopped a run that raised
        # how long a scenario file asks to run, in seconds (None: until the events end);
        # set by load_scenario and read by `evsim run`, while sim.run(until=...) decides
        self.duration: float | None = None

    @property
    def env(self) -> Engine:
        """The SimPy environment the simulation runs on, for processes of your own
        (``sim.env.process(...)``) or timers (``sim.env.call_later(seconds, fn)``)."""
        return self.world.env

    @property
    def now(self) -> float:
        """The simulation clock, in seconds."""
        return self.world.env.now

    def producer(self, *args: Any, **options: Any) -> Producer:
        """Add a producer publishing one ``event_type`` event per arrival to ``target``.

        Takes the fields of :class:`~evsim.actors.producer_config.ProducerConfig`
        (``name``, ``target``, ``arrivals``, ``event_type``, ``keys`` and ``payload`` by
        position or keyword, the rest by keyword), each described there with its unit.
        """
        config = ProducerConfig.build(*args, **options)
        self._free(config.name)
        producer = Producer(self.world, config)
        self._claim(config.name, "producer")
        self.producers[config.name] = producer
        return producer

    def consumer_group(self, *args: Any, **options: Any) -> ConsumerGroup:
        """Add a consumer group reading a topic, a list of topics, or a queue.

        Takes the fields of :class:`~evsim.actors.group_config.GroupConfig` (``name``,
        ``source``, ``consumers``, ``service_time``, ``concurrency``, ``handler``,
        ``commit``, ``assignment`` and ``event_types`` by position or keyword, the rest
        by keyword); each is described there, with its unit and the real system's rule.
        """
        config = GroupConfig.build(*args, **options)
        self._free(config.name)
        topics = self._source_topics(config.source)
        retry_topics = self._retry_topics(config.name, topics, config.retry_policy)
        dead_letter = config.dead_letter
        if dead_letter is None and retry_topics:
            if len(topics) > 1:
                raise ConfigError(
                    "dead_letter: non-blocking retries over several topics need one "
                    "dead_letter target named explicitly"
                )
            dead_letter = f"{topics[0].name}-dlt"
            config = dataclasses.replace(config, dead_letter=dead_letter)
        if isinstance(dead_letter, str) and dead_letter not in self.world.brokers:
            self._create_dead_letter(dead_letter, topics)
        group = ConsumerGroup(self.world, config, retry_topics)
        self._claim(config.name, "consumer group")
        self.groups[config.name] = group
        return group

    def _source_topics(self, source: Any) -> list[Topic]:
        """The topics among ``source`` (none for a queue); bad names raise here."""
        items = source if isinstance(source, list | tuple) else [source]
        brokers = [self.world.broker(item, "source") for item in items]
        return [b for b in brokers if isinstance(b, Topic)]

    def _retry_topics(
        self, group: str, topics: list[Topic], retry: Retry
    ) -> list[list[Topic]] | None:
        """Spring's retry topics, ``<topic>-retry-<delay ms>``, one per retry."""
        if retry.blocking or not topics:
            return None
        stages = []
        for topic in topics:
            chain = []
            for n in range(retry.max_attempts - 1):
                name = f"{topic.name}-retry-{round(retry.backoff.nominal(n) * 1000)}"
                if name in self._names:  # equal delays (capped) or another group's chain
                    name = f"{name}-{group}-{n}"
                chain.append(self.topic(name, topic.partitions, topic.latency, topic.retention))
            stages.append(chain)
        return stages

    def _create_dead_letter(self, name: str, topics: list[Topic]) -> None:
        """A dead-letter target named before it exists: a topic with as many partitions as
        the source (Spring publishes to the original partition), or a queue."""
        if topics:
            self.topic(name, max(t.partitions for t in topics))
        else:
            self.queue(name)

    def redrive(
        self, dead_letter: Any, at: float, to: Any = None, rate: float | None = None
    ) -> Redrive:
        """Send a dead-letter queue's contents back at ``at`` seconds (``rate`` per second).

        A queue's messages go to the queue whose redrive policy feeds it (or ``to``) as new
        messages, as SQS's DLQ redrive does; a dead-letter topic's records go back to their
        original topic. See :class:`evsim.actors.redrive.Redrive`.
        """
        move = Redrive(self.world, dead_letter, at, to, rate, list(self.queues.values()))
        self.redrives.append(move)
        return move

    def run(
        self,
        until: float,
        warmup: float = 0.0,
        *,
        max_events: float | None = None,
        stall_after: int = limits.STALL_AFTER,
    ) -> Result:
        """Run for ``until`` seconds and return the :class:`~evsim.result.Result`.

        ``warmup`` (seconds) drops events published before it from the latency and
        throughput statistics of ``summary()``. A simulation runs once: a second ``run``
        raises :class:`~evsim.errors.SimulationStateError` (build a new Simulation, with
        the same seed for the same run), and so does a ``run`` after one that raised.

        A run estimated to schedule more than ``max_events`` events (arrivals, gauge
        samples, crash and commit cycles: :mod:`evsim.run_budget`) is refused before it
        starts; None is :data:`~evsim.limits.MAX_EVENTS_FULL` with ``record="full"`` and
        :data:`~evsim.limits.MAX_EVENTS_SUMMARY` otherwise, ``math.inf`` no limit. A run
        taking ``stall_after`` steps at one simulated instant is stopped with a
        SimulationStateError naming the likely cause (a zero-time loop).
        """
        until = _check.positive("until", until)
        warmup = _check.non_negative("warmup", warmup)
        if warmup >= until:
            raise ConfigError(f"warmup: must be < until ({until}), got {warmup}")
        if self._failed is not None:
            raise SimulationStateError(
                f"run: this simulation's run failed with {self._failed}; its state is "
                "part-way through that run: build a new Simulation to run again"
            )
        if self._result is not None:
            raise SimulationStateError(
                "run: this simulation has already run; build a new Simulation to run again"
            )
        env = self.world.env
        env.stall_after = _check.integer("stall_after", stall_after, minimum=1)
        run_budget.check(self, until, run_budget.max_events(self.record, max_events))
        env.stall_hint = functools.partial(run_budget.stall_hint, self)
        try:
            result = self._run(until, warmup)
        except BaseException as err:
            self._failed = type(err).__name__  # its message was shown when it was raised
            raise
        # after the try: the run is over (a warning turned into an error does not fail it)
        warn_overloaded(result.loads, stacklevel=3)  # 3: the user's sim.run(...) line
        return result

    def _run(self, until: float, warmup: float) -> Result:
        env = self.world.env
        self._launch_request_side(warmup)
        for group in self.groups.values():
            group.launch()
        for producer in self.producers.values():
            producer.launch()
        for move in self.redrives:
            move.launch()
        outcomes = self.records.outcomes
        if isinstance(outcomes, OutcomeTally):  # summary mode measures latency as it goes
            outcomes.warmup = warmup

        sampler = Sampler(
            self.records, list(self.groups.values()), list(self.queues.values()),
            self.sample_interval, self._request_gauges(),
        )  # fmt: skip
        sampler.start(env)
        env.run(until=until)
        slots = {name: utilisation.slots(group) for name, group in self.groups.items()}
        record = RunRecord.capture(
            self, self.records, self.config, until, warmup, slots, self.clients.values(),
            self.services.values(),
        )  # fmt: skip
        self._result = Result(record)
        return self._result

    @property
    def config(self) -> dict[str, Any]:
        """The seed and every component's arguments, as plain data."""
        return {
            "seed": self.seed,
            "version": __version__,
            "sample_interval": self.sample_interval,
            "record": self.record,
            "engine": self.engine,
            "scenario": {
                "topics": [t.spec() for t in self.topics.values()],
                "queues": [q.spec() for q in self.queues.values()],
                "fanouts": [f.spec() for f in self.fanouts.values()],
                "producers": [p.spec() for p in self.producers.values()],
                "consumer_groups": [g.spec() for g in self.groups.values()],
                "redrives": [r.spec() for r in self.redrives],
                **self._request_response_config(),
            },
            "not_simulated": list(self.not_simulated),
        }

    def _free(self, name: Any) -> None:
        """Raise unless ``name`` is a valid name no component has taken."""
        _check.name("name", name)
        if name in self._names:
            raise ConfigError(f"name: a {self._names[name]} named {name!r} already exists")

    def _claim(self, name: str, kind: str) -> None:
        """Register a component built successfully (so a failed one leaves no trace)."""
        self._free(name)
        self._names[name] = kind


describe(Simulation.producer, ProducerConfig, "Producer")
describe(Simulation.consumer_group, GroupConfig, "ConsumerGroup")
