"""Autoscaling a consumer group on its backlog, by KEDA's rules (``autoscale=`` of a group).

:class:`LagAutoscaler` scales a group reading topics on its consumer lag, as KEDA's Apache
Kafka scaler does; :class:`QueueAutoscaler` scales a group reading a queue on its message
count, as KEDA's AWS SQS queue scaler does. Two classes rather than one with a
``lag_threshold`` read as "messages per consumer" for a queue: the metrics, their
defaults and their options differ (KEDA's ``lagThreshold`` and ``allowIdleConsumers``;
``queueLength``, default 5, and ``scaleOnInFlight``). A group refuses the one that does
not fit its source.

The control loop (:class:`Autoscaler`), every ``polling_interval`` seconds from the join:

1. The metric: *topics*, the group's total lag, the sum over every partition it reads
   (log-end offset − committed offset; KEDA's scaler without ``topic`` sums all the
   group's topics). *Queue*, SQS's ApproximateNumberOfMessages, plus
   …NotVisible (in flight) when ``scale_on_in_flight`` (KEDA's default), plus …Delayed
   when ``scale_on_delayed`` (not by default).
2. The recommendation, the HPA's formula for KEDA's ``AverageValue`` target:
   ``desired = ceil(metric / target)``; for topics no more than the partitions the group
   reads unless ``allow_idle_consumers`` (KEDA's documented cap; its code caps the lag
   with an integer division, so a lag strictly between P×T and (P+1)×T still gets P + 1
   replicas: evsim follows the documentation); then clamped to
   [``min_consumers``, ``max_consumers``]. The ``desired_consumers`` gauge shows it.
3. Scale up at once to the recommendation (the HPA's default scale-up has no
   stabilization window): each new consumer joins after its ``startup`` seconds and its
   join triggers a rebalance, as any member's does.
4. Scale down to the highest recommendation of the polls in the last ``cooldown``
   seconds (the HPA's scale-down stabilization window, 300 s by default, as KEDA's
   ``cooldownPeriod``): so a group scales down only once ``cooldown`` seconds have passed
   since a poll last recommended more, or since it started (its initial ``consumers``,
   clamped to [``min_consumers``, ``max_consumers``], count as a recommendation made at
   the join, so more than ``max_consumers`` go at the first poll; an HPA with no history
   may scale down at its first sync). With ``min_consumers=0`` a group goes to zero
   once no poll has seen a backlog for ``cooldown`` seconds: KEDA's ``cooldownPeriod``
   rule for scaling to zero (its ``activationLagThreshold`` and ``activationQueueLength``
   at their default, 0).
5. Removing consumers, in the order a ReplicaSet deletes pods: those still starting
   (they never join), then those that are down (crashed), then the newest. A consumer
   that is up leaves gracefully: it finishes the events in its hands, a topic
   consumer commits what it processed and leaves the group, whose partitions are
   rebalanced at once (:mod:`evsim.actors.topic_membership`), a queue consumer stops
   receiving (:class:`~evsim.actors.queue_feed.ScaledQueueFeed`). A crashed one cannot
   send a LeaveGroup: its partitions move when its session times out, as before.

Not modelled: the HPA's 10 % tolerance (it skips changes within 10 % of the target), its
scale-up rate limit (by default the larger of doubling and 4 pods more per period: 15 s in
the HPA documentation's default behaviour, 60 s in the API reference's wording), KEDA's
activation thresholds above 0, and the two loops of Kubernetes (KEDA polls its scalers
every ``pollingInterval`` for 0 ↔ 1, the HPA reads the metric every 15 s for 1 ↔ N): here
one loop decides every ``polling_interval`` (set 15 for the HPA's sync period).

Sources: KEDA's ScaledObject specification (pollingInterval 30 s, cooldownPeriod 300 s,
minReplicaCount 0, maxReplicaCount 100), its Apache Kafka scaler (lagThreshold,
allowIdleConsumers false: "the number of replicas will not exceed the number of
partitions") and AWS SQS queue scaler (queueLength 5, scaleOnInFlight true,
scaleOnDelayed false) pages, and kedacore/keda's ``pkg/scalers/kafka_scaler.go``
(``getTotalLag``) and ``aws_sqs_queue_scaler.go``; the Kubernetes Horizontal Pod
Autoscaler documentation (``desiredReplicas = ceil[currentReplicas × currentMetricValue /
desiredMetricValue]``; scale-down "with a 300 second stabilization window (i.e., the
highest recommendation for the last 300sec is used)", scale-up with none; minReplicas 1,
``--horizontal-pod-autoscaler-initial-readiness-delay`` 30 s).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from evsim import _check, limits
from evsim.brokers.world import World
from evsim.errors import ConfigError
from evsim.workload.dist import Distribution, as_distribution
from evsim.workload.specs import Specified

KEDA_POLLING_INTERVAL = 30.0  # seconds: ScaledObject pollingInterval
KEDA_COOLDOWN_PERIOD = 300.0  # seconds: cooldownPeriod, and the HPA's scale-down window
KEDA_MAX_REPLICA_COUNT = 100  # maxReplicaCount
HPA_MIN_REPLICAS = 1  # the HPA's minReplicas (KEDA's minReplicaCount defaults to 0)
STARTUP = 30.0  # seconds: the HPA's initial readiness delay, its allowance for a new pod
KEDA_SQS_QUEUE_LENGTH = 5  # messages per replica: queueLength


class Autoscale(Specified):
    """What both autoscalers take (see :mod:`evsim.actors.autoscale` for the rule).

    ``min_consumers``
        the fewest consumers (>= 0, default 1, the HPA's minReplicas); 0 lets an idle
        group scale to zero, as KEDA's ``minReplicaCount`` (whose own default is 0).
    ``max_consumers``
        the most consumers (>= ``min_consumers``); None (the default) is KEDA's
        ``maxReplicaCount`` default, 100.
    ``polling_interval``
        seconds between two decisions (> 0, default 30: KEDA's ``pollingInterval``).
    ``cooldown``
        seconds a lower recommendation must last before the group scales down (>= 0,
        default 300: KEDA's ``cooldownPeriod`` and the HPA's scale-down stabilization
        window).
    ``startup``
        seconds from the decision to add a consumer until it joins the group, a
        distribution or a number (default 30: the HPA's
        ``--horizontal-pod-autoscaler-initial-readiness-delay``, the time it allows a new
        pod to become ready; a pod's scheduling, image pull and start, then the consumer's
        group join, take seconds to minutes). Drawn per consumer from the group's own
        random stream.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self,
        min_consumers: int = HPA_MIN_REPLICAS,
        max_consumers: int | None = None,
        polling_interval: float = KEDA_POLLING_INTERVAL,
        cooldown: float = KEDA_COOLDOWN_PERIOD,
        startup: Distribution | float = STARTUP,
    ) -> None:
        self.min_consumers = _check.integer("min_consumers", min_consumers, minimum=0)
        self.max_consumers = (
            None
            if max_consumers is None
            else _check.integer("max_consumers", max_consumers, minimum=1)
        )
        if self.max_replicas < self.min_consumers:
            raise ConfigError(
                f"max_consumers: must be >= min_consumers ({self.min_consumers}), got "
                f"{'None (KEDA default 100)' if max_consumers is None else max_consumers}"
            )
        limits.at_most("max_consumers", self.max_replicas, "MAX_WORKERS", "one worker or more each")
        self.polling_interval = _check.positive("polling_interval", polling_interval)
        self.cooldown = _check.non_negative("cooldown", cooldown)
        self.startup = as_distribution(startup, "startup")

    @property
    def max_replicas(self) -> int:
        """``max_consumers``, or KEDA's default maxReplicaCount (100) for None."""
        return KEDA_MAX_REPLICA_COUNT if self.max_consumers is None else self.max_consumers

    def clamp(self, consumers: int) -> int:
        """``consumers`` within [``min_consumers``, ``max_consumers``]."""
        return max(self.min_consumers, min(self.max_replicas, consumers))

    def _params(self) -> dict[str, Any]:
        return {
            "min_consumers": self.min_consumers,
            "max_consumers": self.max_consumers,
            "polling_interval": self.polling_interval,
            "cooldown": self.cooldown,
            "startup": self.startup.spec(),
        }


class LagAutoscaler(Autoscale):
    """Scale a group reading topics on its total consumer lag: KEDA's Apache Kafka scaler.

    ``lag_threshold``
        the lag each consumer is to handle (> 0; KEDA's ``lagThreshold``, default 10 in
        its code, 5 in some versions of its documentation: evsim has none, give it):
        ``desired = ceil(total lag / lag_threshold)``.
    ``allow_idle_consumers``
        let ``desired`` exceed the partitions the group reads (KEDA's
        ``allowIdleConsumers``, default False: a partition has one owner in a group, so
        the extra consumers would sit idle).

    The other arguments are :class:`Autoscale`'s.
    """

    kind = "lag_autoscaler"

    def __init__(
        self,
        lag_threshold: float,
        min_consumers: int = HPA_MIN_REPLICAS,
        max_consumers: int | None = None,
        polling_interval: float = KEDA_POLLING_INTERVAL,
        cooldown: float = KEDA_COOLDOWN_PERIOD,
        startup: Distribution | float = STARTUP,
        allow_idle_consumers: bool = False,
    ) -> None:
        self.lag_threshold = _check.positive("lag_threshold", lag_threshold)
        super().__init__(min_consumers, max_consumers, polling_interval, cooldown, startup)
        self.allow_idle_consumers = _check.flag("allow_idle_consumers", allow_idle_consumers)

    def desired_consumers(self, lag: float, partitions: int) -> int:
        """KEDA's recommendation for a total ``lag`` over ``partitions`` partitions."""
        desired = math.ceil(lag / self.lag_threshold)
        if not self.allow_idle_consumers:
            desired = min(desired, partitions)
        return self.clamp(desired)

    def _params(self) -> dict[str, Any]:
        return {
            "lag_threshold": self.lag_threshold,
            **super()._params(),
            "allow_idle_consumers": self.allow_idle_consumers,
        }


class QueueAutoscaler(Autoscale):
    """Scale a group reading a queue on its messages: KEDA's AWS SQS queue scaler.

    ``queue_length``
        the messages each consumer is to handle (> 0, default 5: KEDA's ``queueLength``):
        ``desired = ceil(messages / queue_length)``.
    ``scale_on_in_flight``
        count the messages received and not yet deleted (ApproximateNumberOfMessages
        NotVisible) besides the visible ones (default True: KEDA's ``scaleOnInFlight``).
    ``scale_on_delayed``
        count the messages still in their delivery delay (…Delayed) too (default False:
        KEDA's ``scaleOnDelayed``).

    The other arguments are :class:`Autoscale`'s.
    """

    kind = "queue_autoscaler"

    def __init__(
        self,
        queue_length: float = KEDA_SQS_QUEUE_LENGTH,
        min_consumers: int = HPA_MIN_REPLICAS,
        max_consumers: int | None = None,
        polling_interval: float = KEDA_POLLING_INTERVAL,
        cooldown: float = KEDA_COOLDOWN_PERIOD,
        startup: Distribution | float = STARTUP,
        scale_on_in_flight: bool = True,
        scale_on_delayed: bool = False,
    ) -> None:
        self.queue_length = _check.positive("queue_length", queue_length)
        super().__init__(min_consumers, max_consumers, polling_interval, cooldown, startup)
        self.scale_on_in_flight = _check.flag("scale_on_in_flight", scale_on_in_flight)
        self.scale_on_delayed = _check.flag("scale_on_delayed", scale_on_delayed)

    def messages(self, visible: int, in_flight: int = 0, delayed: int = 0) -> int:
        """The messages KEDA counts: visible, plus in flight and delayed as configured."""
        counted = in_flight if self.scale_on_in_flight else 0
        return visible + counted + (delayed if self.scale_on_delayed else 0)

    def desired_consumers(self, visible: int, in_flight: int = 0, delayed: int = 0) -> int:
        """KEDA's recommendation for a queue holding these messages."""
        messages = self.messages(visible, in_flight, delayed)
        return self.clamp(math.ceil(messages / self.queue_length))

    def _params(self) -> dict[str, Any]:
        return {
            "queue_length": self.queue_length,
            **super()._params(),
            "scale_on_in_flight": self.scale_on_in_flight,
            "scale_on_delayed": self.scale_on_delayed,
        }


KINDS: dict[str, type[Autoscale]] = {cls.kind: cls for cls in (LagAutoscaler, QueueAutoscaler)}


class Member(Protocol):
    """What the autoscaler reads of a consumer (:class:`~evsim.actors.consumer.Consumer`)."""

    up: bool


Consumer = TypeVar("Consumer", bound=Member)


class ScaledGroup(Protocol[Consumer]):
    """What the autoscaler uses of its group (:class:`~evsim.actors.group.ConsumerGroup`)."""

    world: World
    name: str
    members: list[Consumer]  # the consumers that have joined and not left
    feed: Any  # a TopicFeed or a ScaledQueueFeed

    def new_member(self, name: str) -> Consumer:
        """A consumer called ``name``, not yet started."""

    def add_member(self, member: Consumer) -> None:
        """Start ``member`` and let it join (a rebalance)."""

    def remove_member(self, member: Consumer) -> None:
        """Let ``member`` leave the group for good."""


class Autoscaler(Generic[Consumer]):
    """The control loop scaling one group by ``rule`` (see the module's docstring)."""

    def __init__(self, group: ScaledGroup[Consumer], rule: Autoscale) -> None:
        self.group = group
        self.rule = rule
        self.desired = len(group.members)  # the last poll's recommendation
        self.peak = len(group.members)  # the most members the group had at once
        self._starting: list[Consumer] = []  # decided, not yet joined; the newest last
        self._history: deque[tuple[float, int]] = deque()  # (time, recommendation)
        self._numbered = len(group.members)  # consumers named so far: g-0 .. g-(n-1)
        self._startup = group.world.sampler(rule.startup, "group", group.name, "autoscale")

    def start(self) -> None:
        """Decide now (the group has just joined), then every ``polling_interval``."""
        env = self.group.world.env
        interval = self.rule.polling_interval
        self._history.append((env.now, self.rule.clamp(len(self.group.members))))

        def tick(_timer: object) -> None:
            self.poll()
            timer.start(interval)

        timer = env.timer(tick)
        tick(None)

    def recommend(self) -> int:
        """The rule's recommendation now, from the group's total lag or its queue's counts."""
        rule, feed = self.rule, self.group.feed
        if isinstance(rule, LagAutoscaler):
            partitions = len(feed.partitions)
            return rule.desired_consumers(sum(map(feed.lag, range(partitions))), partitions)
        assert isinstance(rule, QueueAutoscaler)
        queue = feed.queue
        queue.sweep(self.group.world.env.now)  # SQS deletes messages past retention
        return rule.desired_consumers(
            queue.visible_count(), queue.in_flight_count(), queue.delayed_count()
        )

    def poll(self) -> None:
        """One decision: scale up at once, down to the window's highest recommendation."""
        now = self.group.world.env.now
        self.desired = desired = self.recommend()
        history = self._history
        while history and history[0][0] <= now - self.rule.cooldown:  # kept: after the cutoff
            history.popleft()
        history.append((now, desired))
        current = self.consumers
        if desired > current:
            for _ in range(desired - current):
                self._start_one()
            return
        target = max(recommendation for _, recommendation in history)
        for _ in range(current - target):
            self._stop_one()

    @property
    def consumers(self) -> int:
        """The group's consumers, counting those still starting (the replicas)."""
        return len(self.group.members) + len(self._starting)

    def _start_one(self) -> None:
        group = self.group
        member = group.new_member(f"{group.name}-{self._numbered}")
        self._numbered += 1
        self._starting.append(member)
        group.world.env.call_later(self._startup(), lambda _timer: self._joined(member))

    def _joined(self, member: Consumer) -> None:
        if member not in self._starting:  # scaled in again before it started
            return
        self._starting.remove(member)
        self.group.add_member(member)
        self.peak = max(self.peak, len(self.group.members))

    def _stop_one(self) -> None:
        """Remove one consumer: one still starting, else one down, else the newest."""
        if self._starting:
            self._starting.pop()
            return
        members = self.group.members
        down = [m for m in members if not m.up]
        self.group.remove_member(down[-1] if down else members[-1])
