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

import math
import warnings
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import pandas as pd

from evsim import _check
from evsim.analysis import compare_measures as measures
from evsim.analysis import compare_table
from evsim.analysis.compare_models import (
    ARCHITECTURES,
    FAULTY,
    OrderFlow,
    build,
    build_all,
)
from evsim.analysis.compare_table import BASELINE, OUTAGE, SPIKE, SWEEP
from evsim.analysis.experiment import _run_all, seeds_for
from evsim.errors import ConfigError, ConfigTypeError
from evsim.simulation import Simulation

SWEEP_DURATION = 30.0  # simulated seconds of each scalability run


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
    executor: Executor | str | None = None,
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
    seeds from it). Runs are made on ``executor``: None (a process pool, one worker per
    core), ``"serial"`` (in this process) or any :class:`concurrent.futures.Executor`;
    ``progress`` shows a bar (tqdm) over the runs. Draw the table with ``ev.compare_chart``.
    """
    flow = _flow(rate, timeout, client_timeout, retries, breaker, errors)
    duration = _check.positive("duration", duration)
    down = _window("outage", outage, ("start", "end"), duration)
    slow = _window("spike", spike, ("start", "end", "factor"), duration)
    runs_of = {  # kind: the flow it runs, the fault window it measures
        BASELINE: (flow, None),
        OUTAGE: (replace(flow, outage=(down[0], down[1])), down),
        SPIKE: (replace(flow, spike=(slow[0], slow[1], slow[2])), slow),
    }
    conditions = {
        BASELINE: f"no faults, {flow.rate:g} orders/s",
        OUTAGE: f"{FAULTY} down {down[0]:g}-{down[1]:g} s",
        SPIKE: f"{FAULTY} {slow[2]:g}x slower {slow[0]:g}-{slow[1]:g} s",
    }
    slo = _check.positive("slo", slo)
    read_after = _check.non_negative("read_after", read_after)
    grid = _levels("rates", rates), _levels("slowest", slowest)
    seeds = seeds_for(seed, replications)
    runs = _plan(runs_of, duration, grid, seeds)
    calls = [(_measured, run["seed"], {**_without(run, "seed"), "slo": slo,
                                       "read_after": read_after}) for run in runs]  # fmt: skip
    outputs = _run_all(calls, executor, _check.flag("progress", progress))
    measured = pd.DataFrame([{**run, **output} for run, output in zip(runs, outputs, strict=True)])
    return compare_table.table(measured, conditions, grid, slo, build_all(flow, seeds[0]))


def compare_systems(
    *,
    rate: float = 50.0,
    timeout: float = 0.5,
    client_timeout: float = 2.0,
    retries: int = 2,
    breaker: bool = False,
    errors: float = 0.01,
    slowest: float = 1.0,
    outage: tuple[float, float] | None = None,
    spike: tuple[float, float, float] | None = None,
    seed: int = 1,
) -> dict[str, Simulation]:
    """The two systems :func:`compare` measures, built and not yet run:
    ``{"event_driven": sim, "request_response": sim}``, on the same seed (common random
    numbers: the same orders, customers and entry work in both): the seed ``compare(seed=
    seed)`` gives its first replication, so a run of these for ``compare``'s ``duration``
    with the same knobs is the run its figures were read from.

    The knobs are :func:`compare`'s (seconds, rates per second), and ``slowest`` (a
    factor on payment's mean service time, 50 ms), ``outage`` ((start, end) seconds
    inventory is down) and ``spike`` ((start, end, factor): inventory's service times
    ``factor`` times longer), None for none. Run each with ``sim.run(until=...)`` and read
    its Result as any other: its client ``web``'s requests are the orders.
    """
    flow = _flow(rate, timeout, client_timeout, retries, breaker, errors)
    down = None if outage is None else _window("outage", outage, ("start", "end"))
    slow = None if spike is None else _window("spike", spike, ("start", "end", "factor"))
    flow = replace(
        flow,
        slowest=_check.positive("slowest", slowest),
        outage=None if down is None else (down[0], down[1]),
        spike=None if slow is None else (slow[0], slow[1], slow[2]),
    )
    return build_all(flow, seeds_for(seed, 1)[0])


def _flow(
    rate: float, timeout: float, client_timeout: float, retries: int, breaker: bool, errors: float
) -> OrderFlow:
    """The knobs both systems share, checked."""
    return OrderFlow(
        rate=_check.positive("rate", rate),
        timeout=_check.positive("timeout", timeout),
        client_timeout=_check.positive("client_timeout", client_timeout),
        retries=_check.integer("retries", retries, minimum=0),
        breaker=_check.flag("breaker", breaker),
        errors=_check.probability("errors", errors),
    )


def _without(mapping: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key != name}


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
    with warnings.catch_warnings():  # a sweep's point past the limit overloads on purpose
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
        figures.update(_fault_figures(frame, window[0], window[1], slo))
    return figures


def _fault_figures(frame: pd.DataFrame, start: float, end: float, slo: float) -> dict[str, float]:
    """The figures of a fault from ``start`` to ``end`` (seconds): coupling, resilience."""
    during = measures.window(frame, start, end)
    ack, complete = measures.ack_latency(frame), measures.complete_latency(frame)
    acked_well = (frame["outcome"] == "ok") & (ack <= slo)
    sent = frame["sent_at"]
    return {
        "entry_availability": measures.availability(during),
        "healthy_work_done": measures.healthy_completed(during),
        "error_rate": 1.0 - measures.availability(during),
        "recovery_time": measures.recovery_time(acked_well, sent, start, end),
        "completion_recovery_time": measures.recovery_time(complete <= slo, sent, start, end),
        "cascaded_components": float(measures.cascaded(during)),
    }


def _plan(
    runs_of: dict[str, tuple[OrderFlow, tuple[float, ...] | None]],
    duration: float,
    grid: tuple[list[float], list[float]],
    seeds: list[int],
) -> list[dict[str, Any]]:
    """Every run to make: its seed, architecture, flow, duration, kind and window, and
    the sweep point (rate, slowest) it is for (the baseline's outside the sweep)."""
    base = runs_of[BASELINE][0]
    runs = []
    for seed in seeds:
        for architecture in ARCHITECTURES:
            for kind, (flow, window) in runs_of.items():
                runs.append({"seed": seed, "architecture": architecture, "flow": flow,
                             "duration": duration, "kind": kind, "window": window,
                             "rate": base.rate, "slowest": base.slowest})  # fmt: skip
            for factor in grid[1]:
                for rate in grid[0]:
                    point = replace(base, rate=rate, slowest=factor)
                    runs.append({"seed": seed, "architecture": architecture, "flow": point,
                                 "duration": SWEEP_DURATION, "kind": SWEEP, "window": None,
                                 "rate": rate, "slowest": factor})  # fmt: skip
    return runs


def _window(
    argument: str, value: Any, parts: tuple[str, ...], duration: float | None = None
) -> tuple[float, ...]:
    """A fault window (start, end[, factor]) in seconds, ending by ``duration − TAIL``
    (None: a system with no run length yet, so any end after the start)."""
    if isinstance(value, str) or not isinstance(value, tuple | list) or len(value) != len(parts):
        raise ConfigTypeError(
            f"{argument}: expected ({', '.join(parts)}), start and end in seconds, got {value!r}"
        )
    checked = tuple(
        _check.number(f"{argument} {part}", v) for part, v in zip(parts, value, strict=True)
    )
    start, end = checked[0], checked[1]
    latest = math.inf if duration is None else duration - measures.TAIL
    if not 0 <= start < end <= latest:
        bound = "" if duration is None else f" <= duration - {measures.TAIL:g} s ({latest:g})"
        raise ConfigError(
            f"{argument}: expected 0 <= start < end{bound}, got start {start:g}, end {end:g}"
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
