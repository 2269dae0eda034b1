"""A request-response service: workers, a waiting line, faults, and its own calls.

Rules modelled (a thread-per-request HTTP/gRPC server):

* ``workers`` requests are served at once; a request arriving while all are busy waits
  in the service's queue, served in ``queue_order`` ("fifo", or "lifo": newest first);
  one arriving when ``queue_limit`` are already waiting is refused at once (HTTP 503).
* A request's own work takes its ``service_time`` × the load factor at its start
  (:class:`~evsim.actors.load_latency.LoadLatency`) × any ``Slowdown`` in force; then the
  worker makes the service's ``calls``, waiting for each (in order, or all at once with
  ``parallel``), and answers: ``ok``, or ``error`` if its work failed (``TransientErrors``)
  or a call did.
* A service that is down (``Crashes``, ``Outage``) refuses new requests at once; those
  it was serving or holding in its queue fail (``error``: connections reset). It comes
  back empty. ``CapacityLoss`` removes workers for a while: requests in progress finish,
  new ones start only while fewer than the remaining workers are busy.
* A caller that gives up does not stop the work (its answer is discarded), unless it
  cancelled (deadline propagation): then a queued request is dropped and one in
  progress makes no further calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

from evsim.actors.caller import Caller
from evsim.actors.delivery import NO_FAILURE
from evsim.actors.faults import CapacityLoss, Crashes, Outage, Slowdown, TransientErrors
from evsim.actors.handler import handler_name
from evsim.actors.request import Callee, Exchange
from evsim.actors.service_config import ServiceConfig
from evsim.actors.service_handler import service_handler_runner
from evsim.brokers.world import World
from evsim.engine import Steps
from evsim.records.codes import CallStatus


class Service:
    """A service built from ``config`` on ``world`` (see the module's rules)."""

    kind = "service"

    def __init__(self, world: World, config: ServiceConfig) -> None:
        self.world = world
        self.config = config
        self.name = config.name
        self.code = world.records.names.code(config.name)
        self.busy = 0
        self.measure_from = 0.0  # seconds: the run's warmup, set when it starts
        self.finished = 0  # requests whose work ended after measure_from (answered or not)
        self.busy_seconds = 0.0  # worker-seconds busy after measure_from
        self._busy_since = 0.0
        self.capacity = config.workers
        self.up = True
        self.waiting: deque[Exchange] = deque()
        self._working: dict[Exchange, None] = {}  # in start order (determinism)
        self._epoch = 0  # times it went down: work begun before the last one is void
        self._callers: list[Caller] = []
        self._run_handler = (
            None if config.handler is None
            else service_handler_runner(world, self.name, config.handler)
        )  # fmt: skip
        self._handling: dict[Exchange, simpy.Process] = {}  # requests in the handler
        self._service_time = world.sampler(config.service_distribution, "service", self.name)
        faults = config.fault_list
        self._slowdowns = [f for f in faults if isinstance(f, Slowdown)]
        self._error_p = [f.p for f in faults if isinstance(f, TransientErrors)]
        self._errors = world.streams.generator("service", self.name, "errors").random
        self._take = self.waiting.popleft if config.queue_order == "fifo" else self.waiting.pop
        self._throttle = None if config.throttle is None else config.throttle.state()

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this service."""
        config = self.config
        return {
            "name": self.name,
            "workers": config.workers,
            "service_time": config.service_distribution.spec(),
            "queue_limit": config.queue_limit,
            "queue_order": config.queue_order,
            "load_latency": None if config.load_latency is None else config.load_latency.spec(),
            "calls": [call.spec() for call in config.call_list],
            "parallel": config.parallel,
            "handler": None if config.handler is None else handler_name(config.handler),
            "shed_after": config.shed_after,
            "max_in_flight": config.max_in_flight,
            "throttle": None if config.throttle is None else config.throttle.spec(),
            "faults": [fault.spec() for fault in config.fault_list],
        }

    @property
    def callers(self) -> list[Caller]:
        """Its calls' callers, one per ``calls`` entry (made when the run starts)."""
        return self._callers

    def launch(self, find: Callable[[str, str], Callee]) -> None:
        """Find the services it calls (``find(name, argument)``) and start its faults."""
        for index, call in enumerate(self.config.call_list):
            callee = find(call.target, f"{self.name}: calls[{index}].target")
            path = ("service", self.name, "calls", str(index))
            self._callers.append(Caller.for_call(self.world, self.code, callee, call, path))
        env = self.world.env
        for index, fault in enumerate(self.config.fault_list):
            if isinstance(fault, Outage):
                env.process(self._outage(fault))
            elif isinstance(fault, Crashes):
                env.process(self._crashes(fault, index))
            elif isinstance(fault, CapacityLoss):
                env.process(self._capacity_loss(fault))

    # --- requests -----------------------------------------------------------------------

    def accept(self, exchange: Exchange) -> None:
        """A request arrives: start it, queue it, or refuse it at once."""
        if not self._admits():
            exchange.answer(CallStatus.REJECTED)
        elif self.busy < self.capacity:
            self._start(exchange)
        elif self.config.queue_limit is not None and len(self.waiting) >= self.config.queue_limit:
            exchange.answer(CallStatus.REJECTED)
        else:
            self.waiting.append(exchange)

    def _admits(self) -> bool:
        """Up, under max_in_flight, and a throttle token (taken) if it has a throttle."""
        most = self.config.max_in_flight
        if not self.up or (most is not None and self.in_flight >= most):
            return False
        return self._throttle is None or self._throttle.admit(self.world.env.now)

    @property
    def in_flight(self) -> int:
        """Requests in the service: being served or waiting."""
        return self.busy + len(self.waiting)

    def _start(self, exchange: Exchange) -> None:
        env = self.world.env
        self._busy_changes()
        self.busy += 1
        exchange.started_at = env.now
        self._working[exchange] = None
        epoch = self._epoch
        env.call_later(self._work_time(), lambda _timer: self._worked(exchange, epoch))

    def _worked(self, exchange: Exchange, epoch: int) -> None:
        """The request's own work is done: it failed, or its calls follow."""
        if epoch != self._epoch:  # the service went down meanwhile: answered already
            return
        if self._error_p and any(self._errors() < p for p in self._error_p):
            self._finish(exchange, CallStatus.ERROR)
        elif self._run_handler is not None:
            self.world.env.process(self._handle(exchange, epoch))
        elif not self._callers:
            self._finish(exchange, CallStatus.OK)
        elif self.config.parallel:
            self._call_all(exchange, epoch)
        else:
            self._call_next(exchange, epoch, 0)

    def _finish(self, exchange: Exchange, status: CallStatus) -> None:
        """Free the worker, start the next waiting request, then answer (last: the
        caller's reaction sees the service as it is after this request)."""
        del self._working[exchange]
        self._busy_changes()
        self.busy -= 1
        if self.world.env.now >= self.measure_from:
            self.finished += 1
        if self.waiting:
            self._start_waiting()
        exchange.answer(status)

    def _work_time(self) -> float:
        """Seconds of the starting request's own work (busy already counts it)."""
        seconds = self._service_time()
        load = self.config.load_latency
        if load is not None:
            seconds *= load.scale(min(1.0, self.busy / self.config.workers))
        now = self.world.env.now
        for slowdown in self._slowdowns:
            if slowdown.start <= now < slowdown.end:
                seconds *= slowdown.factor
        return seconds

    def _handle(self, exchange: Exchange, epoch: int) -> Steps:
        """Run the handler on the request; answer ``ok`` if it returned, else ``error``."""
        assert self._run_handler is not None
        if epoch != self._epoch:  # went down before the handler began: answered already
            return
        self._handling[exchange] = self.world.env.active_process  # type: ignore[assignment]
        try:
            failed = yield from self._run_handler(exchange)
        except simpy.Interrupt:  # the service went down: answered already
            return
        del self._handling[exchange]
        self._finish(exchange, CallStatus.OK if failed == NO_FAILURE else CallStatus.ERROR)

    def _call_next(self, exchange: Exchange, epoch: int, index: int) -> None:
        """Make call ``index``, the ones before it having succeeded."""
        if index == len(self._callers):
            self._finish(exchange, CallStatus.OK)
        elif exchange.cancelled:  # the deadline passed: no further calls
            self._finish(exchange, CallStatus.ERROR)
        else:

            def called(status: CallStatus, _attempts: int) -> None:
                if epoch != self._epoch:  # went down meanwhile: answered already
                    return
                if status != CallStatus.OK:
                    self._finish(exchange, CallStatus.ERROR)
                else:
                    self._call_next(exchange, epoch, index + 1)

            self._callers[index].start(exchange.request, exchange.key, called)

    def _call_all(self, exchange: Exchange, epoch: int) -> None:
        """Make every call at once; answer when all have ended (ok if all succeeded)."""
        pending, failed = len(self._callers), False

        def called(status: CallStatus, _attempts: int) -> None:
            nonlocal pending, failed
            pending -= 1
            failed = failed or status != CallStatus.OK
            if pending == 0 and epoch == self._epoch:
                self._finish(exchange, CallStatus.ERROR if failed else CallStatus.OK)

        for caller in self._callers:
            caller.start(exchange.request, exchange.key, called)

    def _busy_changes(self) -> None:
        """Add the busy worker-seconds since the last change (those after measure_from)."""
        now = self.world.env.now
        since = self._busy_since
        if since < self.measure_from:
            since = self.measure_from
        if now > since:
            self.busy_seconds += self.busy * (now - since)
        self._busy_since = now

    def busy_until(self, until: float) -> float:
        """Busy worker-seconds from measure_from to ``until`` (the run's end)."""
        since = max(self._busy_since, self.measure_from)
        return self.busy_seconds + self.busy * max(0.0, until - since)

    def _start_waiting(self) -> None:
        shed_after = self.config.shed_after
        now = self.world.env.now
        while self.waiting and self.busy < self.capacity:
            exchange = self._take()
            if shed_after is not None and now - exchange.arrived_at > shed_after:
                exchange.answer(CallStatus.REJECTED)  # waited too long: shed, not served
            elif not exchange.cancelled:
                self._start(exchange)

    # --- faults -------------------------------------------------------------------------

    def _down(self) -> None:
        self.up = False
        self._epoch += 1
        dropped = (*self.waiting, *self._working)
        for process in self._handling.values():  # its handlers stop where they wait
            process.interrupt()
        self._handling.clear()
        self.waiting.clear()
        self._working.clear()
        self._busy_changes()
        self.busy = 0
        for exchange in dropped:  # connections reset
            exchange.answer(CallStatus.ERROR)

    def _back(self) -> None:
        self.up = True

    def _outage(self, fault: Outage) -> Steps:
        env = self.world.env
        yield env.timeout(fault.start)
        self._down()
        yield env.timeout(fault.end - fault.start)
        self._back()

    def _crashes(self, fault: Crashes, index: int) -> Steps:
        env = self.world.env
        up_time = self.world.sampler(fault.mttf, "service", self.name, "crashes", str(index))
        repair = self.world.sampler(fault.mttr, "service", self.name, "repairs", str(index))
        while True:
            yield env.timeout(up_time())
            self._down()
            yield env.timeout(repair())
            self._back()

    def _capacity_loss(self, fault: CapacityLoss) -> Steps:
        env = self.world.env
        yield env.timeout(fault.start)
        self.capacity -= fault.workers
        yield env.timeout(fault.end - fault.start)
        self.capacity += fault.workers
        self._start_waiting()
