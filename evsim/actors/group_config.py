"""A consumer group's description: every setting, checked once, with the real system's rule.

:class:`GroupConfig` is the one place a group's keyword arguments are spelled:
``sim.consumer_group(...)`` takes its fields (its signature is read from here), scenario
files' ``consumer_groups`` entries are checked against them, and
:class:`~evsim.actors.group.ConsumerGroup` is built from one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from evsim import _check, limits
from evsim.actors.autoscale import Autoscale
from evsim.actors.faults import CapacityLoss, Fault, as_faults
from evsim.actors.retry import NO_RETRY, Retry
from evsim.actors.work_config import WorkFields
from evsim.component_config import ComponentConfig
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.dist import Distribution, as_distribution

COMMIT_MODES = ("after", "before")
OFFSET_RESETS = ("latest", "earliest")
ASSIGNORS = ("range", "roundrobin", "sticky")
KAFKA_AUTO_COMMIT_INTERVAL = 5.0  # seconds, auto.commit.interval.ms = 5000
KAFKA_SESSION_TIMEOUT = 45.0  # seconds, session.timeout.ms since Kafka 3.0


@dataclass(frozen=True)
class GroupConfig(WorkFields, ComponentConfig):
    """A consumer group reading ``source``: a topic, a list of topics, or a queue.

    Times are seconds. The real system's rule or default follows each field: Kafka (with
    Spring for Apache Kafka for retries) for a group reading topics, Amazon SQS for one
    reading a queue. Fields marked *topics* do nothing for a queue.

    ``name``
        unique among the simulation's components (Kafka's ``group.id``).
    ``source``
        a topic, a list of topics, or a queue, or their names. Every group reading a
        topic gets every record of it; consumers of one queue compete for its messages.
        To read a fanout, subscribe a queue to it and read the queue.
    ``consumers``
        members of the group (>= 1, default 1). In Kafka a partition has exactly one
        owner in a group, so consumers beyond the partition count sit idle (Spring's
        container ``concurrency`` is this number).
    ``service_time``
        seconds one processing attempt takes, a distribution or a number (default 0). In
        seconds: ``service_time=20`` is 20 s; 20 ms is ``0.02`` or
        ``ev.Exponential(mean=0.02)``. A run warns when a group's utilisation (the
        summary's ``utilisation``: events per second x mean attempt time / slots) reaches 1.
    ``concurrency``
        workers per consumer (>= 1, default 1). A Kafka consumer's poll loop handles one
        record at a time (the default); more workers act as a pool behind it, never on two
        records of one partition at once, so a group reading topics has
        min(consumers x concurrency, partitions) slots. A queue's consumer handles
        ``concurrency`` messages at once.
    ``handler``
        ``fn(event, ctx)``, called in each attempt once its service time has passed
        (unless an injected fault failed it); it may be a generator (``yield
        ctx.timeout(s)`` waits, and the wait is part of the attempt), publishes follow-ups
        with ``ctx.publish``, and fails the attempt by raising. Default None: an attempt
        is its service time.
    ``commit``
        the delivery guarantee. ``"after"`` (the default): at-least-once; offsets are
        committed, or queue messages deleted, after processing, so a crash before the
        commit delivers an event again (``duplicates``). Kafka's default
        (``enable.auto.commit=true``, committing what earlier polls returned) and Spring's
        (``AckMode.BATCH``) behave so. ``"before"``: at-most-once; committed (deleted) on
        receipt, so a crash loses the events in hand (``lost``) instead of delivering them
        again.
    ``assignment``
        *topics*: how partitions are shared among consumers: ``"range"`` (the default),
        ``"roundrobin"``, ``"sticky"`` (``partition.assignment.strategy``; Kafka 3.0+
        defaults to [RangeAssignor, CooperativeStickyAssignor], i.e. range until every
        member supports cooperative sticky). Range gives the first consumers one more
        partition each when they do not divide evenly.
    ``event_types``
        *topics*: the event types the group handles (a name or a list); the other records
        are read and skipped, as a consumer returning early would. Default None: all.
        Refused for a queue, whose consumers receive every message (SQS has no
        per-consumer filter): filter with a fanout subscription's ``filter_policy``.
    ``faults``
        failures to inject: ``ev.TransientErrors``, ``ev.PoisonEvents``, ``ev.Crashes``,
        ``ev.Outage``, ``ev.Slowdown``, and ``ev.Contention`` (attempts racing over one
        resource under optimistic concurrency; the losers fail with a conflict). One or a
        list; default none.
    ``retry``
        ``ev.Retry(max_attempts, backoff, blocking=True)``; default None: one attempt,
        then the dead-letter target (or ``lost``). Spring's ``DefaultErrorHandler``
        defaults to 10 attempts with no back-off (``FixedBackOff(0, 9)``), its
        ``@RetryableTopic`` to 3 attempts 1 s apart. Blocking retries hold the partition
        during the back-off; ``blocking=False`` publishes to ``<topic>-retry-<delay ms>``
        topics and, unless ``dead_letter`` is given, ``<topic>-dlt`` (Spring's
        ``@RetryableTopic``; topics only: a queue redelivers after its visibility timeout).
    ``dead_letter``
        a topic or queue (a name not defined yet creates a topic with the source's
        partitions, or a queue for a group reading a queue) for events whose attempts are
        exhausted, with the reason and last error in their attributes (Spring's
        ``DeadLetterPublishingRecoverer``). Default None: logged and skipped, ``lost``
        (Spring's default recoverer). A queue's own redrive policy
        (``sim.queue(dead_letter=...)``) is separate.
    ``idempotent``
        skip events already processed (an idempotency store keyed by event id; the skips
        are attempts with status ``duplicate``), so at-least-once delivery applies each
        event once. Default False: Kafka and SQS consumers have no such store (Kafka's
        ``enable.idempotence``, default true since 3.0, is the producer's, against
        duplicates from send retries).
    ``idempotency_window``
        seconds the store remembers an id (default None: for ever); a redelivery later
        than that is applied again.
    ``commit_interval``
        *topics*, with ``commit="after"``: seconds between offset commits
        (``auto.commit.interval.ms``, default 5000 ms = 5 s); 0 commits after every record
        (Spring's ``AckMode.RECORD``). Lag saw-tooths up to this long.
    ``session_timeout``
        *topics*: seconds without heartbeats before a crashed consumer's partitions go to
        the others (``session.timeout.ms``, default 45 s since Kafka 3.0, 10 s before);
        until then they are not read.
    ``join_at``
        seconds at which the group joins and starts reading (default 0).
    ``offset_reset``
        *topics*: where a group with no committed offset starts when it joins:
        ``"latest"`` (the log end, the default, ``auto.offset.reset=latest``) or
        ``"earliest"`` (the oldest retained record).
    ``autoscale``
        ``ev.LagAutoscaler(lag_threshold, ...)`` for a group reading topics or
        ``ev.QueueAutoscaler(queue_length=5, ...)`` for one reading a queue: add and remove
        consumers on the backlog by KEDA's rules (:mod:`evsim.actors.autoscale`), starting
        from ``consumers``. Default None: the group keeps its ``consumers``.
    """

    METHOD: ClassVar[str] = "consumer_group"

    name: str
    source: Any
    consumers: int = 1
    service_time: Distribution | float = 0.0
    concurrency: int = 1
    handler: Callable[..., Any] | None = None
    commit: str = "after"
    assignment: str = "range"
    event_types: Iterable[str] | str | None = None
    _: KW_ONLY
    faults: Iterable[Fault] | Fault | None = None
    retry: Retry | None = None
    dead_letter: Any = None
    idempotent: bool = False
    idempotency_window: float | None = None
    commit_interval: float = KAFKA_AUTO_COMMIT_INTERVAL
    session_timeout: float = KAFKA_SESSION_TIMEOUT
    join_at: float = 0.0
    offset_reset: str = "latest"
    autoscale: Autoscale | None = None

    def __post_init__(self) -> None:
        """Check every field, in the order of the signature, and keep its normal form
        (a Distribution, a list of faults, a Retry, a tuple of event types)."""
        checked: dict[str, Any] = {
            "name": _check.name("name", self.name),
            "consumers": _check.integer("consumers", self.consumers, minimum=1),
            "service_time": as_distribution(self.service_time, "service_time"),
            "concurrency": _check.integer("concurrency", self.concurrency, minimum=1),
            "handler": _handler(self.handler),
            "commit": _check.choice("commit", self.commit, COMMIT_MODES),
            "assignment": _check.choice("assignment", self.assignment, ASSIGNORS),
            "event_types": _event_types(self.event_types),
            "faults": _group_faults(as_faults(self.faults)),
            "retry": _retry(self.retry),
            "idempotent": _check.flag("idempotent", self.idempotent),
            "idempotency_window": (
                None
                if self.idempotency_window is None
                else _check.positive("idempotency_window", self.idempotency_window)
            ),
            "commit_interval": _check.non_negative("commit_interval", self.commit_interval),
            "session_timeout": _check.positive("session_timeout", self.session_timeout),
            "join_at": _check.non_negative("join_at", self.join_at),
            "offset_reset": _check.choice("offset_reset", self.offset_reset, OFFSET_RESETS),
            "autoscale": _autoscale(self.autoscale),
        }
        limits.workers(checked["consumers"], checked["concurrency"])
        if checked["autoscale"] is not None:
            limits.workers(checked["autoscale"].max_replicas, checked["concurrency"])
        self._keep(checked)

    @property
    def plain(self) -> bool:
        """No handler, faults or idempotency: every attempt succeeds after its service time
        and no consumer crashes (its consumers then work on callbacks, without a process)."""
        return self.handler is None and not self.faults and not self.idempotent

    @property
    def retry_policy(self) -> Retry:
        """The retry policy (:data:`~evsim.actors.retry.NO_RETRY` when none was given)."""
        return self.retry if isinstance(self.retry, Retry) else NO_RETRY

    # The fields as __post_init__ left them, typed for the checker (service_time and
    # faults: WorkFields): a field's type is what a caller may give.

    @property
    def handled_types(self) -> tuple[str, ...] | None:
        """``event_types`` as a tuple of names (None: every type)."""
        event_types = self.event_types
        assert event_types is None or isinstance(event_types, tuple)
        return event_types

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this group, as plain data (functions by name,
        brokers by name)."""
        sources = self.source if isinstance(self.source, list | tuple) else [self.source]
        names = [_name_of(item) for item in sources]
        return {
            "name": self.name,
            "source": names if len(names) > 1 else names[0],
            "consumers": self.consumers,
            "service_time": self.service_distribution.spec(),
            "concurrency": self.concurrency,
            "handler": None if self.handler is None else _qualname(self.handler),
            "commit": self.commit,
            "commit_interval": self.commit_interval,
            "assignment": self.assignment,
            "event_types": None if self.event_types is None else list(self.event_types),
            "join_at": self.join_at,
            "offset_reset": self.offset_reset,
            "faults": [f.spec() for f in self.fault_list],
            "retry": self.retry_policy.spec(),
            "dead_letter": None if self.dead_letter is None else _name_of(self.dead_letter),
            "idempotent": self.idempotent,
            "idempotency_window": self.idempotency_window,
            "session_timeout": self.session_timeout,
            # only when set, so that the config of a group without it reads as before
            **({} if self.autoscale is None else {"autoscale": self.autoscale.spec()}),
        }


def _handler(value: Callable[..., Any] | None) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise ConfigTypeError(f"handler: expected a function fn(event, ctx), got {value!r}")
    return value


def _group_faults(faults: list[Fault]) -> list[Fault]:
    for index, fault in enumerate(faults):
        if isinstance(fault, CapacityLoss):  # it would be ignored: a group has no workers
            raise ConfigTypeError(
                f"faults[{index}]: ev.CapacityLoss takes workers from a service; a consumer "
                f"group loses consumers by ev.Crashes or ev.Outage, got {fault!r}"
            )
    return faults


def _retry(value: Retry | None) -> Retry:
    if value is None:
        return NO_RETRY
    if not isinstance(value, Retry):
        raise ConfigTypeError(f"retry: expected ev.Retry(max_attempts=...), got {value!r}")
    return value


def _autoscale(value: Autoscale | None) -> Autoscale | None:
    if value is not None and not isinstance(value, Autoscale):
        raise ConfigTypeError(
            "autoscale: expected ev.LagAutoscaler(lag_threshold=...) (topics), "
            f"ev.QueueAutoscaler(queue_length=...) (a queue) or None, got {value!r}"
        )
    return value


def _event_types(value: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items:
        raise ConfigError("event_types: expected event type names or None, got an empty list")
    for item in items:
        _check.name("event_types", item)
    return items


def _name_of(broker: Any) -> str:
    return broker if isinstance(broker, str) else str(broker.name)


def _qualname(value: Any) -> str:
    return str(getattr(value, "__qualname__", repr(value)))
