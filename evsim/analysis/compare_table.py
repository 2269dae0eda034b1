"""The table :func:`evsim.analysis.compare.compare` returns, from the figures of its runs.

One row per architecture, aspect, measure and condition, with the columns ``COLUMNS``
(documented on ``compare``): values are means over the replications; counts of what the
design must handle are summed over the baseline, outage and spike runs; scalability is
the highest rate of the sweep up to which the p99 stays within the SLO; components and
synchronous dependencies are counted on the systems as built. ``claim`` is the seed's
table for the aspect and architecture.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from evsim.analysis.compare_models import ARCHITECTURES, DOWNSTREAMS, ENTRY, EVENT_DRIVEN, SLOWEST
from evsim.simulation import Simulation

COLUMNS = ["architecture", "aspect", "measure", "condition", "value", "unit", "claim"]
ASPECTS = ("coupling", "scalability", "resilience", "latency", "complexity")
BASELINE, OUTAGE, SPIKE, SWEEP = "baseline", "outage", "spike", "sweep"  # kinds of run
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
LIMITED = {"max_rate_ack": "ack_p99", "max_rate_complete": "complete_p99"}  # by the SLO
LATENCY_MEASURES = ("orders", "ack_p50", "ack_p99", "complete_p50", "complete_p99")


def table(
    measured: pd.DataFrame,
    conditions: dict[str, str],
    grid: tuple[list[float], list[float]],
    slo: float,
    built: dict[str, Simulation],
) -> pd.DataFrame:
    """The table from ``measured`` (a row per run: its labels and figures), the
    ``conditions`` of the baseline, outage and spike runs, the sweep's ``grid`` (rates,
    slowest factors) and ``slo`` (seconds), and the systems as ``built``."""
    rows = [
        *_run_rows(measured, conditions),
        *_sweep_rows(measured, grid, slo),
        *_built_rows(built),
    ]
    table = pd.DataFrame(rows, columns=COLUMNS[:-1])
    sides = zip(table["aspect"], table["architecture"], strict=True)
    table["claim"] = [CLAIMS[side] for side in sides]
    return table.sort_values(["architecture", "aspect"], key=_in_order, kind="stable",
                             ignore_index=True)  # fmt: skip


def _in_order(column: pd.Series) -> pd.Series:
    """Architectures and aspects in the order of the seed's table."""
    order = ARCHITECTURES if column.name == "architecture" else ASPECTS
    return column.map({name: index for index, name in enumerate(order)})


def _run_rows(measured: pd.DataFrame, conditions: dict[str, str]) -> list[tuple[Any, ...]]:
    """The rows of the baseline, outage and spike runs, means over the replications."""
    runs = measured[measured["kind"] != SWEEP]
    means = runs.groupby(["architecture", "kind"]).mean(numeric_only=True).to_dict("index")
    picked = [("coupling", m, OUTAGE) for m in ("entry_availability", "healthy_work_done")]
    picked += [("resilience", m, k) for k in (OUTAGE, SPIKE) for m in FAULT_MEASURES]
    picked += [("latency", m, BASELINE) for m in LATENCY_MEASURES]
    everywhere = "baseline, outage and spike runs"
    rows: list[tuple[Any, ...]] = []
    for architecture in ARCHITECTURES:
        rows += [(architecture, aspect, m, conditions[k],
                  float(means[(architecture, k)][m]), UNITS[m])
                 for aspect, m, k in picked]  # fmt: skip
        counts = {m: _summed(means, architecture, m) for m in FAILURE_MODES}
        rows += [(architecture, "complexity", m, everywhere, counts[m], UNITS[m])
                 for m in FAILURE_MODES]  # fmt: skip
        happened = float(sum(count > 0 for count in counts.values()))  # NaN > 0 is False
        rows.append((architecture, "complexity", "failure_modes", everywhere, happened, "modes"))
    return rows


def _summed(means: dict[Any, dict[Any, Any]], architecture: str, measure: str) -> float:
    """A count over the baseline, outage and spike runs (NaN where never measurable)."""
    values = [float(means[(architecture, kind)][measure]) for kind in (BASELINE, OUTAGE, SPIKE)]
    return math.nan if all(math.isnan(v) for v in values) else float(np.nansum(values))


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
        limits: dict[str, list[float]] = {measure: [] for measure in LIMITED}
        for factor in factors:
            point = sweep[(sweep["architecture"] == architecture) & (sweep["slowest"] == factor)]
            condition = f"{SLOWEST} {factor:g}x ({base_mean * factor * 1000:g} ms), {tried}"
            for measure, p99 in LIMITED.items():
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


def _built_rows(built: dict[str, Simulation]) -> list[tuple[Any, ...]]:
    """Counted on the systems as built: their components and the entry's calls."""
    rows: list[tuple[Any, ...]] = []
    for architecture, sim in built.items():
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
