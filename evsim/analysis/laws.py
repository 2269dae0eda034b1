"""Operational laws: relations that hold for any system, with or without a steady state
of a particular queueing model. Rates are per second, times seconds.

- :func:`little` — Little's law, L = λW (J. D. C. Little (1961), "A proof for the queuing
  formula L = λW", *Operations Research* 9(3));
- :func:`utilisation` — the utilisation law, ρ = λ·E[S] / c, for a consumer group from its
  parameters.

Both are also :mod:`evsim.theory`'s (``ev.theory.little``, ``ev.theory.utilisation``).
"""

from __future__ import annotations

from evsim import _check
from evsim.errors import ConfigError
from evsim.workload.dist import Distribution, as_distribution

# --- Little's law ---------------------------------------------------------------------


def little(
    l: float | None = None,  # noqa: E741 (the textbook's name)
    arrival_rate: float | None = None,
    w: float | None = None,
) -> float:
    """Little's law, L = λW: give exactly two of ``l`` (mean number in the system),
    ``arrival_rate`` (λ, per second) and ``w`` (mean time in the system, seconds) and get
    the third. It holds for any system in steady state, whatever the arrival process,
    service distribution or queue discipline (Little 1961).

    ``little(arrival_rate=0.5, w=2) == 1.0``; ``little(l=1, w=2) == 0.5``. Raises
    ConfigError unless exactly two are given, ``arrival_rate`` > 0, ``l`` and ``w`` >= 0
    (``w`` > 0 when solving for λ).
    """
    given = {"l": l, "arrival_rate": arrival_rate, "w": w}
    named = [name for name, value in given.items() if value is not None]
    if len(named) != 2:
        listed = ", ".join(named) if named else "none"
        raise ConfigError(
            f"little: give exactly two of l, arrival_rate, w (got {len(named)}: {listed})"
        )
    if l is None:
        return _check.positive("arrival_rate", arrival_rate) * _check.non_negative("w", w)
    if w is None:
        return _check.non_negative("l", l) / _check.positive("arrival_rate", arrival_rate)
    return _check.non_negative("l", l) / _check.positive("w", w)


# --- utilisation ----------------------------------------------------------------------


def utilisation(
    arrival_rate: float,
    service_time: Distribution | float,
    consumers: int = 1,
    partitions: int | None = None,
    concurrency: int = 1,
) -> float:
    """A consumer group's utilisation predicted from its parameters: ρ = λ·E[S] / c.

    ``arrival_rate`` (λ, events per second reaching the group), ``service_time`` (an evsim
    distribution or a plain number of seconds; E[S] is its mean) and the parallel slots
    c = min(``consumers`` × ``concurrency``, ``partitions``): in a Kafka group a partition
    has one owner and is read one record at a time, so consumers beyond the partitions
    idle. ``partitions=None`` (a queue) leaves c = consumers × concurrency. The same
    formula as the measured ``result.summary()["utilisation"]`` (:mod:`evsim.utilisation`),
    here from the parameters instead of the run.

    Unlike the models of :mod:`evsim.theory` it returns any ρ, 1 or more included: ρ < 1
    keeps up, at 1 or more the backlog grows for as long as a run lasts. It is the group's
    average: with uneven partition shares one consumer can be overloaded while ρ < 1.
    ``utilisation(50, 0.08, consumers=3, partitions=6) == 4 / 3``. Raises ConfigError if
    ``arrival_rate`` is < 0, the service mean is not > 0, or a count is not a whole
    number >= 1.
    """
    arrival_rate = _check.non_negative("arrival_rate", arrival_rate)
    mean = as_distribution(service_time, "service_time").mean
    if mean <= 0:
        raise ConfigError(f"service_time: its mean must be > 0, got {service_time!r}")
    slots = _check.integer("consumers", consumers, minimum=1)
    slots *= _check.integer("concurrency", concurrency, minimum=1)
    if partitions is not None:
        slots = min(slots, _check.integer("partitions", partitions, minimum=1))
    return arrival_rate * mean / slots
