"""The plain engine: the same model on SimPy's public API only (``engine="simpy"``).

Every timer is a ``timeout`` and the run loop is SimPy's own ``run``; the watchdog counts
the steps taken at one instant by overriding ``step``, the documented method ``run`` calls.
A timer's ``timeout(delay)`` takes the place in SimPy's schedule that the fast engine's
:class:`~evsim.engine.Timer` takes (same time, priority and event id), so both engines
process the same events in the same order and give identical tables, seed for seed
(``tests/test_engine.py`` checks every shipped scenario). It is slower; it is the
fallback when a SimPy release changes the internals the fast engine reads.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from evsim.engine import Clock, Watchdog
from evsim.errors import SimulationStateError


class PlainTimer:
    """A reusable timer on SimPy's public API: each start schedules a ``timeout``."""

    __slots__ = ("_callback", "_env", "pending")

    def __init__(self, env: simpy.Environment, callback: Callable[[PlainTimer], None]) -> None:
        self._env = env
        self._callback = callback
        self.pending = False

    def start(self, delay: float) -> None:
        """Fire after ``delay`` seconds (>= 0); refused while the timer is pending."""
        if self.pending:
            raise SimulationStateError("Timer.start: the timer is already pending")
        if delay < 0.0:
            raise SimulationStateError(f"Timer.start: delay must be >= 0 seconds, got {delay}")
        self.pending = True
        self._env.timeout(delay).callbacks.append(self._fire)

    def _fire(self, _event: simpy.Event) -> None:
        self.pending = False
        self._callback(self)


class PlainClock(Watchdog, simpy.Environment):
    """``simpy.Environment`` with evsim's timers and watchdog, through its public API."""

    def __init__(self, initial_time: float = 0.0) -> None:
        super().__init__(initial_time)
        self._start_watchdog()

    def timer(self, callback: Callable[[PlainTimer], None]) -> PlainTimer:
        """A reusable timer calling ``callback(timer)`` each time it fires."""
        return PlainTimer(self, callback)

    def call_later(self, delay: float, callback: Callable[[PlainTimer], None]) -> None:
        """Call ``callback(timer)`` after ``delay`` seconds (>= 0)."""
        self.timer(callback).start(delay)

    def step(self) -> None:
        """SimPy's step, then the watchdog: ``stall_after`` steps at one instant stop the
        run as making no progress."""
        super().step()
        if self.now != self._still_at:
            self._still_at, self._still = self.now, 0
            return
        self._still += 1
        if self._still >= self.stall_after:
            raise self._stalled(self._still)


Engine = Clock | PlainClock
"""Either engine: what :attr:`evsim.brokers.world.World.env` holds (``engine="fast"`` or
``engine="simpy"``); components use only what both offer."""
