"""Consumer groups: what a group of consumers does with the events routed to it.

The group holds what its consumers share: the service time, the handler, the faults,
the retry policy, the dead-letter target, the idempotency store, and the record of each
event's outcome. Where events come from is its feed's business: partitions of topics
(:mod:`evsim.actors.topic_feed`, Kafka's rules) or an SQS-like queue
(:mod:`evsim.actors.queue_feed`).

Rules modelled: an event whose attempts are exhausted (or whose error is not retried) is
written to the dead-letter target with the reason, its original coordinates, the attempt
count and the last error (Spring's ``DeadLetterPublishingRecoverer``); without one it is
logged and skipped (Spring's default recoverer) and ends as ``lost``. An idempotent
consumer keeps the ids it has processed (for ``idempotency_window`` seconds, or for ever)
and skips them when they come again.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from evsim import _check
from evsim.actors import headers
from evsim.actors.consumer import Consumer
from evsim.actors.delivery import NO_FAILURE, Delivery, Failure, Tally, failure
from evsim.actors.faults import (
    Crashes,
    Fault,
    Outage,
    PoisonEventError,
    PoisonEvents,
    Slowdown,
    TransientError,
    TransientErrors,
    as_faults,
)
from evsim.actors.idempotency import IdempotencyStore
from evsim.actors.producer import send
from evsim.actors.retry import NO_RETRY, Retry
from evsim.actors.topic_feed import TopicFeed
from evsim.brokers.log import Topic
from evsim.brokers.world import World
from evsim.errors import ConfigError, ConfigTypeError
from evsim.records import DEAD_LETTERED, LOST
from evsim.workload.dist import Distribution, as_distribution

COMMIT_MODES = ("after", "before")
OFFSET_RESETS = ("latest", "earliest")
ASSIGNORS = ("range", "roundrobin", "sticky")
KAFKA_AUTO_COMMIT_INTERVAL = 5.0  # seconds, auto.commit.interval.ms = 5000
KAFKA_SESSION_TIMEOUT = 45.0  # seconds, session.timeout.ms since Kafka 3.0
_is_up = operator.attrgetter("up")


class ConsumerGroup:
    """A group of consumers sharing the work of one source (topics or a queue)."""

    kind = "consumer_group"
    # Slots: with 30 or more dict attributes, CPython 3.11 stops specializing the method
    # calls on an instance (benchmarks/README.md, "CPython 3.11's fast paths").
    __slots__ = (
        "_claims",
        "_env",
        "_fault_draw",
        "_nobody",
        "_open",
        "_outcomes",
        "_poison",
        "_processed",
        "_published_at",
        "_slowdowns",
        "_transient",
        "assignment",
        "code",
        "commit",
        "commit_interval",
        "concurrency",
        "dead_letter",
        "event_types",
        "faults",
        "feed",
        "finished",
        "handler",
        "has_failures",
        "has_slowdowns",
        "idempotency_window",
        "idempotent",
        "join_at",
        "members",
        "name",
        "offset_reset",
        "retry",
        "service_time",
        "session_timeout",
        "wanted_types",
        "world",
    )

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
        faults: Iterable[Fault] | Fault | None = None,
        retry: Retry | None = None,
        dead_letter: Any = None,
        idempotent: bool = False,
        idempotency_window: float | None = None,
        session_timeout: float = KAFKA_SESSION_TIMEOUT,
        retry_topics: list[list[Topic]] | None = None,
    ) -> None:
        self.world = world
        self._env = world.env
        self.name = _check.name("name", name)
        self.code = world.records.names.code(name)
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
        self.faults = as_faults(faults)
        self.retry = _retry(retry)
        self.dead_letter = None if dead_letter is None else world.broker(dead_letter, "dead_letter")
        self.idempotent = _check.flag("idempotent", idempotent)
        self.idempotency_window = (
            None
            if idempotency_window is None
            else _check.positive("idempotency_window", idempotency_window)
        )
        self.session_timeout = _check.positive("session_timeout", session_timeout)
        count = _check.integer("consumers", consumers, minimum=1)
        names = world.records.names
        self.wanted_types = (
            None if self.event_types is None else frozenset(map(names.code, self.event_types))
        )
        self._processed = IdempotencyStore(self.idempotency_window)
        self._claims: dict[int, Any] = {}  # ids being processed now → released when done
        self._open: dict[int, Tally] = {}  # attempts of the events handed out, not yet settled
        self._transient = [f for f in self.faults if isinstance(f, TransientErrors)]
        self._poison = [f for f in self.faults if isinstance(f, PoisonEvents)]
        self._slowdowns = [f for f in self.faults if isinstance(f, Slowdown)]
        self.has_slowdowns = bool(self._slowdowns)
        self.has_failures = bool(self._transient or self._poison)
        self._fault_draw = (
            world.streams.generator("group", name, "faults").random if self._transient else None
        )
        self.finished = 0
        self._outcomes = world.records.outcomes.add
        self._published_at = world.records.events.published_at
        self._nobody = names.code("")  # the consumer of an outcome no consumer decided
        # names (and the random streams named after them) do not depend on the group's size
        self.members = [Consumer(self, f"{name}-{i}") for i in range(count)]
        self._check_fault_targets()
        self.feed = self._make_feed(source, retry_topics or [])

    def _make_feed(self, source: Any, retry_topics: list[list[Topic]]) -> Any:
        sources = source if isinstance(source, list | tuple) else [source]
        if not sources:
            raise ConfigError("source: expected a topic, a list of topics or a queue, got []")
        brokers = [self.world.broker(item, "source") for item in sources]
        if all(isinstance(b, Topic) for b in brokers):
            if len({b.name for b in brokers}) < len(brokers):
                raise ConfigError("source: a topic is listed twice")
            return TopicFeed(self, brokers, retry_topics or [[] for _ in brokers])
        if len(brokers) == 1 and brokers[0].kind == "queue":
            if self.event_types is not None:
                raise ConfigError(
                    f"event_types: the consumers of queue {brokers[0].name!r} receive every "
                    "message it holds (SQS has no per-consumer filter); subscribe the queue to "
                    "a fanout with filter_policy={'eventType': [...]} to choose what reaches it"
                )
            if not self.retry.blocking:
                raise ConfigError(
                    "retry: non-blocking retry topics are a Kafka pattern; a queue "
                    "redelivers after its visibility timeout (use blocking=True)"
                )
            from evsim.actors.queue_feed import QueueFeed

            return QueueFeed(self, brokers[0])
        kinds = ", ".join(f"{b.name!r} ({b.kind})" for b in brokers)
        raise ConfigTypeError(
            f"source: expected topics or one queue, got {kinds}; a fanout delivers to "
            "queues: subscribe a queue and read that"
        )

    def _check_fault_targets(self) -> None:
        names = {m.name for m in self.members}
        for index, fault in enumerate(self.faults):
            unknown = set(getattr(fault, "consumers", None) or ()) - names
            if unknown:
                raise ConfigError(
                    f"faults[{index}].consumers: no consumer named {sorted(unknown)[0]!r} in "
                    f"group {self.name!r} (its consumers: {', '.join(sorted(names))})"
                )

    def spec(self) -> dict:
        """The keyword arguments that rebuild this group (functions by name)."""
        feed = self.feed
        sources = [t.name for t in feed.topics] if isinstance(feed, TopicFeed) else [feed.name]
        return {
            "name": self.name,
            "source": sources if len(sources) > 1 else sources[0],
            "consumers": len(self.members),
            "service_time": self.service_time.spec(),
            "concurrency": self.concurrency,
            "handler": _plain(self.handler),
            "commit": self.commit,
            "commit_interval": self.commit_interval,
            "assignment": self.assignment,
            "event_types": None if self.event_types is None else list(self.event_types),
            "join_at": self.join_at,
            "offset_reset": self.offset_reset,
            "faults": [f.spec() for f in self.faults],
            "retry": self.retry.spec(),
            "dead_letter": None if self.dead_letter is None else self.dead_letter.name,
            "idempotent": self.idempotent,
            "idempotency_window": self.idempotency_window,
            "session_timeout": self.session_timeout,
        }

    # --- life cycle -------------------------------------------------------------------

    def launch(self) -> None:
        """Join at ``join_at``, start the consumers and the scheduled faults."""
        env = self._env
        if self.join_at <= env.now:
            self._join()
        else:
            env.call_later(self.join_at - env.now, lambda _timer: self._join())

    def _join(self) -> None:
        self.feed.join()
        for member in self.members:
            member.launch()
        env = self._env
        for index, fault in enumerate(self.faults):
            reason = f"{fault.kind}-{index}"  # a consumer is up once every reason is over
            if isinstance(fault, Crashes):
                for member in self.members:
                    if fault.applies_to(member.name):
                        env.process(self._crash_loop(member, fault, reason))
            elif isinstance(fault, Outage):
                env.process(self._outage(fault, reason))

    def _crash_loop(self, member: Consumer, fault: Crashes, reason: str) -> Iterator[Any]:
        stream = partial(self.world.streams.generator, "group", self.name, reason)
        up = fault.mttf.sampler(stream("up", member.name))
        down = fault.mttr.sampler(stream("down", member.name))
        env = self._env
        while True:
            yield env.timeout(up())
            member.crash(reason)
            yield env.timeout(down())
            member.restart(reason)

    def _outage(self, fault: Outage, reason: str) -> Iterator[Any]:
        """Down from ``start`` to ``end`` (absolute seconds): a group that joins during
        the outage is down from its join, one that joins after it never sees it."""
        env = self._env
        if fault.end <= env.now:
            return
        yield env.timeout(max(0.0, fault.start - env.now))
        members = [m for m in self.members if fault.applies_to(m.name)]
        for member in members:
            member.crash(reason)
        yield env.timeout(fault.end - env.now)
        for member in members:
            member.restart(reason)

    # --- what attempts consult --------------------------------------------------------------

    def injected_failure(self, event_id: int, attempt: int) -> Failure:
        """The error an injected fault causes on this attempt (NO_FAILURE if none)."""
        for poison in self._poison:
            if poison.is_poison(event_id, self.world.streams.seed, self._event(event_id)):
                return POISON
        if self._fault_draw is not None:
            for transient in self._transient:
                if self._fault_draw() < transient.p:
                    return failure(TransientError, f"attempt {attempt} failed")
        return NO_FAILURE

    def slowdown(self, now: float) -> float:
        """How many times longer service takes at ``now`` (1 outside any Slowdown)."""
        factor = 1.0
        for window in self._slowdowns:
            if window.start <= now < window.end:
                factor *= window.factor
        return factor

    def backoff_delays(self, consumer: str, worker: int) -> Callable[[int], float]:
        """A function giving the delay before retry n (0-based) for one worker."""
        backoff = self.retry.backoff
        if backoff.jitter == "none":
            return backoff.nominal
        draw = self.world.streams.generator("group", self.name, "backoff", consumer, str(worker))
        previous = [backoff.base]

        def delay(retry: int) -> float:
            previous[0] = backoff.delay(retry, previous[0], float(draw.random()))
            return previous[0]

        return delay

    def seen(self, event_id: int) -> bool:
        """Whether the idempotency store holds ``event_id`` (within its window)."""
        return self._processed.seen(event_id, self._env.now)

    def remember(self, event_id: int) -> None:
        """Note a processed event in the idempotency store."""
        self._processed.remember(event_id, self._env.now)

    def claim(self, event_id: int) -> Any:
        """Lock ``event_id`` in the idempotency store for one attempt, as a unique key in
        the consumer's database would; if another worker holds it, the event to wait for."""
        held = self._claims.get(event_id)
        if held is None:
            self._claims[event_id] = self._env.event()
        return held

    def unclaim(self, event_id: int) -> None:
        """Release the lock on ``event_id`` (the attempt ended, or its consumer crashed)."""
        held = self._claims.pop(event_id, None)
        if held is not None:
            held.succeed()

    # --- outcomes -----------------------------------------------------------------------

    def tally(self, event_id: int, settles: bool = True) -> Tally:
        """The attempts tally every delivery of ``event_id`` shares until its outcome is
        recorded (created at its first delivery). A delivery that ``settles`` nothing of
        an event already settled gets a tally of its own: a new delivery, counted from 1."""
        tally = self._open.get(event_id)
        if tally is None:
            tally = Tally(self._published_at[event_id])
            if settles:
                self._open[event_id] = tally
        return tally

    def settle(self, delivery: Delivery, outcome: int, consumer: Consumer | None) -> None:
        """Record the final outcome of the delivery's event for this group (once per
        event), with the attempts its tally counts; ``consumer`` is None for an outcome no
        consumer decided (a queue's expiry or move to its dead-letter queue)."""
        self._open.pop(delivery.event_id, None)
        code = self._nobody if consumer is None else consumer.code
        tally = delivery.tally
        tally.counted = tally.attempts
        self._outcomes(
            delivery.event_id, self.code, code, outcome, tally.attempts,
            tally.first_attempt_at, self._env.now, tally.published_at,
        )  # fmt: skip
        self.finished += 1

    def settle_unheld(
        self, event_id: int, outcome: int, consumer: Consumer | None = None, record_id: int = -1
    ) -> None:
        """Record the outcome of an event no delivery decided (it expired, was moved to a
        dead-letter queue by its queue, or was lost from a crashed consumer's hands), with
        the attempts made on it so far; ``record_id`` is the record that held it (the
        event itself by default, or its copy in a retry topic)."""
        record = event_id if record_id < 0 else record_id
        self.settle(Delivery(event_id, record, None, self.tally(event_id)), outcome, consumer)

    def give_up(self, delivery: Delivery, consumer: Consumer, where: dict[str, Any]) -> None:
        """No attempt left: dead-letter the event, or log and skip it (``lost``)."""
        if self.dead_letter is None:
            self.settle(delivery, LOST, consumer)
            return
        reason = (
            "retries exhausted"
            if delivery.attempts >= self.retry.max_attempts
            else ("not retryable")
        )
        extra = {
            headers.DLQ_REASON: reason,
            **where,
            headers.ATTEMPTS: delivery.attempts,
            headers.LAST_ERROR: delivery.error,
        }
        self.republish(delivery, self.dead_letter, extra)
        self.settle(delivery, DEAD_LETTERED, consumer)

    def republish(self, delivery: Delivery, target: Any, extra: dict[str, Any]) -> int:
        """Publish a copy of the delivered record to ``target`` (a retry topic or DLQ),
        with the attributes ``extra`` added (:mod:`evsim.actors.headers`); it copies the record
        the consumer read, so a retry copy's own headers travel on."""
        events = self.world.records.events
        record = delivery.record_id
        attributes = {**(events.attributes[record] or {}), **extra}
        return send(
            self.world, target, self.code, events.event_type[record], events.key[record],
            events.payload[record], cause=record, original=delivery.event_id,
            schema_version=events.schema_version[record], attributes=attributes,
        )  # fmt: skip

    # --- reading the state ----------------------------------------------------------------

    @property
    def routed(self) -> Any:
        """Ids of the events routed to this group, in the order they arrived."""
        return self.feed.routed

    @property
    def partitions(self) -> list[tuple[Topic, int]]:
        """The topic partitions the group reads (empty for a queue)."""
        return getattr(self.feed, "partitions", [])

    @property
    def consumers_up(self) -> int:
        """How many of the group's consumers are running."""
        return sum(map(_is_up, self.members))

    @property
    def plain(self) -> bool:
        """No handler, faults or idempotency: every attempt succeeds after its service time
        and no consumer crashes (its consumers then work on callbacks, without a process)."""
        return self.handler is None and not self.faults and not self.idempotent

    @property
    def active(self) -> bool:
        """Whether the group has joined."""
        return self.feed.active

    def lag(self, tp: int) -> int:
        """Kafka's consumer lag of partition ``tp``."""
        return self.feed.lag(tp)

    def in_system(self) -> int:
        """Events routed to the group and not yet finished (waiting or in service)."""
        return len(self.feed.routed) - self.finished

    def uncounted_running(self) -> Iterator[int]:
        """The event of each attempt in progress now that its event's recorded outcome
        counts (begun before the outcome was decided): a run stopping now leaves it
        without a row, so the outcome's count must not include it."""
        for member in self.members:
            for delivery, number, _started in member.running():
                if number <= delivery.tally.counted:
                    yield delivery.event_id

    def unfinished(self) -> Iterator[tuple[int, int, Consumer | None]]:
        """(event id, outcome, consumer) of the routed events without an outcome yet."""
        return self.feed.unfinished()

    def _event(self, event_id: int) -> Callable[[], Any]:
        return lambda: self.world.records.events.event(event_id)


POISON = failure(PoisonEventError, "the event cannot be processed")


def _retry(value: Retry | None) -> Retry:
    if value is None:
        return NO_RETRY
    if not isinstance(value, Retry):
        raise ConfigTypeError(f"retry: expected ev.Retry(max_attempts=...), got {value!r}")
    return value


def _plain(value: Any) -> Any:
    return None if value is None else getattr(value, "__qualname__", repr(value))


def _event_types(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items:
        raise ConfigError("event_types: expected event type names or None, got an empty list")
    for item in items:
        _check.name("event_types", item)
    return items
