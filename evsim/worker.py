"""A consumer's worker: it takes one delivery at a time and makes the attempts on it.

Rules modelled: an attempt costs the group's ``service_time`` (seconds, stretched by a
``Slowdown``), may fail by an injected fault or a raising handler, and is retried in place
after the retry policy's backoff (blocking retries) or handed back for a retry topic
(non-blocking retries). An idempotent consumer locks the event id for the attempt, as a
unique key in its database would, and skips events it has already processed.

A worker is a small state machine on SimPy callbacks rather than a SimPy process (a
process costs a generator resume per wait, and the worker waits once or twice per event).
Each phase returns the next phase, or None when it must wait for an event: a delivery, an
idempotency lock, the service time, a handler's event or a backoff; that event runs the
next phase. :meth:`Worker.start` and :meth:`Worker.crash` take effect at the next step, as
SimPy starts a process and delivers an interrupt, so the order of same-time events is the
one a process would see.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Optional

import simpy

from evsim.delivery import FAILED, HANDLED, RETRY_LATER, SKIPPED, Delivery
from evsim.handler import handler_runner
from evsim.records import CRASHED, DUPLICATE, ERROR, OK

if TYPE_CHECKING:
    from evsim.consumer import Consumer

Phase = Callable[[], Optional["Phase"]]


class Worker:
    """One of a consumer's ``concurrency`` workers."""

    def __init__(self, consumer: Consumer, index: int) -> None:
        group = consumer.group
        world = group.world
        self.consumer = consumer
        self.delivery: Delivery | None = None  # in hand
        self._group = group
        self._feed = group.feed
        self._env = world.env
        self._record = world.records.attempts.add
        path = ("group", group.name, "service", consumer.name, str(index))
        self._service = world.sampler(group.service_time, *path)
        handler = group.handler
        self._handle = None if handler is None else handler_runner(group, consumer.name, index)
        self._backoff = group.backoff_delays(consumer.name, index)
        self._slowed = group.slowdown if group.has_slowdowns else None
        self._injected = group.injected_failure if group.has_failures else None
        self._attempt = 0  # the number of the delivery's current (or next) attempt
        self._started: float | None = None  # the current attempt's start, while it runs
        self._error: tuple[str, str | None] = ("", None)  # its (error type, error), when done
        self._claimed: int | None = None  # the event id this worker has locked
        self._steps: Generator[Any, Any, Any] | None = None  # the handler, while it runs
        self._waiting_on: simpy.Event | None = None
        self._then: Phase | None = None  # the phase to run when it fires
        self._woken_by: simpy.Event | None = None

    def start(self) -> None:
        """Begin taking deliveries (at the next step, like a new SimPy process)."""
        _next_step(self._env, lambda: self._run(self._take))

    def crash(self) -> None:
        """The consumer crashed: drop what is in hand (at the next step, like an
        interrupt), then wait for the consumer to come back."""
        _next_step(self._env, self._crashed)

    # --- the machine --------------------------------------------------------------------

    def _run(self, phase: Phase | None) -> None:
        while phase is not None:
            phase = phase()

    def _wait(self, event: simpy.Event, then: Phase) -> None:
        self._waiting_on, self._then = event, then
        event.callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        if event is self._waiting_on:  # else a crash has dropped this wait
            self._waiting_on, self._woken_by = None, event
            self._run(self._then)

    # --- phases -------------------------------------------------------------------------

    def _take(self) -> Phase | None:
        delivery = self._feed.take_now(self.consumer)
        if delivery is None:
            return self._wait(self._feed.wait(self.consumer), self._take)
        self.delivery = delivery
        self._attempt = delivery.attempts
        return self._begin

    def _begin(self) -> Phase:
        self._attempt += 1
        self.delivery.attempts = self._attempt  # at once: another holder of the event numbers on
        return self._claim if self._group.idempotent else self._try

    def _claim(self) -> Phase | None:
        held = self._group.claim(self.delivery.event_id)
        if held is not None:  # another worker is processing the event: wait for it
            return self._wait(held, self._claim)
        self._claimed = self.delivery.event_id
        return self._try

    def _try(self) -> Phase | None:
        delivery, group = self.delivery, self._group
        started = self._env.now
        if delivery.first_attempt_at != delivery.first_attempt_at:  # NaN: the first attempt
            delivery.first_attempt_at = started
        if group.idempotent and group.seen(delivery.event_id):
            self._unclaim()
            self._record(delivery.event_id, group.code, self.consumer.code, self._attempt,
                         started, started, DUPLICATE, None)  # fmt: skip
            return self._end(SKIPPED)
        self._started = started
        delay = self._service()
        if self._slowed is not None:
            delay *= self._slowed(started)
        if delay > 0:
            return self._wait(self._env.timeout(delay), self._served)
        return self._served

    def _served(self) -> Phase | None:
        error: tuple[str, str | None] = ("", None)
        if self._injected is not None:
            error = self._injected(self.delivery.event_id, self._attempt)
        if error[1] is None and self._handle is not None:
            self._steps, self._woken_by = self._handle(self.delivery.record_id), None
            return self._handler
        self._error = error
        return self._judge

    def _handler(self) -> Phase | None:
        """Drive the handler as SimPy drives a process, until it waits on an event or ends."""
        event = self._woken_by
        value, failure = (None, None) if event is None else _outcome(event)
        while True:
            try:
                request = self._steps.send(value) if failure is None else self._steps.throw(failure)
            except StopIteration as stop:
                self._steps, self._error = None, stop.value
                return self._judge
            if request.callbacks is not None:  # not processed yet: wait for it
                return self._wait(request, self._handler)
            value, failure = _outcome(request)

    def _judge(self) -> Phase | None:
        delivery, group = self.delivery, self._group
        error_type, error = self._error
        started, self._started = self._started, None
        if group.idempotent:
            if error is None:
                group.remember(delivery.event_id)
            self._unclaim()
        status = OK if error is None else ERROR
        self._record(delivery.event_id, group.code, self.consumer.code, self._attempt, started,
                     self._env.now, status, error)  # fmt: skip
        if error is None:
            return self._end(HANDLED)
        delivery.error = error
        if not group.retry.retries(self._attempt, error_type):
            return self._end(FAILED)
        if not group.retry.blocking:
            return self._end(RETRY_LATER)
        pause = self._backoff(self._attempt - 1)
        if pause > 0:
            return self._wait(self._env.timeout(pause), self._begin)
        return self._begin

    def _end(self, result: int) -> Phase:
        delivery, self.delivery = self.delivery, None
        self._feed.complete(delivery, result, self.consumer)
        return self._take

    # --- crashes ------------------------------------------------------------------------

    def _unclaim(self) -> None:
        event_id, self._claimed = self._claimed, None
        if event_id is not None:
            self._group.unclaim(event_id)

    def _crashed(self) -> None:
        waiting_for_lock = self._waiting_on is not None and self._then == self._claim
        self._waiting_on = None
        if self._steps is not None:  # the handler stops where it is
            with contextlib.suppress(simpy.Interrupt):  # it closes the handler, re-raises
                self._steps.throw(simpy.Interrupt("crash"))
            self._steps = None
        self._unclaim()
        delivery, self.delivery = self.delivery, None
        started, self._started = self._started, None
        if delivery is not None:
            if waiting_for_lock:  # the attempt had not begun: it made none
                delivery.attempts = self._attempt - 1
            elif started is not None:
                group = self._group
                self._record(delivery.event_id, group.code, self.consumer.code, self._attempt,
                             started, self._env.now, CRASHED, "consumer crashed")  # fmt: skip
            self._feed.abandon(delivery, self.consumer)
        back = self.consumer.back
        if back is None:  # already restarted
            self._run(self._take)
        else:
            self._wait(back, self._take)


def _outcome(event: simpy.Event) -> tuple[Any, BaseException | None]:
    """What a process waiting on ``event`` receives: (its value, None) or (None, its error)."""
    if event.ok:
        return event.value, None
    event.defused = True  # the waiter handles the failure
    return None, event.value


def _next_step(env: simpy.Environment, action: Callable[[], None]) -> None:
    """Run ``action`` at the current time before normal events, as SimPy starts a process."""

    def call() -> Generator[Any, Any, None]:
        action()
        yield from ()

    env.process(call())
