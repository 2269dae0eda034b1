"""Consumer groups: what a group of consumers does with the events routed to it.

The group holds what its consumers share: its settings (:class:`GroupConfig`), the
attempt policy (faults, retries, backoff: :mod:`evsim.actors.attempts`), the dead-letter
target, the idempotency store, and the record of each event's outcome. Where events come
from is its feed's business: partitions of topics (:mod:`evsim.actors.topic_feed`,
Kafka's rules) or an SQS-like queue (:mod:`evsim.actors.queue_feed`).

Rules modelled: an event whose attempts are exhausted (or whose error is not retried) is
written to the dead-letter target with the reason, its original coordinates, the attempt
count and the last error (Spring's ``DeadLetterPublishingRecoverer``); without one it is
logged and skipped (Spring's default recoverer) and ends as ``lost``. An idempotent
consumer keeps the ids it has processed (for ``idempotency_window`` seconds, or for ever)
and skips them when they come again. An autoscaled group (``autoscale=``) adds and
removes consumers by KEDA's rules (:mod:`evsim.actors.autoscale`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from functools import partial
from typing import Any

from evsim.actors import headers
from evsim.actors.attempts import AttemptPolicy
from evsim.actors.autoscale import Autoscaler, LagAutoscaler, QueueAutoscaler
from evsim.actors.consumer import Consumer
from evsim.actors.delivery import Delivery, Tally
from evsim.actors.faults import Crashes, Outage
from evsim.actors.group_config import GroupConfig
from evsim.actors.idempotency import IdempotencyStore
from evsim.actors.producer import send
from evsim.actors.queue_feed import QueueFeed, ScaledQueueFeed
from evsim.actors.roles import Member, Unfinished
from evsim.actors.topic_feed import TopicFeed
from evsim.brokers.log import Topic
from evsim.brokers.world import World
from evsim.component_config import reads_settings
from evsim.engine import Steps
from evsim.errors import ConfigError, ConfigTypeError
from evsim.records import DEAD_LETTERED, LOST, Outcome

_is_up = operator.attrgetter("up")


@reads_settings(GroupConfig)
class ConsumerGroup:
    """A group of consumers sharing the work of one source (topics or a queue).

    Built from a :class:`GroupConfig` (``retry_topics``: the retry topics of non-blocking
    retries, one chain per source topic, made by the simulation). It hands its feed, its
    attempt policy and its idempotency store to each consumer, and itself to the feed and
    the consumers as their :class:`~evsim.actors.roles.GroupServices`.
    """

    kind = "consumer_group"
    __slots__ = ("_env", "_nobody", "_open", "_outcomes", "_published_at", "autoscaler", "code",
                 "config", "dead_letter", "feed", "finished", "left", "members", "name",
                 "policy", "store", "world")  # fmt: skip

    def __init__(
        self, world: World, config: GroupConfig, retry_topics: list[list[Topic]] | None = None
    ) -> None:
        self.world = world
        self._env = world.env
        self.config = config
        self.name = config.name
        names = world.records.names
        self.code = names.code(config.name)
        _check_fault_targets(config)
        self.dead_letter = (
            None if config.dead_letter is None else world.broker(config.dead_letter, "dead_letter")
        )
        events = world.records.events
        self.policy = AttemptPolicy(
            world.streams, config.name, config.fault_list, config.retry_policy, events.event
        )
        self.store = IdempotencyStore(config.idempotency_window) if config.idempotent else None
        self._open: dict[int, Tally] = {}  # attempts of the events handed out, not yet settled
        self.finished = 0
        self._outcomes = world.records.outcomes.add
        self._published_at = events.published_at
        self.members: list[Consumer] = []
        self.feed = self._make_feed(retry_topics or [])
        self._nobody = names.code("")  # the consumer of an outcome no consumer decided
        # names (and the random streams named after them) do not depend on the group's size
        self.members.extend(
            Consumer(self, self.feed, self.policy, self.store, f"{config.name}-{i}")
            for i in range(config.consumers)
        )
        self.left: list[Consumer] = []  # members that left (scaled in), for their last work
        autoscale = config.autoscale
        self.autoscaler = None if autoscale is None else Autoscaler(self, autoscale)

    def _make_feed(self, retry_topics: list[list[Topic]]) -> TopicFeed | QueueFeed:
        source = self.config.source
        sources = source if isinstance(source, list | tuple) else [source]
        if not sources:
            raise ConfigError("source: expected a topic, a list of topics or a queue, got []")
        brokers = [self.world.broker(item, "source") for item in sources]
        autoscale = self.config.autoscale
        if all(isinstance(b, Topic) for b in brokers):
            if len({b.name for b in brokers}) < len(brokers):
                raise ConfigError("source: a topic is listed twice")
            if isinstance(autoscale, QueueAutoscaler):
                raise ConfigError(
                    "autoscale: ev.QueueAutoscaler scales on a queue's messages; a group "
                    "reading topics scales on its lag: ev.LagAutoscaler(lag_threshold=...)"
                )
            return TopicFeed(self, brokers, retry_topics or [[] for _ in brokers])
        if len(brokers) == 1 and brokers[0].kind == "queue":
            if isinstance(autoscale, LagAutoscaler):
                raise ConfigError(
                    f"autoscale: ev.LagAutoscaler scales on a topic's lag; queue "
                    f"{brokers[0].name!r} has none: use ev.QueueAutoscaler(queue_length=5), "
                    "KEDA's SQS rule (messages per consumer)"
                )
            if self.config.event_types is not None:
                raise ConfigError(
                    f"event_types: the consumers of queue {brokers[0].name!r} receive every "
                    "message it holds (SQS has no per-consumer filter); subscribe the queue to "
                    "a fanout with filter_policy={'eventType': [...]} to choose what reaches it"
                )
            if not self.config.retry_policy.blocking:
                raise ConfigError(
                    "retry: non-blocking retry topics are a Kafka pattern; a queue "
                    "redelivers after its visibility timeout (use blocking=True)"
                )
            return (QueueFeed if autoscale is None else ScaledQueueFeed)(self, brokers[0])
        kinds = ", ".join(f"{b.name!r} ({b.kind})" for b in brokers)
        raise ConfigTypeError(
            f"source: expected topics or one queue, got {kinds}; a fanout delivers to "
            "queues: subscribe a queue and read that"
        )

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this group (functions by name)."""
        return self.config.spec()

    # --- life cycle -------------------------------------------------------------------

    def launch(self) -> None:
        """Join at ``join_at``, start the consumers and the scheduled faults."""
        env = self._env
        join_at = self.config.join_at
        if join_at <= env.now:
            self._join()
        else:
            env.call_later(join_at - env.now, lambda _timer: self._join())

    def _join(self) -> None:
        self.feed.join()
        for member in self.members:
            member.launch()
        env = self._env
        for index, fault in enumerate(self.config.fault_list):
            reason = f"{fault.kind}-{index}"  # a consumer is up once every reason is over
            if isinstance(fault, Crashes):
                for member in self.members:
                    if fault.applies_to(member.name):
                        env.process(self._crash_loop(member, fault, reason))
            elif isinstance(fault, Outage):
                env.process(self._outage(fault, reason))
        if self.autoscaler is not None:
            self.autoscaler.start()

    # --- autoscaling (evsim.actors.autoscale) -------------------------------------------

    def new_member(self, name: str) -> Consumer:
        """A consumer called ``name`` for this group, not started yet."""
        return Consumer(self, self.feed, self.policy, self.store, name)

    def add_member(self, member: Consumer) -> None:
        """Start ``member`` (its workers and its crash faults) and let it join: the feed
        rebalances as for any member that comes up (Kafka's JoinGroup)."""
        self.members.append(member)
        member.launch()
        for index, fault in enumerate(self.config.fault_list):
            if isinstance(fault, Crashes) and fault.applies_to(member.name):
                self._env.process(self._crash_loop(member, fault, f"{fault.kind}-{index}"))
        self.feed.member_up(member)

    def remove_member(self, member: Consumer) -> None:
        """``member`` leaves the group for good. One that is up leaves gracefully: it
        finishes what it holds, and the feed lets it go (a topic consumer commits and its
        partitions are rebalanced now); one that is down (crashed) just stays down, and its
        partitions move when its session times out."""
        was_up = member.up
        member.leave()
        if was_up:
            feed = self.feed
            assert isinstance(feed, TopicFeed | ScaledQueueFeed)  # an autoscaled group's
            feed.member_left(member)
        self.members.remove(member)
        self.left.append(member)

    def _crash_loop(self, member: Consumer, fault: Crashes, reason: str) -> Steps:
        stream = partial(self.world.streams.generator, "group", self.name, reason)
        up = fault.mttf.sampler(stream("up", member.name))
        down = fault.mttr.sampler(stream("down", member.name))
        env = self._env
        while True:
            yield env.timeout(up())
            member.crash(reason)
            yield env.timeout(down())
            member.restart(reason)

    def _outage(self, fault: Outage, reason: str) -> Steps:
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

    # --- outcomes -----------------------------------------------------------------------

    def tally(self, event_id: int) -> Tally:
        """The attempts tally every delivery of ``event_id`` shares until its outcome is
        recorded (created at its first delivery)."""
        tally = self._open.get(event_id)
        if tally is None:
            tally = self._open[event_id] = Tally(self._published_at[event_id])
        return tally

    def settle(self, delivery: Delivery[object], outcome: Outcome, consumer: Member | None) -> None:
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
        self, event_id: int, outcome: Outcome, consumer: Member | None = None, record_id: int = -1
    ) -> None:
        """Record the outcome of an event no delivery decided (it expired, was moved to a
        dead-letter queue by its queue, or was lost from a crashed consumer's hands), with
        the attempts made on it so far; ``record_id`` is the record that held it (the
        event itself by default, or its copy in a retry topic)."""
        record = event_id if record_id < 0 else record_id
        self.settle(Delivery(event_id, record, None, self.tally(event_id)), outcome, consumer)

    def give_up(self, delivery: Delivery[object], consumer: Member, where: dict[str, Any]) -> None:
        """No attempt left: dead-letter the event, or log and skip it (``lost``)."""
        if self.dead_letter is None:
            self.settle(delivery, LOST, consumer)
            return
        exhausted = delivery.attempts >= self.config.retry_policy.max_attempts
        reason = "retries exhausted" if exhausted else "not retryable"
        extra = {
            headers.DLQ_REASON: reason,
            **where,
            headers.ATTEMPTS: delivery.attempts,
            headers.LAST_ERROR: delivery.error,
        }
        self.republish(delivery, self.dead_letter, extra)
        self.settle(delivery, DEAD_LETTERED, consumer)

    def republish(self, delivery: Delivery[object], target: Any, extra: dict[str, Any]) -> int:
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
    def plain(self) -> bool:
        """See :attr:`GroupConfig.plain`."""
        return self.config.plain

    @property
    def consumers_up(self) -> int:
        """How many of the group's consumers are running."""
        return sum(map(_is_up, self.members))

    @property
    def most_consumers(self) -> int:
        """The most consumers the group had at once: its consumers, unless autoscaled."""
        return len(self.members) if self.autoscaler is None else self.autoscaler.peak

    @property
    def active(self) -> bool:
        """Whether the group has joined."""
        return self.feed.active

    def lag(self, tp: int) -> int:
        """Kafka's consumer lag of partition ``tp`` (a group reading topics)."""
        feed = self.feed
        if not isinstance(feed, TopicFeed):
            raise TypeError(f"lag: group {self.name!r} reads a queue, which has no partitions")
        return feed.lag(tp)

    def in_system(self) -> int:
        """Events routed to the group and not yet finished (waiting or in service)."""
        return len(self.feed.routed) - self.finished

    def uncounted_running(self) -> Iterator[int]:
        """The event of each attempt in progress now that its event's recorded outcome
        counts (begun before the outcome was decided): a run stopping now leaves it
        without a row, so the outcome's count must not include it."""
        for member in (*self.members, *self.left):
            for delivery, number, _started in member.running():
                if number <= delivery.tally.counted:
                    yield delivery.event_id

    def unfinished(self) -> Iterator[Unfinished]:
        """(event id, outcome, consumer) of the routed events without an outcome yet."""
        return self.feed.unfinished()


def _check_fault_targets(config: GroupConfig) -> None:
    """Refuse a fault aimed at a consumer the group does not have (``g-0`` .. ``g-N``)."""
    names = {f"{config.name}-{i}" for i in range(config.consumers)}
    for index, fault in enumerate(config.fault_list):
        unknown = set(getattr(fault, "consumers", None) or ()) - names
        if unknown:
            raise ConfigError(
                f"faults[{index}].consumers: no consumer named {sorted(unknown)[0]!r} in "
                f"group {config.name!r} (its consumers: {', '.join(sorted(names))})"
            )
