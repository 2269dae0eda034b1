"""Event-driven against request-response, measured: the seed's comparison table, run.

The seed's table says event-driven systems are loosely coupled, scale independently,
tolerate failures and are more complex, and that request-response systems are tightly
coupled, limited by their synchronous dependencies, vulnerable to cascading failures and
simpler. :func:`compare` builds the seed's order flow both ways
(:mod:`evsim.analysis.compare_models`: the same client, arrivals, customers and entry
work in both, common random numbers), runs each through the same conditions and reads
the same figures from both (:mod:`evsim.analysis.compare_measures`):

* a **baseline** run without faults: time to acknowledge and time to complete;
* an **outage**: inventory down for a window (coupling: is the entry still available;
  resilience: error rate, recovery, cascade);
* a latency **spike**: inventory ``factor`` times slower for a window (resilience);
* a **sweep** over arrival rates and the slowest downstream's (payment's) service time,
  30 s a run: the highest rate whose p99 stays within the SLO (scalability);
* counts of what the design must handle, over the baseline, outage and spike runs and
  the system as built (complexity).

Every number in the table is measured in that call; none is typed in.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from evsim import _check
from evsim.analysis import compare_measures as measures
from evsim.analysis.compare_models import (
    ARCHITECTURES,
    DOWNSTREAMS,
    ENTRY,
    EVENT_DRIVEN,
    FAULTY,
    SLOWEST,
    OrderFlow,
    build,
)
from evsim.analysis.experiment import _run_all, seeds_for
from evsim.errors import ConfigError, ConfigTypeError
from evsim.simulation import Simulation

COLUMNS = ["architecture", "aspect", "measure", "condition", "value", "unit", "claim"]
ASPECTS = ("coupling", "scalability", "resilience", "latency", "complexity")
BASELINE, OUTAGE, SPIKE, SWEEP = "baseline", "outage", "spike", "sweep"
SWEEP_DURATION = 30.0  # simulated seconds of each scalability run
FAILURE_MODES = ("duplicates", "reordered", "dead_lettered", "stale_reads", "partial_orders")
CLAIMS = {  # the seed's table (latency: issue 16's, the seed's table has no latency row)
    ("coupling", EVENT_DRIVEN): "Loose, asynchronous",
    ("coupling", "request_response"): "Tight, synchronous",
    ("scalability", EVENT_DRIVEN): "High, independent scaling",
    ("scalability", "request_response"): "Limited by synchronous dependencies",
    ("resilience", EVENT_DRIVEN): "Robust, tolerates failures",
    ("resilience", "request_response"): "Vulnerable to cascading failures",
    ("latency", EVENT_DRIVEN): "Acknowledges fast, completes later",
    ("latency", "request_response"): "Answers once the work is done",
    ("complexity", EVENT_DRIVEN): "Higher, event management",
    ("complexity", "request_response"): "Simpler, direct calls",
}
UNITS = {
    "entry_availability": "share", "healthy_work_done": "share", "sync_dependencies": "calls",
    "max_rate_ack": "orders/s", "max_rate_complete": "orders/s", "max_rate_ratio": "ratio",
    "error_rate": "share", "recovery_time": "s", "completion_recovery_time": "s",
    "cascaded_components": "components", "orders": "orders", "ack_p50": "s", "ack_p99": "s",
    "complete_p50": "s", "complete_p99": "s", "components": "components",
    "duplicates": "pairs", "reordered": "pairs", "dead_lettered": "events",
    "stale_reads": "orders", "partial_orders": "orders", "failure_modes": "modes",
}  # fmt: skip
FAULT_MEASURES = ("error_rate", "recovery_time", "completion_recovery_time",
                  "cascaded_components")  # fmt: skip
LATENCY_MEASURES = ("orders", "ack_p50", "ack_p99", "complete_p50", "complete_p99")


def compare(
    *,
    rate: float = 50.0,
    duration: float = 120.0,
    outage: tuple[float, float] = (40.0, 70.0),
    spike: tuple[float, float, float] = (40.0, 70.0, 10.0),
    timeout: float = 0.5,
    client_timeout: float = 2.0,
    retries: int = 2,
    breaker: bool = False,
    errors: float = 0.01,
    slo: float = 1.0,
    read_after: float = 1.0,
    rates: Iterable[float] = (12.5, 25.0, 50.0, 100.0, 200.0),
    slowest: Iterable[float] = (1.0, 2.0, 4.0),
    seed: int = 1,
    replications: int = 1,
    executor: Executor | str | None = "serial",
    progress: bool = False,
) -> pd.DataFrame:
    """The seed's comparison table, measured: one row per architecture, aspect, measure
    and condition.

    Columns: ``architecture`` (``"event_driven"``, ``"request_response"``), ``aspect``
    (``coupling``, ``scalability``, ``resilience``, ``latency``, ``complexity``),
    ``measure`` (below), ``condition`` (the run it was measured in), ``value`` (the mean
    over ``replications``; NaN where the design has no such thing), ``unit`` (``share``
    0-1, ``s`` seconds, ``orders/s``, or what is counted) and ``claim`` (the seed's
    table for that aspect and architecture; latency's is issue 16's).

    Measures: *coupling* (outage run) ``entry_availability`` (share of the window's
    orders acknowledged ``ok``), ``healthy_work_done`` (share of them payment and
    notification both did), ``sync_dependencies`` (calls the entry's answer waits on);
    *scalability* (sweep) ``max_rate_ack`` and ``max_rate_complete`` per slowest factor
    (the highest of ``rates`` up to which the p99 of acknowledgement, or completion,
    stays within ``slo``; 0 if the lowest fails) and ``max_rate_ratio`` (max_rate_ack at
    the largest factor over the smallest); *resilience* (outage and spike runs)
    ``error_rate`` (share of the window's orders not acknowledged ``ok``),
    ``recovery_time`` and ``completion_recovery_time`` (seconds after the fault until
    90 % of the orders a second are acknowledged, or completed, within ``slo`` again),
    ``cascaded_components`` (components besides inventory that failed over 1 % of the
    window's orders); *latency* (baseline) ``orders`` sent, ``ack_p50``, ``ack_p99``,
    ``complete_p50``, ``complete_p99`` (seconds); *complexity* ``components`` (as
    built), ``duplicates`` and ``reordered`` ((order, downstream) pairs applied twice, or
    after a later order of the customer), ``dead_lettered`` (events), ``stale_reads``
    (orders still incomplete ``read_after`` s after their acknowledgement),
    ``partial_orders`` (orders some downstreams did and others not), summed over the
    baseline, outage and spike runs, and ``failure_modes`` (how many of those five
    happened). See :mod:`evsim.analysis.compare_measures` for the rules.

    Knobs (seconds, rates per second): ``rate`` orders/s for ``duration`` s per run;
    ``outage`` (start, end) inventory is down; ``spike`` (start, end, factor) inventory's
    service times are ``factor`` times longer (both windows end by ``duration`` − 5 s);
    ``timeout`` per request-response call attempt; ``client_timeout`` the client's, both
    systems; ``retries`` per downstream after the first attempt (full-jitter backoff);
    ``breaker`` a circuit breaker on each request-response call; ``errors`` the
    probability a downstream attempt fails; ``slo`` the p99 target; ``read_after`` when a
    customer reads an acknowledged order; ``rates`` and ``slowest`` (factors on payment's
    mean service time) the scalability sweep; ``seed`` and ``replications`` (independent
    seeds from it). Runs are made in this process (``"serial"``), or on ``executor`` (any
    :class:`concurrent.futures.Executor`; None: a process pool); ``progress`` shows a
    bar. Draw the table with ``ev.compare_chart``.
    """
    flow = OrderFlow(
        rate=_check.positive("rate", rate),
        timeout=_check.positive("timeout", timeout),
        client_timeout=_check.positive("client_timeout", client_timeout),
        retries=_check.integer("retries", retries, minimum=0),
        breaker=_check.flag("breaker", breaker),
        errors=_check.probability("errors", errors),
    )
    duration = _check.positive("duration", duration)
    windows = {
        OUTAGE: _window("outage", outage, ("start", "end"), duration),
        SPIKE: _window("spike", spike, ("start", "end", "factor"), duration),
    }
    slo = _check.positive("slo", slo)
    read_after = _check.non_negative("read_after", read_after)
    grid = _levels("rates", rates), _levels("slowest", slowest)
    seeds = seeds_for(seed, replications)
    runs = _plan(flow, duration, windows, grid, seeds)
    calls = [(_measured, run["seed"], {**_without(run, "seed"), "slo": slo,
                                       "read_after": read_after}) for run in runs]  # fmt: skip
    outputs = _run_all(calls, executor, progress)
    measured = pd.DataFrame([{**run, **output} for run, output in zip(runs, outputs, strict=True)])
    rows = [
        *_run_rows(measured, windows, flow.rate),
        *_sweep_rows(measured, grid, slo),
        *_built_rows(flow, seeds[0]),
    ]
    table = pd.DataFrame(rows, columns=COLUMNS[:-1])
    table["claim"] = [CLAIMS[key] for key in zip(table["aspect"], table["architecture"])]
    return table.sort_values(["architecture", "aspect"], key=_in_order, kind="stable",
                             ignore_index=True)  # fmt: skip


def _without(mapping: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key != name}


def _in_order(column: pd.Series) -> pd.Series:
    """Architectures and aspects in the order of the seed's table."""
    order = ARCHITECTURES if column.name == "architecture" else ASPECTS
    return column.map({name: index for index, name in enumerate(order)})


def _measured(
    seed: int,
    architecture: str,
    flow: OrderFlow,
    duration: float,
    kind: str,
    window: tuple[float, ...] | None,
    slo: float,
    read_after: float,
    **_labels: Any,
) -> dict[str, float]:
    """One run of ``kind`` and the figures read from it (plain numbers: a worker's)."""
    with warnings.catch_warnings():  # the sweep overloads on purpose, to find the limit
        warnings.filterwarnings("ignore", "consumer group .* cannot keep up", UserWarning)
        result = build(architecture, flow, seed).run(until=duration)
    frame = measures.orders(result, architecture, duration)
    ack, complete = measures.ack_latency(frame), measures.complete_latency(frame)
    figures = {"orders": float(len(frame)), "ack_p99": measures.quantile(ack, 0.99),
               "complete_p99": measures.quantile(complete, 0.99)}  # fmt: skip
    if kind == SWEEP:
        return figures
    figures.update(
        ack_p50=measures.quantile(ack, 0.5),
        complete_p50=measures.quantile(complete, 0.5),
        duplicates=measures.duplicates(frame),
        reordered=measures.reordered(frame),
        dead_lettered=measures.dead_lettered(result, frame, architecture),
        stale_reads=measures.stale_reads(frame, read_after),
        partial_orders=measures.partial_orders(frame),
    )
    if window is not None:
        start, end = window[0], window[1]
        during = measures.window(frame, start, end)
        acked_well = (frame["outcome"] == "ok") & (ack <= slo)
        figures.update(
            entry_availability=measures.availability(during),
            healthy_work_done=measures.healthy_completed(during),
            error_rate=1.0 - measures.availability(during),
            recovery_time=measures.recovery_time(acked_well, frame["sent_at"], start, end),
            completion_recovery_time=measures.recovery_time(
                complete <= slo, frame["sent_at"], start, end
            ),
            cascaded_components=measures.cascaded(during),
        )
    return figures


def _plan(
    flow: OrderFlow,
    duration: float,
    windows: dict[str, tuple[float, ...]],
    grid: tuple[list[float], list[float]],
    seeds: list[int],
) -> list[dict[str, Any]]:
    """Every run to make: its seed, architecture, flow, duration, kind and window, and
    the sweep point (rate, slowest) it is for (NaN outside the sweep)."""
    faults = {BASELINE: flow, OUTAGE: replace(flow, outage=windows[OUTAGE][:2]),
              SPIKE: replace(flow, spike=windows[SPIKE])}  # fmt: skip
    runs = []
    for seed in seeds:
        for architecture in ARCHITECTURES:
            for kind, changed in faults.items():
                runs.append({"seed": seed, "architecture": architecture, "flow": changed,
                             "duration": duration, "kind": kind, "window": windows.get(kind),
                             "rate": flow.rate, "slowest": 1.0})  # fmt: skip
            for factor in grid[1]:
                for rate in grid[0]:
                    point = replace(flow, rate=rate, slowest=factor)
                    runs.append({"seed": seed, "architecture": architecture, "flow": point,
                                 "duration": SWEEP_DURATION, "kind": SWEEP, "window": None,
                                 "rate": rate, "slowest": factor})  # fmt: skip
    return runs


def _run_rows(
    measured: pd.DataFrame, windows: dict[str, tuple[float, ...]], rate: float
) -> list[tuple[Any, ...]]:
    """The rows of the baseline, outage and spike runs, means over the replications."""
    runs = measured[measured["kind"] != SWEEP]
    means = runs.groupby(["architecture", "kind"]).mean(numeric_only=True)
    outage, spike = windows[OUTAGE], windows[SPIKE]
    conditions = {
        BASELINE: f"no faults, {rate:g} orders/s",
        OUTAGE: f"{FAULTY} down {outage[0]:g}-{outage[1]:g} s",
        SPIKE: f"{FAULTY} {spike[2]:g}x slower {spike[0]:g}-{spike[1]:g} s",
    }
    rows: list[tuple[Any, ...]] = []
    for architecture in ARCHITECTURES:
        mine = means.loc[architecture]
        picked = [("coupling", m, OUTAGE) for m in ("entry_availability", "healthy_work_done")]
        picked += [("resilience", m, k) for k in (OUTAGE, SPIKE) for m in FAULT_MEASURES]
        picked += [("latency", m, BASELINE) for m in LATENCY_MEASURES]
        rows += [(architecture, aspect, m, conditions[k], float(mine.loc[k, m]), UNITS[m])
                 for aspect, m, k in picked]  # fmt: skip
        counts = mine.loc[[BASELINE, OUTAGE, SPIKE], list(FAILURE_MODES)].sum(min_count=1)
        everywhere = "baseline, outage and spike runs"
        rows += [(architecture, "complexity", m, everywhere, float(counts[m]), UNITS[m])
                 for m in FAILURE_MODES]  # fmt: skip
        happened = float((counts.fillna(0) > 0).sum())
        rows.append((architecture, "complexity", "failure_modes", everywhere, happened, "modes"))
    return rows


def _sweep_rows(
    measured: pd.DataFrame, grid: tuple[list[float], list[float]], slo: float
) -> list[tuple[Any, ...]]:
    """Scalability: the highest rate within the SLO per slowest factor, and its ratio."""
    sweep = measured[measured["kind"] == SWEEP]
    rows: list[tuple[Any, ...]] = []
    rates, factors = grid
    base_mean = DOWNSTREAMS[SLOWEST][1]
    tried = f"rates {rates[0]:g}-{rates[-1]:g}/s, p99 <= {slo:g} s"
    for architecture in ARCHITECTURES:
        limits: dict[str, list[float]] = {"max_rate_ack": [], "max_rate_complete": []}
        for factor in factors:
            point = sweep[(sweep["architecture"] == architecture) & (sweep["slowest"] == factor)]
            condition = f"{SLOWEST} {factor:g}x ({base_mean * factor * 1000:g} ms), {tried}"
            for measure, p99 in (("max_rate_ack", "ack_p99"), ("max_rate_complete", "complete_p99")):
                best = float(np.mean([
                    _highest_within(runs, p99, slo) for _, runs in point.groupby("seed")
                ]))  # fmt: skip
                limits[measure].append(best)
                rows.append((architecture, "scalability", measure, condition, best, "orders/s"))
        first, last = limits["max_rate_ack"][0], limits["max_rate_ack"][-1]
        ratio = last / first if first > 0 else float("nan")
        condition = f"{SLOWEST} {factors[-1]:g}x against {factors[0]:g}x, {tried}"
        rows.append((architecture, "scalability", "max_rate_ratio", condition, ratio, "ratio"))
    return rows


def _highest_within(runs: pd.DataFrame, p99: str, slo: float) -> float:
    """The highest rate up to which every rate's ``p99`` is within ``slo`` (0: none)."""
    best = 0.0
    for rate, value in zip(runs["rate"], runs[p99], strict=True):  # in ascending rate
        if not value <= slo:
            break
        best = float(rate)
    return best


def _built_rows(flow: OrderFlow, seed: int) -> list[tuple[Any, ...]]:
    """Counted on the systems as built: their components and the entry's calls."""
    rows: list[tuple[Any, ...]] = []
    for architecture in ARCHITECTURES:
        sim = build(architecture, flow, seed)
        calls = len(sim.services[ENTRY].config.call_list)
        rows.append((architecture, "coupling", "sync_dependencies", "as built", float(calls),
                     "calls"))  # fmt: skip
        count = float(_components(sim))
        rows.append((architecture, "complexity", "components", "as built", count, "components"))
    return rows


def _components(sim: Simulation) -> int:
    """Every component a system is built from: brokers, actors, the client."""
    kinds = (sim.topics, sim.queues, sim.fanouts, sim.producers, sim.groups, sim.services,
             sim.clients, sim.load_balancers, sim.caches)  # fmt: skip
    return sum(len(kind) for kind in kinds)


def _window(
    argument: str, value: Any, parts: tuple[str, ...], duration: float
) -> tuple[float, ...]:
    """A fault window (start, end[, factor]) in seconds, ending by ``duration − TAIL``."""
    if isinstance(value, str) or not isinstance(value, tuple | list) or len(value) != len(parts):
        raise ConfigTypeError(
            f"{argument}: expected ({', '.join(parts)}) in seconds, got {value!r}"
        )
    checked = tuple(_check.number(f"{argument} {part}", v) for part, v in zip(parts, value, strict=True))
    start, end = checked[0], checked[1]
    latest = duration - measures.TAIL
    if not 0 <= start < end <= latest:
        raise ConfigError(
            f"{argument}: expected 0 <= start < end <= duration - {measures.TAIL:g} s "
            f"({latest:g}), got start {start:g}, end {end:g}"
        )
    if len(checked) > 2:
        _check.positive(f"{argument} factor", checked[2])
    return checked


def _levels(argument: str, values: Any) -> list[float]:
    """A non-empty list of positive numbers, sorted ascending without repeats."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigTypeError(f"{argument}: expected a list of numbers, got {values!r}")
    levels = sorted({_check.positive(argument, v) for v in values})
    if not levels:
        raise ConfigError(f"{argument}: expected at least one number, got none")
    return levels
