"""Consumers: the members of a group that take deliveries and attempt them.

Rules modelled: a Kafka consumer runs a single-threaded poll loop, so it handles one
record at a time across all its partitions, taking them in turn; with ``concurrency=k``
it has k workers (a worker pool behind the poll loop), never two records of one partition
at once. An attempt costs the group's ``service_time`` (seconds, stretched by a
``Slowdown``), may fail by an injected fault or a raising handler (or, under
``Contention``, lose the race to write: read, service time, then the conditional write,
with the fault's network legs around them), and is retried in place
(blocking retries) or handed back for a retry topic (non-blocking retries). A crash stops
every worker at once: an attempt in progress ends with status ``crashed`` and the delivery
is abandoned to the feed's rules (lost if committed before processing, else delivered
again); the consumer comes back on :meth:`Consumer.restart`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import Any

import simpy

from evsim.actors.attempts import AttemptPolicy
from evsim.actors.delivery import (
    FAILED,
    HANDLED,
    NO_FAILURE,
    RETRY_LATER,
    SKIPPED,
    Delivery,
    Ending,
)
from evsim.actors.handler import handler_runner
from evsim.actors.idempotency import IdempotencyStore
from evsim.actors.roles import Feed, GroupServices
from evsim.errors import SimulationStateError
from evsim.records import CRASHED, DUPLICATE, ERROR, OK

Running = tuple[Delivery, int, float]
"""An attempt in progress: the delivery, the attempt's number and its start (seconds)."""


class Consumer:
    """One member of a consumer group: it takes deliveries from ``feed``, attempts them by
    ``policy`` (checking ``store`` first when the group is idempotent), and reports each
    ending back to the feed; ``group`` supplies the settings and the records."""

    def __init__(
        self,
        group: GroupServices,
        feed: Feed,
        policy: AttemptPolicy,
        store: IdempotencyStore | None,
        name: str,
    ) -> None:
        self.group = group
        self.feed = feed
        self.policy = policy
        self.store = store
        self.name = name
        self.code = group.world.records.names.code(name)
        self.up = True
        self.epoch = 0  # bumped at every crash, so stale timers can tell
        self.owned: list[int] = []  # partitions (indexes into the feed's list)
        self.ready: deque[int] = deque()  # owned partitions with records to read
        self.idle: list[simpy.Event] = []  # workers waiting for a ready partition
        self._workers: list[simpy.Process] = []
        self._in_hand: list[Delivery | None] = []
        self._attempt: list[tuple[int, float] | None] = []  # (number, start) in progress
        self._claimed: list[int | None] = []  # the event id each worker has locked
        self._plain_attempts: list[Callable[[], Running | None]] = []  # a plain worker's
        self._back: simpy.Event | None = None
        self._down_for: set[str] = set()  # "crash", "outage": up again when all are over

    def launch(self) -> None:
        """Start the consumer's workers."""
        env = self.group.world.env
        count = self.group.config.concurrency
        if self.group.config.plain:  # nothing to track for a crash: a plain group has none
            for worker in range(count):
                env.process(_started(self._plain_worker(worker)))
            return
        self._in_hand = [None] * count
        self._attempt = [None] * count
        self._claimed = [None] * count
        self._workers = [env.process(self._work(worker)) for worker in range(count)]

    def offer(self, tp: int) -> None:
        """Partition ``tp`` has records to read: queue it and wake an idle worker."""
        if not self.up:
            return
        self.feed.queued[tp] = True
        self.ready.append(tp)
        if self.idle:
            self.idle.pop().succeed()

    def running(self) -> Iterator[Running]:
        """The attempts in progress now: (delivery, attempt number, start in seconds)."""
        for worker, attempt in enumerate(self._attempt):
            delivery = self._in_hand[worker]
            if attempt is not None and delivery is not None:
                yield delivery, *attempt
        for probe in self._plain_attempts:
            running = probe()
            if running is not None:
                yield running

    def reset_ready(self) -> None:
        """Forget queued partitions (after a rebalance they are offered again)."""
        for tp in self.ready:  # only a topic feed offers partitions
            self.feed.queued[tp] = False
        self.ready.clear()

    def crash(self, reason: str = "crash") -> None:
        """Stop now, mid-event if busy; uncommitted work is lost."""
        if self.group.config.plain:  # its workers are callbacks with nothing to interrupt
            raise SimulationStateError(
                f"crash: consumer {self.name!r} is in a group without faults; crashes come "
                "from the group's faults (ev.Crashes or ev.Outage)"
            )
        self._down_for.add(reason)
        if not self.up:
            return
        self.up = False
        self.epoch += 1
        self._back = self.group.world.env.event()
        for worker in self._workers:
            if worker.is_alive:
                worker.interrupt("crash")
        self.reset_ready()
        self.idle.clear()
        self.feed.member_down(self)

    def restart(self, reason: str = "crash") -> None:
        """Come back after a crash (once every reason to be down is over) and rejoin."""
        self._down_for.discard(reason)
        if self.up or self._down_for:
            return
        self.up = True
        back, self._back = self._back, None
        if back is not None:
            back.succeed()
        self.feed.member_up(self)

    def leave(self) -> None:
        """Leave the group for good (it is scaled in): down from now on, whatever restarts
        it, but without an interruption: the attempts in progress finish and end as usual.
        The group tells the feed, which decides what it may still take."""
        self._down_for.add("left")  # a reason to be down that never ends
        self.up = False
        self.reset_ready()

    def _work(self, worker: int) -> Generator[Any, Any, None]:
        feed = self.feed
        take_now, wait, complete = feed.take_now, feed.wait, feed.complete
        attempt = self._attempts_runner(worker)
        in_hand = self._in_hand
        while True:
            try:
                while True:
                    delivery = take_now(self)
                    if delivery is None:
                        yield wait(self)
                        continue
                    in_hand[worker] = delivery
                    result = yield from attempt(delivery)
                    in_hand[worker] = None
                    complete(delivery, result, self)
            except simpy.Interrupt:
                self._crashed(worker)
                yield self._back

    def _plain_worker(self, worker: int) -> Callable[[], None]:
        """The work loop of a plain group (:attr:`ConsumerGroup.plain`), on callbacks.

        Nothing there can fail, wait for a lock or crash, so every attempt succeeds after
        its service time: the same rows as :meth:`_work` writes, without a SimPy process's
        generator resume per event (4 % of the time of the M/M/4 benchmark).
        """
        group = self.group
        feed, env = self.feed, group.world.env
        take_now, wait, complete = feed.take_now, feed.wait, feed.complete
        service = _service_sampler(group, self.name, worker)
        record = group.world.records.attempts.add
        group_code, code = group.code, self.code
        in_service: Delivery | None = None  # the delivery whose service time runs
        number, started = 0, 0.0  # its attempt's number and start

        def work(_event: object = None) -> None:
            """Called when the service time of ``in_service`` ends, or (with nothing in
            service) when messages arrive: finish it, then take the next."""
            nonlocal in_service, number, started
            delivery = in_service
            while True:
                if delivery is not None:
                    record(delivery.event_id, group_code, code, number, started, env.now, OK, None)
                    complete(delivery, HANDLED, self)
                delivery = take_now(self)
                if delivery is None:
                    in_service = None
                    wait(self).callbacks.append(work)
                    return
                started = env.now
                number = delivery.tally.begin(started)
                delay = service()
                if delay > 0.0:
                    in_service = delivery
                    timer.start(delay)
                    return

        def in_progress() -> Running | None:
            return None if in_service is None else (in_service, number, started)

        self._plain_attempts.append(in_progress)
        timer = env.timer(work)
        return work

    def _unclaim(self, worker: int) -> None:
        event_id, self._claimed[worker] = self._claimed[worker], None
        if event_id is not None and self.store is not None:
            self.store.unclaim(event_id)

    def _crashed(self, worker: int) -> None:
        self._unclaim(worker)
        delivery, self._in_hand[worker] = self._in_hand[worker], None
        attempt, self._attempt[worker] = self._attempt[worker], None
        if delivery is None:
            return
        group = self.group
        if attempt is not None:
            number, started = attempt
            group.world.records.attempts.add(
                delivery.event_id, group.code, self.code, number, started,
                group.world.env.now, CRASHED, "consumer crashed",
            )  # fmt: skip
        self.feed.abandon(delivery, self)

    def _attempts_runner(self, worker: int) -> Callable[[Delivery], Generator[Any, Any, Ending]]:
        """A generator function making the attempts on one delivery for one worker."""
        group, policy, store = self.group, self.policy, self.store
        config = group.config
        world = group.world
        env = world.env
        service = _service_sampler(group, self.name, worker)
        handler = config.handler
        handle = (
            None
            if handler is None
            else handler_runner(world, group.name, handler, self.name, worker)
        )
        record = world.records.attempts.add
        current = self._attempt
        claimed = self._claimed
        retry = policy.retry
        backoff = policy.backoff_delays(self.name, worker)
        code, group_code = self.code, group.code
        slowed = policy.slowdown if policy.has_slowdowns else None
        injected = policy.injected_failure if policy.has_failures else None
        contended = policy.contention  # None, or the resource attempts race to write
        leg = _no_leg if contended is None else contended.legs(self.name, worker)
        timeout, instant_work = env.timeout, env.instant_work

        def run(delivery: Delivery) -> Generator[Any, Any, Ending]:
            event_id, tally = delivery.event_id, delivery.tally
            row: str | None = None  # the contended resource (a key, or None)
            version = 0  # the version of it read
            while True:
                if store is not None:  # an idempotent consumer
                    held = store.claim(event_id, env)
                    while held is not None:  # another worker is processing it: wait
                        yield held
                        held = store.claim(event_id, env)
                    claimed[worker] = event_id
                started = env.now
                attempt = tally.begin(started)
                if store is not None and store.seen(event_id, started):
                    self._unclaim(worker)
                    record(event_id, group_code, code, attempt, started, started, DUPLICATE, None)
                    return SKIPPED
                current[worker] = (attempt, started)
                delay = service() if slowed is None else service() * slowed(started)
                if contended is not None:  # a remote read; the write after the service time
                    row, to_resource = contended.row(event_id), leg()
                    if to_resource > 0:
                        yield timeout(to_resource)
                    version = contended.read(row)
                    delay += leg() + leg()  # the read's reply, the write's request
                if delay > 0:
                    yield timeout(delay)
                else:  # no yield: the clock's watchdog counts it (a loop at one instant)
                    instant_work()
                error_types, error = NO_FAILURE
                if injected is not None:
                    error_types, error = injected(event_id, attempt)
                if error is None and handle is not None:
                    error_types, error = yield from handle(delivery.record_id)
                if contended is not None:
                    if error is None:
                        error_types, error = contended.write(row, version)
                    back = leg()  # the write's reply
                    if back > 0:
                        yield timeout(back)
                current[worker] = None
                if store is not None:
                    if error is None:
                        store.remember(event_id, env.now)
                    self._unclaim(worker)
                if error is None:
                    record(event_id, group_code, code, attempt, started, env.now, OK, None)
                    return HANDLED
                record(event_id, group_code, code, attempt, started, env.now, ERROR, error)
                delivery.error = error
                if not retry.retries(attempt, error_types):
                    return FAILED
                if not retry.blocking:
                    return RETRY_LATER
                pause = backoff(attempt - 1)
                if pause > 0:
                    yield timeout(pause)

        return run


def _no_leg() -> float:
    """No network between a consumer and its resource: a leg of 0 seconds."""
    return 0.0


def _started(action: Callable[[], None]) -> Generator[Any, Any, None]:
    """A process that runs ``action`` and ends: it starts when a process would."""
    action()
    yield from ()


def _service_sampler(group: GroupServices, consumer: str, worker: int) -> Callable[[], float]:
    """Service times (seconds) for one worker, from its own random stream."""
    return group.world.sampler(
        group.config.service_distribution, "group", group.name, "service", consumer, str(worker)
    )
