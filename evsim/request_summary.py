"""The summary's rows for services and clients: what the request-response side did.

One row per service, then per client, of requests sent (clients) or call attempts
received (services) after the warmup. Counts are requests, times seconds, rates per
second over ``until − warmup``:

``requests``
    a client's requests that ended; a service's call attempts addressed to it (those its
    callers' breakers short-circuited or bulkheads refused included: they never reached
    it, and ``throughput`` leaves them out).
``ok``, ``errors``, ``timeouts``, ``rejected``, ``short_circuited``
    how they ended (a client's final outcomes; a service's attempts as their callers saw
    them: a timeout is a caller that gave up).
``availability``
    ok / requests.
``goodput``
    useful answers per second: a client's ok requests that came within its timeout (all
    of them without one); a service's ok answers (a caller was still waiting).
``throughput``
    a client's ok requests per second; a service's requests whose work ended per second,
    answered or not (work done for a caller that gave up counts here, not in goodput).
``latency_mean``, ``latency_p50``, ``latency_p95``, ``latency_p99``
    of the ok requests (a client: from first send to answer, retries included; a service:
    per attempt, queueing included).
``utilisation``
    a service's busy worker-seconds / (workers × span); NaN for a client.
``retries``
    attempts beyond the first: a client's, or those a service received.
``amplification``
    a client's call attempts per request; a service's attempts received per request the
    clients sent (how retries across layers multiply the load).

``record="summary"`` gives the same counts; its latencies come from log-spaced histograms
(:class:`~evsim.records.summary.LatencyHistogram`: within 6 % of the exact quantile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evsim.records import CallStatus
from evsim.run_record import RunRecord

REQUEST_COLUMNS = [
    "requests", "ok", "errors", "timeouts", "rejected", "short_circuited", "availability",
    "goodput", "throughput", "latency_mean", "latency_p50", "latency_p95", "latency_p99",
    "utilisation", "retries", "amplification",
]  # fmt: skip
STATUS_COLUMNS = {
    CallStatus.OK: "ok", CallStatus.ERROR: "errors", CallStatus.TIMEOUT: "timeouts",
    CallStatus.REJECTED: "rejected", CallStatus.SHORT_CIRCUITED: "short_circuited",
}  # fmt: skip
QUANTILES = (0.5, 0.95, 0.99)


@dataclass
class Measured:
    """One service's or client's figures after the warmup, in either recording mode."""

    counts: dict[CallStatus, int]  # how many ended so
    sent: int  # a client's requests sent after the warmup, pending ones too (0: a service)
    useful: int  # goodput's numerator
    done: float  # throughput's numerator
    mean: float  # of the ok latencies (seconds; NaN if none)
    quantile: Callable[[float], float]  # of the ok latencies (seconds)
    busy: float  # worker-seconds (services; NaN for clients)
    retries: int
    amplified: float  # amplification's numerator


def rows(record: RunRecord, tables: tuple[pd.DataFrame, pd.DataFrame] | None) -> pd.DataFrame:
    """The summary rows, from ``tables`` (requests, calls) with ``record="full"``, or from
    the tallies (None)."""
    measured = _from_tables(record, *tables) if tables is not None else _from_tallies(record)
    span = record.until - record.warmup
    sent = sum(m.sent for m in measured.values())
    table = pd.DataFrame(
        [_row(m, span, sent, record, name) for name, m in measured.items()],
        index=pd.Index(list(measured), name="group"),
    )
    return table[REQUEST_COLUMNS]


def _row(m: Measured, span: float, sent: int, record: RunRecord, name: str) -> dict[str, float]:
    ended = sum(m.counts.values())
    row: dict[str, float] = {"requests": ended}
    row.update({column: m.counts[status] for status, column in STATUS_COLUMNS.items()})
    row["availability"] = row["ok"] / ended if ended else np.nan
    row["goodput"] = m.useful / span
    row["throughput"] = m.done / span
    row["latency_mean"] = m.mean
    for q in QUANTILES:
        row[f"latency_p{round(q * 100)}"] = m.quantile(q)
    workers = {s.name: s.workers for s in record.services}
    row["utilisation"] = m.busy / (workers[name] * span) if name in workers else np.nan
    row["retries"] = m.retries
    denominator = m.sent if name not in workers else sent
    row["amplification"] = m.amplified / denominator if denominator else np.nan
    return row


def _from_tables(
    record: RunRecord, requests: pd.DataFrame, calls: pd.DataFrame
) -> dict[str, Measured]:
    measured: dict[str, Measured] = {}
    calls = calls[calls["started_at"] >= record.warmup]
    requests = requests[requests["sent_at"] >= record.warmup]
    for service in record.services:
        mine = calls[calls["callee"] == service.name]
        ok = mine.loc[mine["status"] == "ok"]
        measured[service.name] = Measured(
            counts=_status_counts(mine["status"]),
            sent=0,
            useful=len(ok),
            done=service.finished,
            mean=_mean(ok["finished_at"] - ok["started_at"]),
            quantile=_exact(ok["finished_at"] - ok["started_at"]),
            busy=service.busy_seconds,
            retries=int((mine["attempt"] > 1).sum()),
            amplified=len(mine),
        )
    for client in record.clients:
        mine = requests[requests["client"] == client.name]
        ok = mine.loc[mine["outcome"] == "ok"]
        in_time = ok if client.timeout is None else ok[ok["latency"] <= client.timeout]
        measured[client.name] = Measured(
            counts=_status_counts(mine["outcome"]),
            sent=len(mine),
            useful=len(in_time),
            done=len(ok),
            mean=_mean(ok["latency"]),
            quantile=_exact(ok["latency"]),
            busy=np.nan,
            retries=int((mine["attempts"] - 1).clip(lower=0).sum()),
            amplified=int((calls["caller"] == client.name).sum()),
        )
    return measured


def _from_tallies(record: RunRecord) -> dict[str, Measured]:
    logs = record.records.summary_logs()
    requests, calls = logs.requests, logs.calls
    measured: dict[str, Measured] = {}
    for service in record.services:
        code = service.code
        counts = {status: calls.measured[code, status] for status in STATUS_COLUMNS}
        histogram = calls.latency.get(code)
        measured[service.name] = Measured(
            counts=counts,
            sent=0,
            useful=counts[CallStatus.OK],
            done=service.finished,
            mean=histogram.mean() if histogram else np.nan,
            quantile=histogram.quantile if histogram else _none,
            busy=service.busy_seconds,
            retries=calls.retries[code],
            amplified=sum(counts.values()),
        )
    for client in record.clients:
        code = client.code
        counts = {status: requests.measured[code, status] for status in STATUS_COLUMNS}
        histogram = requests.latency.get(code)
        measured[client.name] = Measured(
            counts=counts,
            sent=sum(counts.values()) + _pending_after_warmup(record, code),
            useful=requests.in_time[code] if client.timeout else counts[CallStatus.OK],
            done=counts[CallStatus.OK],
            mean=histogram.mean() if histogram else np.nan,
            quantile=histogram.quantile if histogram else _none,
            busy=np.nan,
            retries=requests.retries[code],
            amplified=calls.made[code],
        )
    return measured


def _pending_after_warmup(record: RunRecord, client: int) -> int:
    pending = record.pending_requests
    if pending is None or not len(pending):
        return 0
    mine = (pending.numpy("client") == client) & (pending.numpy("sent_at") >= record.warmup)
    return int(mine.sum())


def _status_counts(statuses: pd.Series) -> dict[CallStatus, int]:
    counted = statuses.value_counts()
    return {status: int(counted.get(status.name.lower(), 0)) for status in STATUS_COLUMNS}


def _exact(latencies: pd.Series) -> Callable[[float], float]:
    values = latencies.to_numpy(dtype=float)
    return lambda q: float(np.quantile(values, q)) if len(values) else np.nan


def _none(_q: float) -> float:
    return np.nan


def _mean(latencies: pd.Series) -> float:
    return float(latencies.mean()) if len(latencies) else np.nan
