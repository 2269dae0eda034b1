"""What a Prometheus scrape at the end of a run would see: the text exposition format.

:func:`to_prometheus` renders a :class:`~evsim.Result` in Prometheus's text format
(version 0.0.4, :mod:`evsim.views.prometheus_format`): ``# HELP`` and ``# TYPE`` lines,
then one sample per line, ``name{label="value",...} value``. Gauges hold their last
sampled value (consumer lag per partition, consumers up, queue and dead-letter depth);
counters (names ending ``_total``) count events over the whole run;
``evsim_event_latency_seconds`` is a summary (quantiles 0.5, 0.95 and 0.99 with ``_sum``
and ``_count``) of the latencies ``summary()`` measures, i.e. processed events published
after the warmup. A run with clients adds the request-response side's counters and
latency histograms (:mod:`evsim.views.prometheus_requests`). Label values are escaped as
the format requires (backslash, double quote, newline).

A run recorded with ``record="summary"`` keeps no samples, events or calls: its text
holds the per-group and per-client counters and the event latency summary only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from evsim.errors import SimulationStateError
from evsim.views.prometheus_format import Family, Sample, render
from evsim.views.prometheus_requests import request_families

if TYPE_CHECKING:
    from evsim.result import Result

OUTCOME_COUNTERS = {  # summary() column -> (metric, help)
    "processed": ("evsim_events_processed_total", "Events a consumer group processed."),
    "dead_lettered": (
        "evsim_events_dead_lettered_total",
        "Events a consumer group or its queue sent to a dead-letter target.",
    ),
    "lost": ("evsim_events_lost_total", "Events a consumer group dropped (no dead-letter target)."),
    "expired": (
        "evsim_events_expired_total",
        "Events that expired (retention) before a consumer group processed them.",
    ),
}
QUANTILES = (("0.5", "latency_p50"), ("0.95", "latency_p95"), ("0.99", "latency_p99"))


def to_prometheus(result: Result) -> str:
    """The Prometheus text exposition (format 0.0.4) of ``result`` at the end of the run."""
    summary = result.summary().loc[result.groups]  # the rows of services and clients go
    families: list[Family] = []
    try:
        families += _gauges(result)
        families.append(_published(result))
    except SimulationStateError:  # record="summary": no samples, no events
        pass
    for column, (name, text) in OUTCOME_COUNTERS.items():
        samples = [(name, {"group": g}, summary.loc[g, column]) for g in summary.index]
        families.append((name, "counter", text, samples))
    families.append(_latency(result, summary))
    families += request_families(result)
    return render(families)


def _gauges(result: Result) -> list[Family]:
    series = result.timeseries
    last = (
        series.sort_values("time", kind="stable")
        .groupby([series["metric"].astype(str), series["entity"].astype(str)], sort=False)["value"]
        .last()
    )
    metrics = last.index.get_level_values(0)

    def latest(metric: str) -> Iterable[tuple[str, float]]:
        picked = last[metrics == metric]
        return zip(picked.index.get_level_values(1), picked.to_numpy(), strict=True)

    lag = []
    for entity, value in latest("lag"):
        group, topic, partition = _partition(entity, result.groups)
        labels = {"group": group, "topic": topic, "partition": partition}
        lag.append(("evsim_consumer_lag", labels, value))
    return [
        ("evsim_consumer_lag", "gauge",
         "Consumer lag: log-end offset minus committed offset, in events.", lag),
        ("evsim_consumers_up", "gauge", "Consumers of the group that are running.",
         [("evsim_consumers_up", {"group": e}, v) for e, v in latest("consumers_up")]),
        ("evsim_desired_consumers", "gauge",
         "Consumers the group's autoscaler last recommended (KEDA's rule).",
         [("evsim_desired_consumers", {"group": e}, v) for e, v in latest("desired_consumers")]),
        ("evsim_queue_depth", "gauge",
         "Messages in the queue (visible, in flight and delayed).",
         [("evsim_queue_depth", {"queue": e}, v) for e, v in latest("queue_depth")]),
        ("evsim_dlq_depth", "gauge", "Messages held by the dead-letter queue or topic.",
         [("evsim_dlq_depth", {"queue": e}, v) for e, v in latest("dlq_depth")]),
    ]  # fmt: skip


def _partition(entity: str, groups: list[str]) -> tuple[str, str, str]:
    """Split a lag entity ``group/topic-partition`` (names may hold ``/`` and ``-``)."""
    owner = max((g for g in groups if entity.startswith(f"{g}/")), key=len, default=None)
    rest = entity[len(owner) + 1 :] if owner else entity.rsplit("/", 1)[-1]
    topic, _, partition = rest.rpartition("-")
    return owner or entity.rsplit("/", 1)[0], topic, partition


def _published(result: Result) -> Family:
    counts = result.events["target"].astype(str).value_counts()
    scenario = result.config.get("scenario", {})
    brokers = [
        b["name"] for kind in ("topics", "queues", "fanouts") for b in scenario.get(kind, [])
    ]
    targets = list(dict.fromkeys([*brokers, *counts.index]))
    name = "evsim_events_published_total"
    samples: list[Sample] = [(name, {"target": str(t)}, int(counts.get(t, 0))) for t in targets]

    text = "Events published to a topic, queue or fan-out (dead-letter and retry copies too)."
    return name, "counter", text, samples


def _latency(result: Result, summary: pd.DataFrame) -> Family:
    name = "evsim_event_latency_seconds"
    measured = result.until - result.warmup
    samples: list[Sample] = []
    for group in summary.index:
        row = summary.loc[group]
        samples += [(name, {"group": group, "quantile": q}, row[col]) for q, col in QUANTILES]
        count = round(row["throughput"] * measured)  # throughput = count / measured time
        total = row["latency_mean"] * count if count else 0.0
        samples += [
            (f"{name}_sum", {"group": group}, total),
            (f"{name}_count", {"group": group}, count),
        ]
    text = "Latency from publish to processed, in seconds (events published after the warmup)."
    return name, "summary", text, samples
