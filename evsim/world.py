"""What every component of one simulation shares: the clock, the records, the random
streams and the directory of named brokers."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any, NoReturn

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, EventPriority

from evsim.dist import Distribution
from evsim.errors import SimulationStateError, UnknownNameError
from evsim.records import Records
from evsim.rng import Streams


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
        self._schedule, self._ids = env._queue, env._eid  # SimPy's heap and event ids
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


class Clock(simpy.Environment):
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
    dependency is pinned below SimPy 5, and ``tests/test_world.py`` checks the behaviour
    against ``simpy.Environment``.
    """

    __slots__ = ("now",)
    now: float  # the current simulation time (seconds)

    def __init__(self, initial_time: float = 0.0) -> None:
        super().__init__(initial_time)  # a float from the start, as every later time is

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
        """
        # run() from within run(): the loop is already set (== because each read of a
        # method builds a new bound method; reading __dict__ would cost the clock its
        # attribute fast paths)
        if self.step == self._steps:
            return super().run(until)
        self.step = self._steps  # type: ignore[method-assign]
        try:
            return super().run(until)
        finally:
            del self.step

    def _steps(self) -> NoReturn:
        """SimPy's ``step`` in a loop: process events until one raises (``StopSimulation``
        at ``until``, a failed event nobody defused) or none is left (``EmptySchedule``)."""
        queue = self._queue
        while queue:
            self.now, _, _, event = heappop(queue)
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


@dataclass
class World:
    """The shared state of one simulation (one SimPy environment)."""

    env: Clock
    records: Records
    streams: Streams
    brokers: dict[str, Any] = field(default_factory=dict)
    message_ids: Iterator[int] = field(default_factory=itertools.count)
    """Queue message ids (SQS MessageId), unique within the simulation, from 0."""
    redrive_cursors: dict[str, list[int]] = field(default_factory=dict)
    """How far redrives have read each dead-letter topic: the next offset per partition."""

    def broker(self, name: Any, argument: str) -> Any:
        """The topic, queue or fanout called ``name`` (or ``name`` itself if it is one)."""
        if not isinstance(name, str):
            known = getattr(name, "name", None)
            if known is not None and self.brokers.get(known) is name:
                return name
            raise UnknownNameError(
                f"{argument}: expected the name of a topic, queue or fanout, got {name!r}"
            )
        broker = self.brokers.get(name)
        if broker is None:
            listed = ", ".join(repr(n) for n in self.brokers) or "none defined yet"
            raise UnknownNameError(
                f"{argument}: no topic, queue or fanout named {name!r} (known: {listed})"
            )
        return broker

    def sampler(self, dist: Distribution, *path: str) -> Callable[[], float]:
        """A zero-argument function drawing from ``dist`` (seconds) on the random stream
        named ``path`` (a constant draws nothing from it)."""
        return dist.sampler(self.streams.generator(*path))
