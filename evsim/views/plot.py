"""Standard charts of a run or a sweep (``ev.plot``), on matplotlib.

Every chart takes ``ax=`` (a new figure when None) and returns the Axes; titles and axis
labels carry units (seconds, events, events per second, messages). Lines get distinct
colours and a legend (:mod:`evsim.views.chart_style`). Each chart's data comes from a small pure
function returning a DataFrame (``latency_data``, ``percentiles_data``, ``throughput_data``,
``lag_data``, ``depth_data``, ``consumers_up_data``, ``sweep_data``), so what a chart shows
can be checked, or plotted another way, without drawing it; ``out_of_order_data`` counts,
per key, the events a group processed out of publish order. The sweep charts live in
:mod:`evsim.views.sweep_charts` and the request-response side's (``goodput``,
``goodput_data``) in :mod:`evsim.views.request_charts`; both are part of this namespace.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evsim import _check
from evsim.analysis.ordering import out_of_order
from evsim.errors import ConfigError, SimulationStateError
from evsim.views.chart_style import UNITS, add_legend, distinct_colours, new_axes, wide_span
from evsim.views.request_charts import goodput, goodput_data
from evsim.views.sweep_charts import sweep_comparison, sweep_data
from evsim.views.time_bins import bin_starts, per_second

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from evsim.result import Result

__all__ = [
    "UNITS", "consumers_up", "consumers_up_changes", "consumers_up_data", "depth", "depth_data",
    "goodput", "goodput_data", "lag", "lag_data", "latency", "latency_data", "out_of_order_data",
    "percentiles", "percentiles_data",
    "standard_charts", "sweep_comparison", "sweep_data", "throughput", "throughput_data",
]  # fmt: skip

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
MARKERS = {"p50": "o", "p95": "s", "p99": "^"}


def _gauge(result: Result, metric: str) -> pd.DataFrame:
    """One metric of ``result.timeseries`` as a wide table: index time, a column per entity."""
    series = result.timeseries
    rows = series[series["metric"] == metric]
    entities = rows["entity"].astype(str)
    wide = rows.pivot_table(index="time", columns=entities, values="value", aggfunc="last")
    wide.columns.name = "entity"
    return wide[list(dict.fromkeys(entities))] if len(rows) else wide


# --- latency ------------------------------------------------------------------------------


def latency_data(result: Result, groups: Iterable[str] | None = None) -> pd.DataFrame:
    """Latency (s) of every processed event after the warmup: columns group, latency
    (the sample ``summary()``'s latency statistics are computed from)."""
    deliveries = result.deliveries
    published = result.events["published_at"].to_numpy()
    measured = deliveries[
        (deliveries["outcome"] == "processed")
        & (published[deliveries["event_id"].to_numpy()] >= result.warmup)
    ]
    frame = pd.DataFrame(
        {"group": measured["group"].astype(str), "latency": measured["latency"].to_numpy()}
    )
    if groups is not None:
        frame = frame[frame["group"].isin(list(groups))]
    return frame.reset_index(drop=True)


def latency(
    result: Result,
    ax: Axes | None = None,
    kind: str = "ecdf",
    groups: Iterable[str] | None = None,
    log: bool = True,
) -> Axes:
    """Latency distribution per consumer group: an ECDF (``kind="ecdf"``) or a histogram
    (``"hist"``), with markers at p50, p95 and p99. ``log`` uses a log time axis (when
    every latency is positive)."""
    _check.choice("kind", kind, ("ecdf", "hist"))
    ax = new_axes(ax)
    data = latency_data(result, groups)
    present = set(data["group"])
    names = [g for g in result.groups if g in present]
    log = log and bool(len(data)) and bool((data["latency"] > 0).all())
    values = data["latency"].to_numpy()
    # the same bins for every group
    bins: list[float] | int = (
        np.geomspace(values.min(), values.max(), 50).tolist() if log and len(values) else 50
    )
    distinct_colours(ax, len(names))
    for name in names:
        sample = np.sort(data.loc[data["group"] == name, "latency"].to_numpy())
        marks = [float(np.quantile(sample, q)) for q in QUANTILES.values()]
        if kind == "ecdf":
            ys = np.arange(1, len(sample) + 1) / len(sample)
            (line,) = ax.plot(sample, ys, drawstyle="steps-post", label=name)
            for (label, q), x in zip(QUANTILES.items(), marks, strict=True):
                ax.plot([x], [q], MARKERS[label], color=line.get_color(), label="_nolegend_")
        else:
            ax.hist(sample, bins=bins, histtype="step", linewidth=1.5, label=name)
            colour = ax.patches[-1].get_edgecolor()  # the outline just drawn

            for label, x in zip(QUANTILES, marks, strict=True):
                ax.axvline(x, color=colour, linestyle=":", linewidth=1, label="_nolegend_")
                ax.plot([x], [0], MARKERS[label], color=colour, clip_on=False)
    for label, marker in MARKERS.items():  # legend entries for the percentile markers
        ax.plot([], [], marker, color="grey", label=label)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("latency (s)")
    ax.set_ylabel("fraction of events ≤ latency" if kind == "ecdf" else "events")
    ax.set_title("Latency distribution per consumer group (published → processed)")
    add_legend(ax, len(names) + len(MARKERS))
    return ax


def percentiles_data(result: Result) -> pd.DataFrame:
    """p50, p95, p99 latency (s) per group: ``summary()``'s latency percentiles."""
    summary = result.summary()
    frame = summary[[f"latency_{p}" for p in QUANTILES]]
    return frame.set_axis(list(QUANTILES), axis=1)


def percentiles(result: Result, ax: Axes | None = None) -> Axes:
    """Bars of the p50, p95 and p99 latency per consumer group (seconds; on a log axis
    when they span more than 100 times, so that a short p50 stays visible)."""
    ax = new_axes(ax)
    data = percentiles_data(result)
    x = np.arange(len(data))
    width = 0.8 / len(QUANTILES)
    for i, column in enumerate(data.columns):
        ax.bar(x + (i - 1) * width, data[column].to_numpy(), width, label=column)
    values = pd.Series(data.to_numpy().ravel())
    log = wide_span(values)
    if log:  # bars rise from the decade below the shortest, so that it shows as a bar
        ax.set_yscale("log")
        ax.set_ylim(bottom=10 ** np.floor(np.log10(values.min())))
    ax.set_xticks(x, [str(g) for g in data.index])
    ax.set_xlabel("consumer group")
    ax.set_ylabel("latency (s, log scale)" if log else "latency (s)")
    ax.set_title("Latency percentiles per consumer group")
    ax.legend(fontsize=8)
    return ax


# --- over time ----------------------------------------------------------------------------


def throughput_data(result: Result, bin: float = 1.0) -> pd.DataFrame:
    """Processed events per second in bins of ``bin`` seconds, by completion time: index
    the bin's start (s), a column per group (the last bin, if cut short, by its length)."""
    bin = _check.positive("bin", bin)
    deliveries = result.deliveries
    done = deliveries[deliveries["outcome"] == "processed"]
    table = {
        group: per_second(done.loc[done["group"] == group, "completed_at"], result.until, bin)
        for group in result.groups
    }
    return pd.DataFrame(table, index=pd.Index(bin_starts(result.until, bin), name="time"))


def throughput(result: Result, ax: Axes | None = None, bin: float = 1.0) -> Axes:
    """Processed events per second over time, one line per consumer group."""
    ax = new_axes(ax)
    data = throughput_data(result, bin)
    distinct_colours(ax, len(data.columns))
    for group in data.columns:
        ax.plot(data.index, data[group], drawstyle="steps-post", label=group)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("throughput (events/s)")
    ax.set_title(f"Throughput: events processed per second ({bin:g} s bins)")
    add_legend(ax, len(data.columns))
    return ax


def lag_data(result: Result, group: str | None = None, per_partition: bool = False) -> pd.DataFrame:
    """Consumer lag (events) over time: index time (s), a column per group (summed over its
    partitions, as ``summary()``'s ``max_lag``), or with ``per_partition`` a column per
    partition (``group/topic-partition``). Groups reading queues have no lag."""
    wide = _gauge(result, "lag")
    owner = [str(c).rsplit("/", 1)[0] for c in wide.columns]
    if group is not None:
        if group not in result.groups:
            raise ConfigError(f"group: no consumer group named {group!r} (have {result.groups})")
        wide = wide.loc[:, [o == group for o in owner]]
        owner = [group] * wide.shape[1]
    if per_partition:
        return wide
    return wide.T.groupby(owner, sort=False).sum(min_count=1).T.rename_axis(columns="group")


def lag(
    result: Result, ax: Axes | None = None, group: str | None = None, per_partition: bool = False
) -> Axes:
    """Consumer lag (log-end offset − committed offset) over time: a line per group, or
    with ``per_partition`` a line per partition (of ``group``, or of every group)."""
    ax = new_axes(ax)
    data = lag_data(result, group, per_partition)
    distinct_colours(ax, len(data.columns))
    for column in data.columns:
        ax.plot(data.index, data[column], drawstyle="steps-post", label=column)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("lag (events)")
    scope = "partition" if per_partition else "consumer group"
    ax.set_title(f"Consumer lag per {scope}" + (f" of {group}" if group else ""))
    add_legend(ax, len(data.columns))
    return ax


def partition_lag(result: Result, ax: Axes | None = None, group: str | None = None) -> Axes:
    """Mean lag (events) of each partition after the warm-up, a bar each: a hot partition
    (skewed keys) or an orphaned one (a crashed owner) stands out. ``group`` defaults to
    the run's only topic group; the title gives the group's p95 latency."""
    ax = new_axes(ax)
    data = lag_data(result, group, per_partition=True)
    data = data.loc[data.index >= result.warmup]
    owners = {column.split("/", 1)[0] for column in data.columns}
    if group is None and len(owners) > 1:
        raise ConfigError(f"group: the run has several topic groups ({', '.join(sorted(owners))})")
    name = group or next(iter(owners), "")
    ax.bar([column.split("/", 1)[1] for column in data.columns], data.mean().to_numpy())
    ax.set_xlabel("partition")
    ax.set_ylabel("mean lag (events)")
    p95 = result.summary()["latency_p95"].get(name, np.nan)
    ax.set_title(f"Lag per partition of {name}: p95 latency {p95:.2f} s")
    ax.tick_params(axis="x", labelrotation=45 if len(data.columns) > 8 else 0)
    return ax


def out_of_order_data(result: Result, group: str) -> pd.DataFrame:
    """Order per key in ``group``: index key, columns ``processed`` (the key's events the
    group processed) and ``out_of_order`` (those processed after an event of the same key
    that was published later). Events are taken in the order the group finished them
    (``completed_at``) and compared by when they were first published; a retried event
    counts once, as itself (a copy in a retry topic is the event it copies). Keyless
    events, and events not processed (dead-lettered, pending), are left out."""
    if group not in result.groups:
        raise ConfigError(f"group: no consumer group named {group!r} (have {result.groups})")
    deliveries = result.deliveries
    done = deliveries[(deliveries["group"] == group) & (deliveries["outcome"] == "processed")]
    events = result.events.set_index("event_id")
    keyed = pd.DataFrame(
        {
            "key": events["key"].reindex(done["event_id"]).to_numpy(),
            "published_at": events["published_at"].reindex(done["event_id"]).to_numpy(),
            "completed_at": done["completed_at"].to_numpy(),
            "event_id": done["event_id"].to_numpy(),
        }
    ).dropna(subset=["key"])
    keyed = keyed.sort_values("event_id", kind="stable")  # ties finish in event order
    keyed["out_of_order"] = out_of_order(keyed["key"], keyed["published_at"], keyed["completed_at"])
    table = keyed.groupby("key").agg(
        processed=("event_id", "size"), out_of_order=("out_of_order", "sum")
    )
    return table.astype(int)


def depth_data(result: Result) -> pd.DataFrame:
    """Messages held over time: index time (s), a column per queue and one per dead-letter
    target (``"<name> (DLQ)"``; a DLQ that is also a queue appears once, as a DLQ)."""
    queues, dlqs = _gauge(result, "queue_depth"), _gauge(result, "dlq_depth")
    queues = queues.drop(columns=[c for c in queues.columns if c in dlqs.columns])
    dlqs = dlqs.rename(columns=lambda name: f"{name} (DLQ)")
    return pd.concat([queues, dlqs], axis=1)


def depth(result: Result, ax: Axes | None = None) -> Axes:
    """Queue depth and dead-letter depth over time (messages); DLQs dashed. The title
    names dead-letter queues only when the run has one."""
    ax = new_axes(ax)
    data = depth_data(result)
    distinct_colours(ax, len(data.columns))
    for column in data.columns:
        style = "--" if str(column).endswith(" (DLQ)") else "-"
        ax.plot(data.index, data[column], style, drawstyle="steps-post", label=column)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("depth (messages)")
    has_dlq = any(str(column).endswith(" (DLQ)") for column in data.columns)
    ax.set_title("Queue and dead-letter queue depth" if has_dlq else "Queue depth")
    add_legend(ax, len(data.columns))
    return ax


def consumers_up_data(result: Result) -> pd.DataFrame:
    """Consumers running over time: index time (s), a column per group."""
    return _gauge(result, "consumers_up")


def consumers_up_changes(result: Result) -> bool:
    """Whether any group's count of consumers up changed during the run (a crash, an
    outage); if not, its chart is flat lines, which ``standard_charts`` leaves out."""
    return bool((consumers_up_data(result).nunique() > 1).any())


def consumers_up(result: Result, ax: Axes | None = None) -> Axes:
    """How many consumers of each group are up over time (crashes and outages dip it)."""
    from matplotlib.ticker import MaxNLocator

    ax = new_axes(ax)

    data = consumers_up_data(result)
    distinct_colours(ax, len(data.columns))
    for group in data.columns:
        ax.plot(data.index, data[group], drawstyle="steps-post", label=group)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("consumers up")
    ax.set_title("Consumers up per consumer group")
    ax.set_ylim(bottom=0)
    locator = ax.yaxis.get_major_locator()  # an AutoLocator, a MaxNLocator
    if isinstance(locator, MaxNLocator):
        locator.set_params(integer=True)  # whole consumers: no 1.25
    add_legend(ax, len(data.columns))
    return ax


# --- all of them --------------------------------------------------------------------------


def standard_charts(result: Result, out_dir: str | Path) -> list[Path]:
    """Write the charts a run has data for as PNGs in ``out_dir``; returns their paths.

    topology, latency, percentiles, throughput, lag per group (topic consumers only), depth
    (queues only), consumers_up (only when a count changed: crashes, outages) and goodput
    (runs with clients). A run recorded with ``record="summary"`` has only the topology
    and the percentiles.
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from evsim.views.topology_draw import draw_topology

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    drawing = draw_topology(result).get_figure(root=True)  # sized to the graph
    assert drawing is not None  # the axes draw_topology returns are on a figure

    drawing.savefig(out / "topology.png", dpi=120, bbox_inches="tight")
    plt.close(drawing)
    written = [out / "topology.png"]
    charts: list[tuple[str, Any, bool]] = [
        ("percentiles", percentiles, bool(percentiles_data(result).notna().any(axis=None))),
    ]
    with suppress(SimulationStateError):  # record="summary": no tables to chart
        processed = len(latency_data(result)) > 0
        charts += [
            ("latency", latency, processed),
            ("throughput", throughput, processed),
            ("lag", lag, not lag_data(result).empty),
            ("depth", depth, not depth_data(result).empty),
            ("consumers_up", consumers_up, consumers_up_changes(result)),
            ("goodput", goodput, bool(result.clients)),
        ]
    for name, chart, has_data in charts:
        if not has_data:
            continue
        figure = Figure(figsize=(8, 4.5), layout="constrained")
        chart(result, ax=figure.add_subplot())
        path = out / f"{name}.png"
        figure.savefig(path, dpi=120)
        written.append(path)
    return written
