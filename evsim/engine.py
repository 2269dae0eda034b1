"""The engine: SimPy's environment with a cheaper clock, reusable timers and a run loop
without a call per event. The only module of evsim that touches SimPy's internals.

SimPy's documented API is ``Environment``, its events and processes; evsim's hot path
reads three of its private names (the heap ``_queue``, the id counter ``_eid`` and the
time ``_now``) and replaces ``step`` during ``run``. Those names are stable across SimPy
4.1, the versions this module was checked on (the pin in ``pyproject.toml``);
``Simulation(engine="simpy")`` runs the same model on a plain ``simpy.Environment``
through the public API only, and ``tests/test_engine.py`` runs every shipped scenario on
both and asserts identical tables.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Callable, Generator
from heapq import heappop, heappush
from typing import Any, NoReturn

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, EventPriority

from evsim import limits
from evsim.errors import SimulationStateError

WATCH_EVERY = 10_000  # event ids between the watchdog's looks at a moving clock
STEPS_SHOWN = 1_000  # the steps before a stall whose callbacks its error names


Steps = Generator[simpy.Event, Any, None]
"""What a SimPy process function returns: a generator yielding the events it waits for."""

Schedule = list[tuple[float, EventPriority, int, Any]]
"""SimPy's heap: (time, priority, event id, event), where an event may be a Timer (which
SimPy's ``Event`` type does not cover) or an event whose callbacks are gone (None)."""


class Timer:
    """A callback on SimPy's schedule, reusable once it has fired.

    ``start(delay)`` calls ``callback(timer)`` after ``delay`` seconds (>= 0), at the
    place ``timeout(delay)`` made now would take (same priority, the next event id). A
    timer is all that SimPy's ``step`` reads of an event: ``callbacks``, and ``_ok`` (it
    never fails). A component with at most one such timer pending at a time (a producer's
    next arrival, a worker's service) keeps one and restarts it: a start then
    allocates nothing but the schedule's entry.
    """

    __slots__ = ("_callbacks", "_env", "_ids", "_ok", "_schedule", "callbacks")

    def __init__(self, env: Clock, callback: Callable[[Timer], None]) -> None:
        self._env = env
        self._schedule: Schedule = env._queue  # SimPy's heap
        self._ids = env._eid  # SimPy's event ids
        self._callbacks = [callback]
        self._ok = True  # a slot, not a class attribute: the run loop reads it per event
        # set while pending; SimPy's step takes them (and sets None) when the timer fires
        self.callbacks: list[Callable[[Timer], None]] | None = None

    def start(self, delay: float) -> None:
        """Fire after ``delay`` seconds; refused while the timer is pending, or for a
        negative delay (as SimPy refuses a negative timeout)."""
        if self.callbacks is not None:
            raise SimulationStateError("Timer.start: the timer is already pending")
        if delay < 0.0:  # 0.0: a float-to-float comparison is specialized (with 0, it is not)
            raise SimulationStateError(f"Timer.start: delay must be >= 0 seconds, got {delay}")
        self.callbacks = self._callbacks
        heappush(self._schedule, (self._env.now + delay, NORMAL, next(self._ids), self))


class Watchdog:
    """What both engines share: the limit on work at one simulated instant, and the error
    that says what the stalled run was doing."""

    now: float

    def _start_watchdog(self) -> None:
        self.stall_after = limits.STALL_AFTER
        """Steps at one instant after which ``run`` stops, as making no progress."""
        self.stall_hint: Callable[[float, Counter[str]], str] | None = None
        """What to add to that error: a function of the time and the names of the last
        steps' callbacks (:func:`step_name`) with their counts."""
        self._still_at = math.nan  # the time the watchdog saw last
        self._still = 0  # steps counted at _still_at since the clock was seen standing
        self._last_steps: Counter[str] = Counter()
        self._work_at = math.nan  # the instant of the zero-time work counted last
        self._work = 0  # zero-time work counted at _work_at

    def instant_work(self) -> None:
        """Count one piece of work done at this instant within a step: an attempt of zero
        service time, which a worker makes without yielding to the clock. ``stall_after``
        of them at one instant stop the run as making no progress, as as many steps do."""
        if self.now != self._work_at:
            self._work_at, self._work = self.now, 1
            return
        self._work += 1
        if self._work >= self.stall_after:
            self._last_steps.clear()
            raise self._stalled(self._work, "attempts of zero service time")

    def _stalled(self, count: int, what: str = "steps") -> SimulationStateError:
        steps = self._last_steps
        ran = ", ".join(f"{name} ×{n:,}" for name, n in steps.most_common(3))
        shown = f"; the last {min(count, STEPS_SHOWN):,} ran {ran}" if ran else ""
        hint = self.stall_hint(self.now, steps) if self.stall_hint is not None else ""
        return SimulationStateError(
            f"run: no progress in simulated time: {count:,} {what} at t = {self.now:g} s "
            f"without the clock moving (stall_after={self.stall_after:,}){shown}"
            + (f"; {hint}" if hint else "")
        )


class Clock(Watchdog, simpy.Environment):
    """SimPy's environment with a cheaper ``now`` (seconds), timers without an event, and
    a run loop without a call per event.

    Components read the time about eight times per event. SimPy keeps it in ``_now``
    behind a Python property ``now``, which CPython 3.11 reads through its generic
    attribute path (about 80 ns); here ``now`` is a slot (a specialized member read, about
    10 ns) and ``_now`` the property, over the slot, so SimPy's own code (``__init__``,
    ``schedule``, ``step``) reads and writes the same time. The costs: SimPy's ``schedule``
    now pays the property read once per SimPy event (a timeout, a process step, a
    ``succeed``), and ``now`` can be assigned, which SimPy refuses: do not, only the run
    loop moves the clock. This and :class:`Timer` rely on SimPy 4's internals (``_now``,
    the heap ``_queue``, the id counter ``_eid``, ``run`` calling ``step``): the
    dependency is pinned to SimPy 4.1, and ``tests/test_engine.py`` checks the behaviour
    against ``simpy.Environment``.
    """

    __slots__ = ("now",)
    now: float  # the current simulation time (seconds)

    def __init__(self, initial_time: float = 0.0) -> None:
        super().__init__(initial_time)  # a float from the start, as every later time is
        self._start_watchdog()

    def timer(self, callback: Callable[[Timer], None]) -> Timer:
        """A reusable :class:`Timer` calling ``callback(timer)`` each time it fires."""
        return Timer(self, callback)

    def _set_now(self, time: float) -> None:
        self.now = time

    _now = property(operator.attrgetter("now"), _set_now, doc="SimPy's name for ``now``.")

    def call_later(self, delay: float, callback: Callable[[Timer], None]) -> None:
        """Call ``callback(timer)`` after ``delay`` seconds (>= 0).

        The same place in SimPy's schedule as ``timeout(delay).callbacks.append(callback)``
        (same priority, the next event id), without building a ``Timeout`` event through
        two Python calls: for timers nothing waits on. A caller that sets one timer after
        another keeps a :class:`Timer` instead.
        """
        Timer(self, callback).start(delay)

    def run(self, until: float | simpy.Event | None = None) -> Any:
        """SimPy's ``run`` (same arguments, same result), its steps taken in one loop.

        SimPy's ``run`` calls ``step()`` until it raises; while it runs, ``step`` is
        :meth:`_steps`, which goes on to the next event instead of returning (a Python call
        less per event). Outside ``run``, ``step()`` is SimPy's: one event.

        A run that takes ``stall_after`` steps without the clock moving (a zero-time loop)
        raises :class:`~evsim.errors.SimulationStateError` naming what those steps ran.
        """
        # run() from within run(): the loop is already set (== because each read of a
        # method builds a new bound method; reading __dict__ would cost the clock its
        # attribute fast paths)
        if self.step == self._steps:
            return super().run(until)
        self.step = self._steps  # type: ignore[method-assign]
        self._still_at = self._work_at = math.nan
        try:
            return super().run(until)
        finally:
            del self.step

    def _steps(self) -> NoReturn:
        """SimPy's ``step`` in a loop: process events until one raises (``StopSimulation``
        at ``until``, a failed event nobody defused) or none is left (``EmptySchedule``)."""
        queue: Schedule = self._queue
        watch_at = -1  # the event id past which the watchdog looks next
        while queue:
            self.now, _, eid, event = heappop(queue)
            if eid > watch_at:  # the watchdog's cost per event: this comparison
                watch_at = self._watch(eid, event)
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:  # as SimPy: the rest of the callbacks run on resuming
                event.callbacks = callbacks[callbacks.index(callback) + 1 :]
                self.schedule(event, EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                error = type(event._value)(*event._value.args)  # SimPy's copy, new traceback
                error.__cause__ = event._value
                raise error
        raise EmptySchedule

    def _watch(self, eid: int, event: Any) -> int:
        """The run loop's slow path; returns the event id past which it runs next.

        Event ids grow by one per scheduled event, so while the clock moves this runs
        about once per WATCH_EVERY events (or ``stall_after``, if fewer). Once it finds
        the clock where it was the last time, it runs at every step (-1), counting the
        steps, until the clock moves or ``stall_after`` steps have been taken at that
        instant.
        """
        if self.now != self._still_at:
            self._still_at, self._still = self.now, 0
            if self._last_steps:
                self._last_steps.clear()
            return eid + min(WATCH_EVERY, self.stall_after)  # a small stall_after holds too
        self._still += 1
        if self._still > self.stall_after - STEPS_SHOWN:
            self._last_steps.update(map(step_name, event.callbacks or ()))
            if self._still >= self.stall_after:
                raise self._stalled(self._still)
        return -1


def step_name(callback: Callable[..., Any]) -> str:
    """What a step's callback runs: a SimPy process's generator function, a timer's
    function, or a method, by qualified name (``ConsumerGroup._crash_loop``)."""
    generator = getattr(getattr(callback, "__self__", None), "_generator", None)
    if generator is not None:  # Process._resume: the process's own function
        return getattr(generator, "__qualname__", type(generator).__name__)
    function = getattr(callback, "func", callback)  # functools.partial
    return getattr(function, "__qualname__", type(function).__name__)
