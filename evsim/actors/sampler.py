"""Gauges sampled on a fixed interval: what a monitoring system would scrape.

Every ``interval`` seconds (from time 0) it records, for each consumer group that has
joined, Kafka's consumer lag of each partition (log-end offset − committed offset), the
consumers up and the events in the system; for each queue its depth (SQS's
ApproximateNumberOfMessages + NotVisible + Delayed, after expiring old messages); and for
each dead-letter target its depth (and, through ``also``, the request-response side's
gauges: :mod:`evsim.actors.request_gauges`). For an autoscaled group it also records
``desired_consumers``, its autoscaler's last recommendation (:mod:`evsim.actors.autoscale`):
``consumers_up`` follows it up once new consumers have started, and down after the
cooldown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from evsim.plain_engine import Engine
from evsim.records import Records


class Sampler:
    """Samples the gauges of one simulation into its records."""

    def __init__(
        self,
        records: Records,
        groups: list[Any],
        queues: list[Any],
        interval: float,
        also: Callable[[float], None] | None = None,
    ) -> None:
        code = records.names.code
        self._gauges = records.gauges
        self._interval = interval
        self._metrics = [code(m) for m in ("lag", "consumers_up", "in_system")]
        self._depth, self._dlq_depth = code("queue_depth"), code("dlq_depth")
        self._groups = [
            (group, [code(f"{group.name}/{topic.name}-{p}") for topic, p in group.partitions])
            for group in groups
        ]
        self._queues = queues
        self._also = also  # more gauges sampled at each tick (the request-response side's)
        self._scaled = [g for g in groups if g.autoscaler is not None]
        # interned only if used: the codes of a run without autoscaling stay as they were
        self._desired = code("desired_consumers") if self._scaled else -1
        self._dead_letters = dead_letter_targets(groups, queues)
        for target in self._dead_letters:
            if target.kind == "topic":
                target.watch_depth()  # its depth counts records a summary run forgets

    def start(self, env: Engine) -> None:
        """Sample now, then every interval (one Timer, restarted at each tick: no process)."""
        interval = self._interval
        sample = self._sample_scaled if self._scaled else self._sample

        def tick(_timer: object) -> None:
            sample(env.now)
            timer.start(interval)

        timer = env.timer(tick)
        tick(None)

    def _sample(self, now: float) -> None:
        add = self._gauges.add
        _, up, in_system = self._metrics
        for group, entities in self._groups:
            if not group.active:  # a group that has not joined yet has no offsets
                continue
            if entities:
                self._sample_lag(now, group, entities)
            code = group.code
            add(now, up, code, group.consumers_up)
            add(now, in_system, code, group.in_system())
        depth = self._depth
        for queue in self._queues:
            queue.sweep(now)
            add(now, depth, queue.code, queue.depth())
        for target in self._dead_letters:
            add(now, self._dlq_depth, target.code, target.depth())
        if self._also is not None:
            self._also(now)

    def _sample_scaled(self, now: float) -> None:
        """The gauges, then each autoscaled group's ``desired_consumers`` (a run without
        autoscaling samples with :meth:`_sample` alone: nothing added per tick)."""
        self._sample(now)
        add, desired = self._gauges.add, self._desired
        for group in self._scaled:
            if group.active:
                add(now, desired, group.code, group.autoscaler.desired)

    def _sample_lag(self, now: float, group: Any, entities: list[int]) -> None:
        """Kafka's consumer lag of each partition, and the group's total."""
        add, lag = self._gauges.add, self._metrics[0]
        total = 0
        for tp, entity in enumerate(entities):
            partition_lag = group.lag(tp)
            total += partition_lag
            add(now, lag, entity, partition_lag)
        self._gauges.group_lag(group.code, total)


def dead_letter_targets(groups: Iterable[Any], queues: Iterable[Any]) -> list[Any]:
    """The queues' and groups' dead-letter targets, each once, whose depth is sampled."""
    targets = [q.dead_letter for q in queues] + [g.dead_letter for g in groups]
    return list({t.name: t for t in targets if t is not None}.values())
