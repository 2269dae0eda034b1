"""Arrivals on a timer: the one loop that turns an arrival process's times into calls.

A producer's events and an open-loop client's requests arrive the same way: at each time
an arrival process gives (seconds, non-decreasing), before ``stop``. One reusable timer
per source carries them, so an arrival costs a schedule entry and no SimPy process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from evsim.errors import ConfigError
from evsim.plain_engine import Engine


def start_arrivals(
    env: Engine, times: Iterator[float], stop: float, arrive: Callable[[], None], arrivals: Any
) -> None:
    """Call ``arrive()`` at each of ``times`` before ``stop`` (seconds); ``arrivals`` is
    the process they came from, named in the error for a time that goes back."""

    def next_arrival(timer_fired: object) -> None:
        if timer_fired is not None:  # an arrival is due
            arrive()
        time = next(times, stop)
        if time < stop:
            if time < env.now:
                raise ConfigError(
                    f"arrivals: {arrivals!r} gave an arrival at {time} s after one at "
                    f"{env.now} s; arrival times must not decrease"
                )
            timer.start(time - env.now)

    timer = env.timer(next_arrival)
    next_arrival(None)  # set the first timer
