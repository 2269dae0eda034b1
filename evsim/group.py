"""Consumer groups: who reads which partition, and how far each has got.

Rules modelled (Apache Kafka consumer groups):

* Every group subscribed to a topic gets every record of it; ``event_types`` filters what
  the group *handles* (the rest are read and skipped, as a consumer that checks the
  event type and returns would).
* Partitions are assigned by the range, round-robin or sticky assignor; a partition has
  at most one owner in a group, so parallelism is min(consumers, partitions).
* Each partition is read in offset order, one record at a time.
* ``commit="after"`` (at-least-once) commits processed offsets every ``commit_interval``
  seconds (``auto.commit.interval.ms``, 5 s by default; 0 commits after each event);
  ``commit="before"`` (at-most-once) commits as records are fetched.
* Lag of a partition = log-end offset − committed offset.
* A group joining late starts at the log end (``auto.offset.reset=latest``, Kafka's
  default) or at the log start (``earliest``, kafkajs ``fromBeginning: true``).
* A consumer behind the log start (retention deleted its records) skips to the earliest
  offset; the skipped events end as ``expired``.

Offsets live here; :mod:`evsim.consumer` does the processing.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from evsim import _check
from evsim.assignors import assign
from evsim.dist import Distribution, as_distribution
from evsim.errors import ConfigError, ConfigTypeError
from evsim.log import Topic
from evsim.records import EXPIRED, PENDING
from evsim.world import World

if TYPE_CHECKING:
    from evsim.consumer import Consumer

COMMIT_MODES = ("after", "before")
OFFSET_RESETS = ("latest", "earliest")
ASSIGNORS = ("range", "roundrobin", "sticky")
KAFKA_AUTO_COMMIT_INTERVAL = 5.0  # seconds, auto.commit.interval.ms = 5000


class ConsumerGroup:
    """A Kafka-style consumer group reading one or more topics."""

    kind = "consumer_group"

    def __init__(
        self,
        world: World,
        name: str,
        source: Any,
        consumers: int = 1,
        service_time: Distribution | float = 0.0,
        concurrency: int = 1,
        handler: Callable[..., Any] | None = None,
        commit: str = "after",
        commit_interval: float = KAFKA_AUTO_COMMIT_INTERVAL,
        assignment: str = "range",
        event_types: Iterable[str] | str | None = None,
        join_at: float = 0.0,
        offset_reset: str = "latest",
    ) -> None:
        from evsim.consumer import Consumer  # the layer below needs the group's type only

        self.world = world
        self.name = _check.name("name", name)
        self.code = world.records.names.code(name)
        self.topics = _resolve_topics(world, source)
        self.service_time = as_distribution(service_time, "service_time")
        self.concurrency = _check.integer("concurrency", concurrency, minimum=1)
        if handler is not None and not callable(handler):
            raise ConfigTypeError(f"handler: expected a function fn(event, ctx), got {handler!r}")
        self.handler = handler
        self.commit = _check.choice("commit", commit, COMMIT_MODES)
        self.commit_interval = _check.non_negative("commit_interval", commit_interval)
        self.assignment = _check.choice("assignment", assignment, ASSIGNORS)
        self.event_types = _event_types(event_types)
        self.join_at = _check.non_negative("join_at", join_at)
        self.offset_reset = _check.choice("offset_reset", offset_reset, OFFSET_RESETS)
        count = _check.integer("consumers", consumers, minimum=1)

        names = world.records.names
        self._wanted = (
            None if self.event_types is None else frozenset(map(names.code, self.event_types))
        )
        self.partitions: list[tuple[Topic, int]] = []
        for topic in self.topics:
            topic.subscribe(partial(self._on_append, len(self.partitions)))
            self.partitions.extend((topic, p) for p in range(topic.partitions))
        size = len(self.partitions)
        self.position = [0] * size  # next offset to fetch
        self.done = [0] * size  # offset after the last processed (or skipped) record
        self.committed = [0] * size
        self.queued = [False] * size  # waiting in its owner's ready list
        self.busy = [False] * size  # a worker is handling one of its records
        self.owner: list[Consumer | None] = [None] * size
        self.routed = array("q")
        self.in_flight: dict[int, Consumer] = {}
        self.finished = 0
        self.active = False
        width = len(str(count - 1))
        self.members = [Consumer(self, f"{name}-{i:0{width}d}") for i in range(count)]

    def spec(self) -> dict:
        """The keyword arguments that rebuild this group (a handler by name)."""
        handler = self.handler
        return {
            "name": self.name,
            "source": [t.name for t in self.topics]
            if len(self.topics) > 1
            else self.topics[0].name,
            "consumers": len(self.members),
            "service_time": self.service_time.spec(),
            "concurrency": self.concurrency,
            "handler": None if handler is None else getattr(handler, "__qualname__", repr(handler)),
            "commit": self.commit,
            "commit_interval": self.commit_interval,
            "assignment": self.assignment,
            "event_types": None if self.event_types is None else list(self.event_types),
            "join_at": self.join_at,
            "offset_reset": self.offset_reset,
        }

    # --- life cycle -------------------------------------------------------------------

    def launch(self) -> None:
        """Join the group at ``join_at`` and start consuming."""
        env = self.world.env
        if self.join_at <= env.now:
            self._join()
        else:
            env.timeout(self.join_at - env.now).callbacks.append(lambda _: self._join())

    def _join(self) -> None:
        now = self.world.env.now
        for tp, (topic, partition) in enumerate(self.partitions):
            end = topic.log_end_offset(partition)
            start = end if self.offset_reset == "latest" else topic.log_start_offset(partition, now)
            self.position[tp] = self.done[tp] = self.committed[tp] = start
            self.routed.extend(self._wanted_ids(tp, start, end))
        self.active = True
        self.rebalance()
        for member in self.members:
            member.launch()
        if self.commit == "after" and self.commit_interval > 0:
            self.world.env.process(self._auto_commit())

    def rebalance(self) -> None:
        """Assign the partitions to the consumers that are up, with the group's assignor."""
        live = [m for m in self.members if m.up]
        by_name = {m.name: m for m in live}
        previous = {m.name: [self._label(tp) for tp in m.owned] for m in live}
        counts = {t.name: t.partitions for t in self.topics}
        plan = assign(self.assignment, list(by_name), counts, previous)
        index = {self._label(tp): tp for tp in range(len(self.partitions))}
        for member in self.members:
            member.owned = []
        self.owner = [None] * len(self.partitions)
        for member_name, labels in plan.items():
            member = by_name[member_name]
            member.owned = [index[label] for label in labels]
            for tp in member.owned:
                self.owner[tp] = member
        for member in live:
            member.reset_ready()
            for tp in member.owned:
                self.release(tp)

    def _auto_commit(self) -> Iterator[Any]:
        env = self.world.env
        while True:
            yield env.timeout(self.commit_interval)
            self.committed[:] = self.done

    # --- the record stream --------------------------------------------------------------

    def _on_append(self, base: int, partition: int, offset: int, event_id: int) -> None:
        if not self.active:
            return
        wanted = self._wanted
        if wanted is None or self.world.records.events.event_type[event_id] in wanted:
            self.routed.append(event_id)
        tp = base + partition
        if not self.queued[tp] and not self.busy[tp]:
            owner = self.owner[tp]
            if owner is not None:
                owner.offer(tp)

    def fetch(self, tp: int, consumer: Consumer) -> int:
        """Take the next record of partition ``tp`` to handle; its event id, or -1.

        Records the group does not handle are skipped; records deleted by retention end
        as ``expired``.
        """
        topic, partition = self.partitions[tp]
        position = self.position[tp]
        end = topic.log_end_offset(partition)
        now = self.world.env.now
        if position < end and topic.appended_at(partition, position) < now - topic.retention:
            position = self._expire(tp, position, topic.log_start_offset(partition, now), consumer)
        wanted = self._wanted
        event_types = self.world.records.events.event_type
        while position < end:
            event_id = topic.event_at(partition, position)
            position += 1
            if wanted is None or event_types[event_id] in wanted:
                self.position[tp] = position
                if self.commit == "before":
                    self.committed[tp] = position
                self.in_flight[event_id] = consumer
                return event_id
            self._mark_done(tp, position)
        self.position[tp] = position
        return -1

    def processed(self, tp: int, offset: int) -> None:
        """The record at ``offset`` is handled: advance and offer the partition again."""
        self.busy[tp] = False
        self._mark_done(tp, offset + 1)
        self.release(tp)

    def release(self, tp: int) -> None:
        """Offer partition ``tp`` to its owner if it has records left to read."""
        owner = self.owner[tp]
        if owner is None or self.queued[tp] or self.busy[tp]:
            return
        topic, partition = self.partitions[tp]
        if self.position[tp] < topic.log_end_offset(partition):
            owner.offer(tp)

    def finish(
        self, event_id: int, consumer: Consumer, outcome: int, attempts: int, first: float
    ) -> None:
        """Record the final outcome of an event for this group."""
        del self.in_flight[event_id]
        self._record(event_id, consumer, outcome, attempts, first)

    def _record(
        self, event_id: int, consumer: Consumer, outcome: int, attempts: int, first: float
    ) -> None:
        now = self.world.env.now
        self.world.records.outcomes.add(
            event_id, self.code, consumer.code, outcome, attempts, first, now
        )
        self.finished += 1

    def _mark_done(self, tp: int, offset: int) -> None:
        self.done[tp] = offset
        if self.commit == "after" and self.commit_interval == 0:
            self.committed[tp] = offset

    def _expire(self, tp: int, position: int, start: int, consumer: Consumer) -> int:
        for event_id in self._wanted_ids(tp, position, start):
            self._record(event_id, consumer, EXPIRED, 0, float("nan"))
        self.position[tp] = start
        self._mark_done(tp, start)
        return start

    def _wanted_ids(self, tp: int, start: int, end: int) -> Iterator[int]:
        topic, partition = self.partitions[tp]
        wanted = self._wanted
        event_types = self.world.records.events.event_type
        for offset in range(start, end):
            event_id = topic.event_at(partition, offset)
            if wanted is None or event_types[event_id] in wanted:
                yield event_id

    # --- reading the state ----------------------------------------------------------------

    def lag(self, tp: int) -> int:
        """Log-end offset − committed offset of partition ``tp`` (Kafka's consumer lag)."""
        topic, partition = self.partitions[tp]
        return topic.log_end_offset(partition) - self.committed[tp]

    def in_system(self) -> int:
        """Events routed to the group and not yet finished (waiting or in service)."""
        return len(self.routed) - self.finished

    def unfinished(self) -> Iterator[tuple[int, int, Consumer | None]]:
        """(event id, outcome, consumer) of every routed event without an outcome yet.

        Read from the live state (records in flight and records not yet read), not from
        the routed list, so :meth:`evsim.result.Result.check` compares two independent
        counts. Unread records already past retention are ``expired``; the rest ``pending``.
        """
        now = self.world.env.now
        for event_id, consumer in self.in_flight.items():
            yield event_id, PENDING, consumer
        if not self.active:
            return
        for tp, (topic, partition) in enumerate(self.partitions):
            start = topic.log_start_offset(partition, now)
            position = self.position[tp]
            end = topic.log_end_offset(partition)
            for event_id in self._wanted_ids(tp, position, max(position, start)):
                yield event_id, EXPIRED, self.owner[tp]
            for event_id in self._wanted_ids(tp, max(position, start), end):
                yield event_id, PENDING, self.owner[tp]

    def _label(self, tp: int) -> tuple[str, int]:
        topic, partition = self.partitions[tp]
        return topic.name, partition


def _resolve_topics(world: World, source: Any) -> list[Topic]:
    sources = source if isinstance(source, list | tuple) else [source]
    if not sources:
        raise ConfigError("source: expected a topic name or a list of topic names, got []")
    topics = []
    for item in sources:
        broker = world.broker(item, "source")
        if not isinstance(broker, Topic):
            raise ConfigTypeError(
                f"source: {broker.name!r} is a {broker.kind}; consumer groups read topics"
            )
        if broker in topics:
            raise ConfigError(f"source: topic {broker.name!r} is listed twice")
        topics.append(broker)
    return topics


def _event_types(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items:
        raise ConfigError("event_types: expected event type names or None, got an empty list")
    for item in items:
        _check.name("event_types", item)
    return items
