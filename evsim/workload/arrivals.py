"""Arrival processes: when a producer publishes (times in seconds, rates per second).

An arrival process turns a random generator into a lazy iterator of *absolute* arrival
times in seconds, each >= the start time and never decreasing. Random numbers are drawn in
blocks, never with one NumPy call per arrival.

- :class:`Poisson` — memoryless arrivals at a constant rate (events per second).
- :class:`Periodic` — one arrival every ``interval`` seconds, like a cron job or a poller.
- :class:`Schedule` — a Poisson process whose rate changes at given times: event storms.
- :class:`Replay` — arrival times taken from data.
"""

from __future__ import annotations

import bisect
import itertools
import math
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from evsim._check import non_negative, number, positive
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.rng import check_generator
from evsim.workload.specs import (
    BLOCK,
    Specified,
    blocks,
    build_from_spec,
    non_negative_array,
    short_list,
)


class Arrivals(Specified):
    """A process of arrival times in seconds, with a long-run ``rate`` in events per second."""

    @property
    @abstractmethod
    def rate(self) -> float:
        """The long-run mean rate, in events per second."""

    @abstractmethod
    def _times(self, rng: np.random.Generator, start: float) -> Iterator[float]:
        """The arrival times after ``start`` (arguments already checked)."""

    def times(self, rng: np.random.Generator, start: float = 0.0) -> Iterator[float]:
        """A lazy iterator of absolute arrival times (seconds), >= ``start``, non-decreasing.

        It may be infinite (Poisson, Periodic, a Schedule ending at a positive rate).
        The iterator owns ``rng``: do not draw from it elsewhere.
        """
        return self._times(check_generator("rng", rng), non_negative("start", start))

    def expected_count(self, start: float, end: float) -> float:
        """The expected number of arrivals in ``[start, end)`` (seconds): ``rate`` times
        the span, for a process with a constant rate."""
        low, high = number("start", start), number("end", end)
        return self.rate * max(0.0, high - low)


class Poisson(Arrivals):
    """Poisson arrivals at ``rate`` events per second (> 0).

    Gaps between arrivals are exponential with mean ``1 / rate`` seconds; the first arrival
    comes one gap after the start.
    """

    kind = "poisson"

    def __init__(self, rate: float) -> None:
        self._rate = positive("rate", rate)

    def _params(self) -> dict[str, Any]:
        return {"rate": self._rate}

    @property
    def rate(self) -> float:
        return self._rate

    def _times(self, rng: np.random.Generator, start: float) -> Iterator[float]:
        mean_gap = 1.0 / self._rate

        def blocks_of_times() -> Iterator[list[float]]:
            now = start
            while True:
                times = (now + np.cumsum(rng.exponential(mean_gap, BLOCK))).tolist()
                yield times
                now = times[-1]

        # chained in C: the generator resumes once per block, not once per arrival
        return itertools.chain.from_iterable(blocks_of_times())


class Periodic(Arrivals):
    """One arrival every ``interval`` seconds (> 0): at start + interval, start + 2·interval, …

    Times are computed as ``start + k * interval``, so they do not drift. ``rate`` is
    ``1 / interval`` per second. No random numbers are used.
    """

    kind = "periodic"

    def __init__(self, interval: float) -> None:
        self._interval = positive("interval", interval)

    def _params(self) -> dict[str, Any]:
        return {"interval": self._interval}

    @property
    def rate(self) -> float:
        return 1.0 / self._interval

    def _times(self, rng: np.random.Generator, start: float) -> Iterator[float]:
        interval = self._interval
        return (start + k * interval for k in itertools.count(1))


def _check_pair(index: int, pair: Any) -> tuple[float, float]:
    """One ``(time, rate)`` step of a Schedule."""
    if isinstance(pair, str | bytes | Mapping) or not isinstance(pair, Iterable):
        raise ConfigTypeError(f"steps[{index}]: expected a (time, rate) pair, got {pair!r}")
    items = list(pair)
    if len(items) != 2:
        raise ConfigError(f"steps[{index}]: expected a (time, rate) pair, got {pair!r}")
    time = non_negative(f"steps[{index}] time", items[0])
    return time, non_negative(f"steps[{index}] rate", items[1])


def _check_steps(steps: Any) -> tuple[tuple[float, float], ...]:
    """A non-empty sequence of (time, rate) pairs with strictly increasing times."""
    if isinstance(steps, str | bytes | Mapping) or not isinstance(steps, Iterable):
        raise ConfigTypeError(
            f"steps: expected a list of (time, rate) pairs, e.g. [(0, 50), (60, 500)], "
            f"got {steps!r}"
        )
    pairs = tuple(_check_pair(index, pair) for index, pair in enumerate(steps))
    if not pairs:
        raise ConfigError("steps: expected at least one (time, rate) pair, got none")
    for index in range(1, len(pairs)):
        if pairs[index][0] <= pairs[index - 1][0]:
            raise ConfigError(
                f"steps: times must be strictly increasing, got {pairs[index][0]!r} "
                f"at steps[{index}] after {pairs[index - 1][0]!r}"
            )
    return pairs


class Schedule(Arrivals):
    """A Poisson process whose rate (events per second) is piecewise constant in time.

    ``steps`` is a non-empty list of ``(time, rate)`` pairs, times in seconds strictly
    increasing and >= 0, rates >= 0: from each time on, arrivals come at that rate, until
    the next step. The rate is 0 before the first step and the last rate holds forever, so
    ``Schedule([(0, 50), (60, 500), (90, 50)])`` is a 30-second storm at 500/s in a steady
    50/s. If the last rate is 0, the iterator of times ends.

    Sampling is exact: an exponential gap is drawn at the current rate; if it would cross
    the next step, time jumps to the step and a new gap is drawn at the new rate (the
    process is memoryless). ``rate`` is the rate in force at the end (the last step's);
    :meth:`rate_at` gives the rate at any time.
    """

    kind = "schedule"

    def __init__(self, steps: Iterable[tuple[float, float]]) -> None:
        self._steps = _check_steps(steps)
        self._starts = [time for time, _ in self._steps]

    def _params(self) -> dict[str, Any]:
        return {"steps": [list(pair) for pair in self._steps]}

    def __repr__(self) -> str:
        return f"Schedule(steps={list(self._steps)!r})"

    @property
    def steps(self) -> tuple[tuple[float, float], ...]:
        """The ``(time, rate)`` pairs, as floats."""
        return self._steps

    @property
    def rate(self) -> float:
        return self._steps[-1][1]

    def rate_at(self, t: float) -> float:
        """The rate (events per second) in force at time ``t`` seconds (0 before the first step)."""
        index = bisect.bisect_right(self._starts, number("t", t)) - 1
        return 0.0 if index < 0 else self._steps[index][1]

    def expected_count(self, start: float, end: float) -> float:
        """The expected number of arrivals in ``[start, end)`` (seconds): the rate's integral."""
        low, high = number("start", start), number("end", end)
        bounds = [*self._starts, math.inf]
        total = 0.0
        for index, (time, rate) in enumerate(self._steps):
            overlap = min(high, bounds[index + 1]) - max(low, time)
            if overlap > 0 and rate > 0:
                total += rate * overlap
        return total

    def _times(self, rng: np.random.Generator, start: float) -> Iterator[float]:
        unit_gaps = blocks(lambda: rng.standard_exponential(BLOCK).tolist())
        bounds = [*self._starts[1:], math.inf]
        index = bisect.bisect_right(self._starts, start) - 1
        now = start
        if index < 0:  # before the first step: nothing arrives until it
            index, now = 0, self._starts[0]
        while True:
            rate, bound = self._steps[index][1], bounds[index]
            if rate > 0:
                arrival = now + unit_gaps() / rate
                if arrival < bound:
                    now = arrival
                    yield arrival
                    continue
            if bound == math.inf:
                return
            index, now = index + 1, bound


def _check_times(times: Any) -> tuple[float, ...]:
    """A non-empty sequence of finite times >= 0, sorted ascending."""
    array = non_negative_array("times", times)
    unsorted = np.flatnonzero(np.diff(array) < 0)
    if unsorted.size:
        i = int(unsorted[0]) + 1
        later, earlier = float(array[i]), float(array[i - 1])
        raise ConfigError(
            f"times: must be sorted ascending, but times[{i}]={later!r} "
            f"< times[{i - 1}]={earlier!r}"
        )
    return tuple(array.tolist())


class Replay(Arrivals):
    """Arrivals at the given ``times`` (seconds, finite, >= 0, sorted ascending), then none.

    Only the times >= ``start`` are replayed. ``rate`` is the number of times divided by
    the span they cover from 0, i.e. ``len(times) / times[-1]`` per second (``inf`` if all
    times are 0). No random numbers are used.
    """

    kind = "replay"

    def __init__(self, times: Iterable[float]) -> None:
        self._times_list = _check_times(times)

    def _params(self) -> dict[str, Any]:
        return {"times": list(self._times_list)}

    def __repr__(self) -> str:
        return f"Replay(times={short_list(self._times_list)})"

    @property
    def rate(self) -> float:
        span = self._times_list[-1]
        return len(self._times_list) / span if span > 0 else math.inf

    def _times(self, rng: np.random.Generator, start: float) -> Iterator[float]:
        first = bisect.bisect_left(self._times_list, start)
        return itertools.islice(self._times_list, first, None)

    def expected_count(self, start: float, end: float) -> float:
        """The number of times in ``[start, end)`` (exact: nothing is random)."""
        low, high = number("start", start), number("end", end)
        times = self._times_list
        return float(max(0, bisect.bisect_left(times, high) - bisect.bisect_left(times, low)))


KINDS: dict[str, type[Arrivals]] = {cls.kind: cls for cls in (Poisson, Periodic, Schedule, Replay)}


def as_arrivals(value: Any, argument: str) -> Arrivals:
    """``value`` if it is an arrival process, else an error naming ``argument``."""
    if isinstance(value, Arrivals):
        return value
    raise ConfigTypeError(
        f"{argument}: expected an arrival process (e.g. ev.Poisson(rate=50)), got {value!r}"
    )


def from_spec(spec: Mapping[str, Any] | Arrivals, argument: str = "arrivals") -> Arrivals:
    """The inverse of :meth:`Arrivals.spec`: ``{kind: {parameter: value}}``.

    Kinds: poisson, periodic, schedule, replay. An Arrivals passes through. Errors name
    ``argument``, the kind and the parameter.
    """
    if isinstance(spec, Arrivals):
        return spec
    return build_from_spec(spec, KINDS, argument)
