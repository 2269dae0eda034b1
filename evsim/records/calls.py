"""Records of the request-response side: client requests and call attempts.

A *request* is what a client sends (one row when it ends: its outcome and how many
attempts it took); a *call* is one attempt on one edge, client → service or service →
service (a row when the caller stops waiting: the callee answered, the caller's timeout
fired, or the callee refused it). Ids count from 0 in each log; a request's id is taken
when it is sent, so the requests still in flight at the stop get theirs too.

``record="full"`` keeps a row each (:class:`RequestLog`, :class:`CallLog`);
``record="summary"`` keeps counts per (entity, status) and latency histograms
(:class:`RequestTally`, :class:`CallTally`), in memory that does not grow with the run.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import ClassVar

from evsim.records.codes import OK
from evsim.records.columns import PackedRows, SparseColumn
from evsim.records.summary import LatencyHistogram

INF = float("inf")


class RequestLog(PackedRows):
    """One row per client request that ended (or was pending at the stop).

    ``add(request, client, target, key, sent_at, completed_at, outcome, attempts)``: times
    in seconds, ``outcome`` a :class:`~evsim.records.codes.CallStatus`.
    """

    FIELDS: ClassVar[dict[str, str]] = {
        "request": "q",
        "client": "i",
        "target": "i",
        "sent_at": "d",
        "completed_at": "d",
        "outcome": "b",
        "attempts": "i",
    }

    def __init__(self) -> None:
        super().__init__()
        self.key = SparseColumn("O", None)
        self.next_id: Callable[[], int] = itertools.count().__next__
        self.add = self._adder()

    def _adder(self) -> Callable[..., None]:
        extend, pack = self._packer()
        rows, row_size, keys = self._rows, self._row.size, self.key.values

        def add(
            request: int, client: int, target: int, key: str | None, sent_at: float,
            completed_at: float, outcome: int, attempts: int,
        ) -> None:  # fmt: skip
            if key is not None:
                keys[len(rows) // row_size] = key
            extend(pack(request, client, target, sent_at, completed_at, outcome, attempts))

        return add


class CallLog(PackedRows):
    """One row per call attempt, on any edge.

    ``add(request, caller, callee, attempt, started_at, finished_at, status, queue_wait)``:
    the row number is the call id. ``queue_wait`` is the seconds the call waited in the
    callee's queue before a worker took it (NaN if none had when the caller stopped
    waiting: refused, or still queued at a timeout).
    """

    FIELDS: ClassVar[dict[str, str]] = {
        "request": "q",
        "caller": "i",
        "callee": "i",
        "attempt": "i",
        "started_at": "d",
        "finished_at": "d",
        "status": "b",
        "queue_wait": "d",
    }

    def __init__(self) -> None:
        super().__init__()
        extend, pack = self._packer()

        def add(
            request: int, caller: int, callee: int, attempt: int, started_at: float,
            finished_at: float, status: int, queue_wait: float,
        ) -> None:  # fmt: skip
            extend(pack(request, caller, callee, attempt, started_at, finished_at, status,
                        queue_wait))  # fmt: skip

        self.add = add


class RequestTally:
    """Requests counted per (client, outcome), for the accounting; and, of those sent
    after ``warmup`` (seconds), the same counts, each client's retries, its successful
    requests' latency histogram and how many of them came within its timeout
    (``timeouts``: seconds per client code, set when the run starts)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, int]] = Counter()
        self.measured: Counter[tuple[int, int]] = Counter()
        self.retries: Counter[int] = Counter()
        self.in_time: Counter[int] = Counter()
        self.latency: dict[int, LatencyHistogram] = {}
        self.warmup = 0.0
        self.timeouts: dict[int, float] = {}
        self.next_id: Callable[[], int] = itertools.count().__next__

    def add(
        self, request: int, client: int, target: int, key: str | None, sent_at: float,
        completed_at: float, outcome: int, attempts: int,
    ) -> None:  # fmt: skip
        self.counts[client, outcome] += 1
        if sent_at < self.warmup:
            return
        self.measured[client, outcome] += 1
        self.retries[client] += max(0, attempts - 1)
        if outcome == OK:
            latency = completed_at - sent_at
            histogram = self.latency.get(client)
            if histogram is None:
                histogram = self.latency[client] = LatencyHistogram()
            histogram.add(latency)
            if latency <= self.timeouts.get(client, INF):
                self.in_time[client] += 1

    def __len__(self) -> int:
        return sum(self.counts.values())


class CallTally:
    """Of the call attempts started after ``warmup`` (seconds): counts per (callee,
    status), retries per callee, attempts per caller, and each callee's latency histogram
    of its successful answers."""

    def __init__(self) -> None:
        self.measured: Counter[tuple[int, int]] = Counter()
        self.retries: Counter[int] = Counter()
        self.made: Counter[int] = Counter()
        self.latency: dict[int, LatencyHistogram] = {}
        self.warmup = 0.0
        self.total = 0

    def add(
        self, request: int, caller: int, callee: int, attempt: int, started_at: float,
        finished_at: float, status: int, queue_wait: float,
    ) -> None:  # fmt: skip
        self.total += 1
        if started_at < self.warmup:
            return
        self.measured[callee, status] += 1
        self.made[caller] += 1
        if attempt > 1:
            self.retries[callee] += 1
        if status == OK:
            histogram = self.latency.get(callee)
            if histogram is None:
                histogram = self.latency[callee] = LatencyHistogram()
            histogram.add(finished_at - started_at)

    def __len__(self) -> int:
        return self.total
