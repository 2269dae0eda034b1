"""Consumers: the members of a group that fetch records and handle them.

Rule modelled: a Kafka consumer runs a single-threaded poll loop, so it handles one record
at a time across all the partitions it owns, taking them in turn (round-robin). With
``concurrency=k`` a consumer has k workers (as a worker pool behind the poll loop would),
still never two records of one partition at once, so each partition stays in offset order.
A handling costs the group's ``service_time`` (seconds), then runs the handler, if any.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from evsim.dist import Constant
from evsim.handler import handler_runner
from evsim.records import LOST, OK, PROCESSED

if TYPE_CHECKING:
    from evsim.group import ConsumerGroup


class Consumer:
    """One member of a consumer group."""

    def __init__(self, group: ConsumerGroup, name: str) -> None:
        self.group = group
        self.name = name
        self.code = group.world.records.names.code(name)
        self.up = True
        self.owned: list[int] = []  # indexes into group.partitions
        self._ready: deque[int] = deque()
        self._idle: list[simpy.Event] = []

    def launch(self) -> None:
        """Start the consumer's workers."""
        env = self.group.world.env
        for worker in range(self.group.concurrency):
            env.process(self._work(worker))

    def offer(self, tp: int) -> None:
        """Partition ``tp`` has records to read: queue it and wake an idle worker."""
        self.group.queued[tp] = True
        self._ready.append(tp)
        if self._idle:
            self._idle.pop().succeed()

    def reset_ready(self) -> None:
        """Forget queued partitions (after a rebalance they are offered again)."""
        for tp in self._ready:
            self.group.queued[tp] = False
        self._ready.clear()

    def _work(self, worker: int) -> Generator[Any, Any, None]:
        group = self.group
        world = group.world
        env = world.env
        ready = self._ready
        service = _service_sampler(group, self.name, worker)
        handle = None if group.handler is None else handler_runner(group, self.name, worker)
        attempts = world.records.attempts
        while True:
            if not ready:
                wake = env.event()
                self._idle.append(wake)
                yield wake
                continue
            tp = ready.popleft()
            group.queued[tp] = False
            event_id = group.fetch(tp, self)
            if event_id < 0:
                continue
            group.busy[tp] = True
            started = env.now
            delay = service()
            if delay > 0:
                yield env.timeout(delay)
            status, error = OK, None
            if handle is not None:
                status, error = yield from handle(event_id)
            attempts.add(event_id, group.code, self.code, 1, started, env.now, status, error)
            group.finish(event_id, self, PROCESSED if status == OK else LOST, 1, started)
            group.processed(tp, group.position[tp] - 1)


def _service_sampler(group: ConsumerGroup, consumer: str, worker: int) -> Any:
    """Service times (seconds) for one worker, from its own random stream."""
    dist = group.service_time
    if isinstance(dist, Constant):
        value = dist.mean
        return lambda: value
    rng = group.world.streams.generator("group", group.name, "service", consumer, str(worker))
    return dist.sampler(rng)
