"""Recording in ``record="summary"`` mode: aggregates only, so memory stays flat.

A long run (millions of events) does not need a row per event to answer "what was the
throughput, the p99 latency, the peak lag?". In summary mode:

* events live in :class:`SparseEventLog` only while a broker holds them (a queue frees a
  message's event once it is deleted, expired or redriven; topics keep theirs, as Kafka
  keeps its log for the retention period);
* attempts and outcomes are counted per group, latencies go into a log-spaced histogram
  (200 bins per decade from 1 µs: quantiles within about 1.2 %);
* gauges keep their count, sum and maximum per entity, and each group's peak total lag.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from evsim.records import full
from evsim.records.codes import OK, PROCESSED, Interner, PeakLag

FIELDS = (
    "event_type", "key", "producer", "target", "partition", "offset", "published_at",
    "appended_at", "payload", "schema_version", "cause", "original", "attributes",
)  # fmt: skip
BINS_PER_DECADE = 200
SMALLEST = 1e-6  # seconds: latencies below it share the first bin
DECADES = 13  # 1 µs to 10 million seconds
LAST_BIN = BINS_PER_DECADE * DECADES


class _Column:
    """One field of the live events, read and written by event id."""

    __slots__ = ("_index", "_rows")

    def __init__(self, rows: dict[int, list[Any]], index: int) -> None:
        self._rows = rows
        self._index = index

    def __getitem__(self, event_id: int) -> Any:
        return self._rows[event_id][self._index]

    def __setitem__(self, event_id: int, value: Any) -> None:
        self._rows[event_id][self._index] = value


class SparseEventLog(full.EventFields):
    """The events still held by a broker; the rest are forgotten.

    ``hold``/``release`` count the holders of an event; one released for the last time is
    forgotten when the next event is published, so code finishing the same step can
    still read it.
    """

    def __init__(self, names: Interner) -> None:

        self.names = names
        self._rows: dict[int, list[Any]] = {}
        self._holders: dict[int, int] = {}
        self._released: list[int] = []
        self._count = 0
        for index, field in enumerate(FIELDS):
            setattr(self, field, _Column(self._rows, index))

    def __len__(self) -> int:
        return self._count

    def live(self) -> int:
        """How many events are held now."""
        return len(self._rows)

    def add(
        self,
        event_type: int,
        key: str | None,
        producer: int,
        target: int,
        published_at: float,
        payload: Any,
        schema_version: int,
        cause: int,
        attributes: dict[str, Any] | None,
        original: int = -1,
    ) -> int:
        """Record a newly published event (held once, by its sender) and return its id."""
        rows = self._rows
        for event_id in self._released:
            rows.pop(event_id, None)
        self._released.clear()
        event_id = self._count
        self._count += 1
        rows[event_id] = [
            event_type, key, producer, target, -1, -1, published_at, math.nan, payload,
            schema_version, cause, original, attributes,
        ]  # fmt: skip
        self._holders[event_id] = 1
        return event_id

    def place(self, event_id: int, partition: int, offset: int, time: float) -> None:
        """Note where and when the broker appended the event."""
        row = self._rows[event_id]
        row[4], row[5], row[7] = partition, offset, time

    def hold(self, event_id: int) -> None:
        """One more broker holds the event."""
        self._holders[event_id] += 1

    def release(self, event_id: int) -> None:
        """A holder is done with the event; the last one lets it be forgotten."""
        left = self._holders[event_id] - 1
        if left:
            self._holders[event_id] = left
        else:
            del self._holders[event_id]
            self._released.append(event_id)


class LatencyHistogram:
    """Counts of latencies in log-spaced bins (seconds), with their exact sum."""

    def __init__(self) -> None:
        # a list: += 1 on a Python int is several times cheaper than on a numpy element
        self.counts = [0] * (LAST_BIN + 1)
        self.total = 0.0
        self.n = 0

    def add(self, seconds: float) -> None:
        """Count one latency."""
        self.total += seconds
        self.n += 1
        if seconds <= SMALLEST:
            self.counts[0] += 1
            return
        index = int(math.log10(seconds / SMALLEST) * BINS_PER_DECADE) + 1
        self.counts[min(index, LAST_BIN)] += 1

    def mean(self) -> float:
        """The exact mean latency (NaN if none)."""
        return self.total / self.n if self.n else math.nan

    def quantile(self, q: float) -> float:
        """The ``q`` quantile, at the geometric middle of its bin (NaN if none): the first
        bin holding the ceil(q·n)-th latency (for q = 0, the smallest one's)."""
        if not self.n:
            return math.nan
        rank = max(q * self.n, 1)  # counts are whole: rank 1 is the first non-empty bin
        index = int(np.searchsorted(np.cumsum(self.counts), rank, side="left"))
        if index == 0:
            return SMALLEST
        return SMALLEST * 10 ** ((index - 0.5) / BINS_PER_DECADE)


class AttemptTally:
    """Attempts counted per group and status, and each group's seconds spent in them (for
    its utilisation, :mod:`evsim.utilisation`)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = defaultdict(int)
        self.busy: dict[int, float] = defaultdict(float)

    def add(self, event: int, group: int, consumer: int, attempt: int, started_at: float,
            finished_at: float, status: int, error: str | None = None) -> None:  # fmt: skip
        self.counts[group, status] += 1
        self.busy[group] += finished_at - started_at

    def __len__(self) -> int:
        return sum(self.counts.values())

    def ok(self, group: int) -> int:
        """Successful attempts of a group."""
        return self.counts[group, OK]


class OutcomeTally:
    """Outcomes counted per group, and the latency of processed events."""

    def __init__(self) -> None:
        self.counts: dict[tuple[int, int], int] = defaultdict(int)
        self.latency: dict[int, LatencyHistogram] = defaultdict(LatencyHistogram)
        self.warmup = 0.0

    def add(self, event: int, group: int, consumer: int, outcome: int, attempts: int,
            first_attempt_at: float, completed_at: float, published_at: float) -> None:  # fmt: skip
        self.counts[group, outcome] += 1
        if outcome == PROCESSED and published_at >= self.warmup:
            self.latency[group].add(completed_at - published_at)

    def __len__(self) -> int:
        return sum(self.counts.values())


class GaugeTally(PeakLag):
    """Per gauge and entity: samples, their sum and maximum; each group's peak lag."""

    def __init__(self) -> None:
        super().__init__()
        self.stats: dict[tuple[int, int], list[float]] = {}

    def add(self, time: float, metric: int, entity: int, value: float) -> None:
        stats = self.stats.get((metric, entity))
        if stats is None:
            self.stats[metric, entity] = [1, value, value]
        else:
            stats[0] += 1
            stats[1] += value
            stats[2] = max(stats[2], value)

    def mean(self, metric: int, entity: int) -> float:
        """The average of the samples of one gauge (NaN if none)."""
        stats = self.stats.get((metric, entity))
        return stats[1] / stats[0] if stats else math.nan

    def __len__(self) -> int:
        return len(self.stats)


class Counter:
    """Counts what is appended (routed events, in summary mode) without keeping it."""

    def __init__(self) -> None:
        self.n = 0

    def append(self, _item: int) -> None:
        self.n += 1

    def extend(self, items: Any) -> None:
        self.n += sum(1 for _ in items)

    def __len__(self) -> int:
        return self.n
