"""The request-response side of a Prometheus scrape: request and call counters, and
request latency histograms.

As a client library instrumenting each client and each edge would count them:

``evsim_requests_total{client, target, outcome}`` (counter)
    client requests that ended over the whole run, by outcome (``ok``, ``error``,
    ``timeout``, ``rejected``, ``short_circuited``; every outcome of every client, zeros
    too, so a ``rate()`` has a series from the start). A request still in flight at the
    stop has no outcome yet and is not counted (``result.accounting()`` has them).
``evsim_calls_total{caller, callee, status}`` (counter)
    call attempts on each edge that saw one (client → target, service → service,
    balancer → service, cache → service, a handler's ``ctx.call``), by status.
``evsim_request_latency_seconds{client}`` (histogram)
    the latencies ``summary()`` measures: ok requests sent after the warmup, from first
    send to answer (retries included), in the buckets of Prometheus's Go client
    (``DefBuckets``: 5 ms to 10 s, for network calls), cumulative, ``+Inf`` last.

``record="summary"`` keeps per-client outcome counts but no calls and only log-spaced
latency bins: its text has ``evsim_requests_total`` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evsim.errors import SimulationStateError
from evsim.records import CallStatus
from evsim.views.prometheus_format import Family, Sample, histogram

if TYPE_CHECKING:
    from evsim.result import Result

ENDINGS = tuple(s.name.lower() for s in CallStatus if s != CallStatus.PENDING)
"""How a request or a call attempt ends (a counter's ``outcome`` or ``status`` label)."""
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds in seconds: client_golang's ``prometheus.DefBuckets``."""


def request_families(result: Result) -> list[Family]:
    """The request-response families of ``result``: calls when there were some (a
    consumer group's handler may call a service without any client), requests and their
    latency when it has clients."""
    clients = bool(result.clients)
    families = [_requests(result)] if clients else []
    try:
        families.append(_calls(result))
        families += [_latency(result)] if clients else []
    except SimulationStateError:  # record="summary": no calls, no request rows
        pass
    return families


def _requests(result: Result) -> Family:
    name = "evsim_requests_total"
    counts = result.accounting()[list(ENDINGS)]  # a row per group, then per client
    clients = result.config.get("scenario", {}).get("clients", [])
    targets = {client["name"]: client["target"] for client in clients}
    samples: list[Sample] = [
        (name, {"client": client, "target": targets[client], "outcome": outcome}, int(n))
        for client in result.clients
        for outcome, n in zip(ENDINGS, counts.loc[client].to_numpy(), strict=True)
    ]
    text = "Client requests that ended, by outcome (a request and its retries count once)."
    return name, "counter", text, samples


def _calls(result: Result) -> Family:
    name = "evsim_calls_total"
    calls = result.calls
    counts = calls.groupby([calls["caller"].astype(str), calls["callee"].astype(str),
                            calls["status"].astype(str)]).size()  # fmt: skip
    pairs = dict.fromkeys((caller, callee) for caller, callee, _ in counts.index)
    samples: list[Sample] = [
        (name, {"caller": caller, "callee": callee, "status": status},
         int(counts.get((caller, callee, status), 0)))
        for caller, callee in pairs for status in ENDINGS
    ]  # fmt: skip
    text = "Call attempts on each caller-to-callee edge, by status (each retry is one)."
    return name, "counter", text, samples


def _latency(result: Result) -> Family:
    name = "evsim_request_latency_seconds"
    requests = result.requests
    measured = requests[(requests["outcome"] == "ok") & (requests["sent_at"] >= result.warmup)]
    samples: list[Sample] = []
    for client in result.clients:
        latencies = measured.loc[measured["client"] == client, "latency"]
        samples += histogram(name, {"client": client}, latencies, BUCKETS)
    text = (
        "Latency of ok client requests from first send to answer, retries included, in "
        "seconds (requests sent after the warmup)."
    )
    return name, "histogram", text, samples
