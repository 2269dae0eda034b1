"""Consumers: the members of a group that take deliveries and attempt them.

Rules modelled: a Kafka consumer runs a single-threaded poll loop, so it handles one
record at a time across all its partitions, taking them in turn; with ``concurrency=k``
it has k workers (a worker pool behind the poll loop), never two records of one partition
at once. Each worker makes the attempts on its delivery (:mod:`evsim.worker`). A crash stops
every worker at once: an attempt in progress ends with status ``crashed`` and the delivery
is abandoned to the feed's rules (lost if committed before processing, else delivered
again); the consumer comes back on :meth:`Consumer.restart`.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import simpy

from evsim.worker import Worker

if TYPE_CHECKING:
    from evsim.group import ConsumerGroup


class Consumer:
    """One member of a consumer group."""

    def __init__(self, group: ConsumerGroup, name: str) -> None:
        self.group = group
        self.name = name
        self.code = group.world.records.names.code(name)
        self.up = True
        self.epoch = 0  # bumped at every crash, so stale timers can tell
        self.owned: list[int] = []  # partitions (indexes into the feed's list)
        self.ready: deque[int] = deque()  # owned partitions with records to read
        self.idle: list[simpy.Event] = []  # workers waiting for a ready partition
        self.workers: list[Worker] = []
        self.back: simpy.Event | None = None  # fires when the consumer restarts
        self._down_for: set[str] = set()  # "crash", "outage": up again when all are over

    def launch(self) -> None:
        """Start the consumer's workers."""
        self.workers = [Worker(self, index) for index in range(self.group.concurrency)]
        for worker in self.workers:
            worker.start()

    def offer(self, tp: int) -> None:
        """Partition ``tp`` has records to read: queue it and wake an idle worker."""
        if not self.up:
            return
        self.group.feed.queued[tp] = True
        self.ready.append(tp)
        if self.idle:
            self.idle.pop().succeed()

    def reset_ready(self) -> None:
        """Forget queued partitions (after a rebalance they are offered again)."""
        queued = self.group.feed.queued
        for tp in self.ready:
            queued[tp] = False
        self.ready.clear()

    def crash(self, reason: str = "crash") -> None:
        """Stop now, mid-event if busy; uncommitted work is lost."""
        self._down_for.add(reason)
        if not self.up:
            return
        self.up = False
        self.epoch += 1
        self.back = self.group.world.env.event()
        for worker in self.workers:
            worker.crash()
        self.reset_ready()
        self.idle.clear()
        self.group.feed.member_down(self)

    def restart(self, reason: str = "crash") -> None:
        """Come back after a crash (once every reason to be down is over) and rejoin."""
        self._down_for.discard(reason)
        if self.up or self._down_for:
            return
        self.up = True
        back, self.back = self.back, None
        if back is not None:
            back.succeed()
        self.group.feed.member_up(self)
