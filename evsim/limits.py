"""The sizes evsim refuses, so that hostile or mistaken input fails fast with an error
naming the limit instead of hanging or exhausting memory.

Each limit is a module constant read when it is checked, so a user who means more can
raise it first (as Pillow's ``Image.MAX_IMAGE_PIXELS``)::

    import evsim.limits
    evsim.limits.MAX_PARTITIONS = 1_000_000

A run's size has its own way past, an argument: ``sim.run(until, max_events=...)`` (or
``evsim run --max-events N``) and ``sim.run(until, stall_after=...)``.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from evsim._check import shown
from evsim.errors import ConfigError

# --- components --------------------------------------------------------------------------

MAX_PARTITIONS = 200_000
"""Partitions of one topic, and of every topic of a simulation together: Kafka's
recommended maximum per cluster (4,000 per broker, 200,000 per cluster; Confluent, "Apache
Kafka Supports 200K Partitions Per Cluster", 2018). A partition costs evsim two arrays
and a lag gauge per group."""

MAX_WORKERS = 100_000
"""Workers of one consumer group (``consumers × concurrency``): each costs a SimPy
process or timer and about 4 KB, so 100,000 take some 400 MB."""

MAX_RETRY_TOPICS = 100
"""Retry topics per source topic of non-blocking retries (Spring's ``@RetryableTopic``
makes one per retry; its default of 3 attempts makes 2). Blocking retries
(``ev.Retry(..., blocking=True)``) take any number of attempts without topics."""

MAX_DELAY = 365 * 86400.0
"""Seconds, the longest retry backoff (``base`` and ``cap``): a year is longer than any
broker keeps an event (Kafka's retention default is 7 days, SQS's maximum 14 days), and
it keeps ``<topic>-retry-<delay ms>`` names exact integers."""

MAX_KEYS = 2**53
"""Distinct keys of a key chooser: the Zipf sampler works in float64, whose integers are
exact up to 2**53 (and NumPy draws int64 indices)."""

MAX_TABLE_KEYS = 10_000_000
"""Keys whose probabilities ``probabilities()`` returns as one float64 array (80 MB at
this size); ``ZipfKeys`` also keeps its inverse-CDF table up to it (16 bytes per key, built
in about a second) and samples larger ``n`` by rejection-inversion, in constant memory."""

# --- scenario files ----------------------------------------------------------------------

MAX_FILE_BYTES = 10_000_000
"""Bytes of a scenario file or text: a hand-written scenario takes a few KB; parsing this
much YAML takes about 5 s."""

MAX_DEPTH = 100
"""Nesting of a scenario document (mappings and lists within each other): a scenario needs
about 7 levels (section, entry, spec, parameters, a list of pairs); Python's recursion
limit (1,000 frames) would be reached near 300."""

MAX_NODES = 100_000
"""Values of a scenario document counting each alias once per use (an alias repeats
everything it names, so a 1 KB "billion laughs" file expands to 10**9): parsing 100,000
values takes about 4 s and 100 MB. Larger data (a Replay of many times) are passed in
Python: ``sim.producer(..., arrivals=ev.Replay(times))`` after ``ev.load_scenario``."""

# --- runs ----------------------------------------------------------------------------------

MAX_EVENTS_FULL = 10_000_000
"""Estimated events of a run with ``record="full"`` (arrivals, gauge samples, crash and
commit cycles): a fully recorded event takes about 360 bytes (benchmarks/README.md), so
10**7 take some 3.6 GB, and about 3 minutes at ~55,000 events per second."""

MAX_EVENTS_SUMMARY = 100_000_000
"""Estimated events of a run with ``record="summary"``, whose memory stays flat: 10**8
take about half an hour at ~55,000 events per second."""

STALL_AFTER = 100_000
"""Steps (SimPy events), or attempts of zero service time, at one simulated instant after
which a run is stopped as making no progress: an instant of a sound model holds a few
thousand at most, and a zero-time loop takes 5-30 µs a turn, so a stuck run fails within
seconds. A sound model with larger bursts (a backlog of 10**5 events handled in zero time)
passes ``run(..., stall_after=N)``."""


def at_most(argument: str, value: Any, name: str, why: str, raisable: bool = True) -> None:
    """Refuse a number ``value`` above the limit called ``name`` (a constant of this
    module, read now), naming ``argument``, the limit, why it is there and, if
    ``raisable``, how to raise it. Other values pass: the caller's checks word those."""
    limit = globals()[name]
    if isinstance(value, Real) and not isinstance(value, bool) and value > limit:
        way = f"; to allow more, raise evsim.limits.{name}" if raisable else ""
        raise ConfigError(
            f"{argument}: must be <= {amount(limit)} ({why}{way}), got {shown(value)}"
        )


def amount(limit: float) -> str:
    """``200,000``, or ``9.0e+15`` for a number too long to read with separators."""
    if isinstance(limit, Integral) or (math.isfinite(limit) and limit == int(limit)):
        whole = int(limit)
        return f"{whole:,}" if whole < 10**12 else f"{whole:.1e}"
    return f"{limit:g}"


def workers(consumers: Any, concurrency: Any) -> None:
    """Refuse a consumer group of more than MAX_WORKERS workers (consumers × concurrency);
    values that are not whole numbers are left to the group's own checks."""
    why = "each worker is a SimPy process or timer of about 4 KB"
    at_most("consumers", consumers, "MAX_WORKERS", why)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (consumers, concurrency)):
        return
    if consumers > 0 and concurrency > 0 and consumers * concurrency > MAX_WORKERS:
        raise ConfigError(
            f"concurrency: {consumers:,} consumers × concurrency {concurrency:,} make "
            f"{consumers * concurrency:,} workers, over {MAX_WORKERS:,} ({why}; to allow "
            f"more, raise evsim.limits.MAX_WORKERS)"
        )
