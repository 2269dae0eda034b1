"""Charts of the request-response side: offered load, throughput and goodput over time.

Goodput is the useful part of throughput: answers a caller could still use (the AWS
Builders' Library, "Using load shedding to avoid overload"). A client's request is
*offered* when it is sent, *throughput* when it ends ``ok``, and *goodput* when it ends
``ok`` within the client's timeout, counted from its first send, retries included (the
rule of ``summary()``'s goodput; without a timeout every ok request counts); its
*attempts* are what it sends, retries included (the load the callee gets). Overload
shows as the lines parting: attempts above the offered load when requests are retried,
throughput below it when they fail, goodput below throughput when answers come late. A
trigger's window (a service's ``Outage``, ``Slowdown`` or ``CapacityLoss``, a cache's
``CacheFlush``) is shaded, so that whether goodput comes back once it has passed can be
seen at a glance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from evsim import _check
from evsim.views.chart_style import add_legend, new_axes
from evsim.views.time_bins import bin_starts, per_second

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from evsim.result import Result

COLUMNS = ["time", "client", "offered", "attempts", "throughput", "goodput"]
MEASURES = {  # column: (colour, width, what the legend says)
    "attempts": ("tab:orange", 1.0, "attempts (retries included)"),
    "offered": ("tab:grey", 1.2, "offered (requests sent)"),
    "throughput": ("tab:blue", 1.2, "throughput (ok)"),
    "goodput": ("tab:green", 2.0, "goodput (ok{within})"),
}
CLIENT_STYLES = ("-", "--", "-.", ":")  # a line style per client
WINDOWED = ("outage", "slowdown", "capacity_loss")  # faults with a start and an end
FAULT_COLUMNS = ["component", "fault", "start", "end"]


def goodput_data(result: Result, bin: float = 1.0) -> pd.DataFrame:
    """Requests per second of each client in bins of ``bin`` seconds, a row per client
    and bin: ``time`` (the bin's start, s), ``client``, ``offered`` (requests sent),
    ``attempts`` (call attempts sent, retries included), ``throughput`` (requests ended
    ok) and ``goodput`` (ended ok within the client's timeout). Offered and attempts count
    by send time, the others by completion time; requests pending at the stop are offered
    only. Needs ``record="full"`` (the requests and calls tables)."""
    bin = _check.positive("bin", bin)
    requests, calls, until = result.requests, result.calls, result.until
    frames = []
    for client in result.record.clients:
        mine = requests[requests["client"] == client.name]
        sent = calls.loc[calls["caller"] == client.name, "started_at"]
        ok = mine[mine["outcome"] == "ok"]
        in_time = ok if client.timeout is None else ok[ok["latency"] <= client.timeout]
        frames.append(
            pd.DataFrame(
                {
                    "time": bin_starts(until, bin),
                    "client": client.name,
                    "offered": per_second(mine["sent_at"], until, bin),
                    "attempts": per_second(sent, until, bin),
                    "throughput": per_second(ok["completed_at"], until, bin),
                    "goodput": per_second(in_time["completed_at"], until, bin),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def fault_windows(result: Result) -> pd.DataFrame:
    """The scheduled triggers of the run, a row each: ``component``, ``fault`` (its kind:
    outage, slowdown, capacity_loss, cache_flush), ``start`` and ``end`` (s; a flush is an
    instant, start = end). Random crashes have no schedule and are left out."""
    return pd.DataFrame(_windows(result), columns=FAULT_COLUMNS)


def _windows(result: Result) -> list[dict[str, Any]]:
    """The rows of :func:`fault_windows`, from the run's scenario (``result.config``)."""
    scenario = result.config.get("scenario", {})
    rows = []
    for section in ("consumer_groups", "services", "caches"):
        for entry in scenario.get(section) or ():
            for fault in entry.get("faults") or ():
                rows.extend(_window(entry["name"], fault))
    return rows


def _window(component: str, fault: dict[str, Any]) -> list[dict[str, Any]]:
    """The fault's window as rows of :func:`fault_windows` (none for an unscheduled one)."""
    ((kind, params),) = fault.items()
    if kind in WINDOWED:
        return [{"component": component, "fault": kind, **_span(params["start"], params["end"])}]
    if kind == "cache_flush":
        return [{"component": component, "fault": kind, **_span(params["at"], params["at"])}]
    return []


def _span(start: float, end: float) -> dict[str, float]:
    return {"start": float(start), "end": float(end)}


def goodput(result: Result, ax: Axes | None = None, bin: float = 1.0) -> Axes:
    """Offered load, attempts, throughput and goodput (requests per second) over time, per
    client (a line style each), in ``bin``-second bins, with the faults' windows shaded."""
    ax = new_axes(ax)
    data = goodput_data(result, bin)
    timeouts = {client.name: client.timeout for client in result.record.clients}
    clients = list(dict.fromkeys(data["client"]))
    for index, client in enumerate(clients):
        part = data[data["client"] == client]
        style = CLIENT_STYLES[index % len(CLIENT_STYLES)]
        timeout = timeouts[client]
        for column, (colour, width, text) in MEASURES.items():
            within = ", no timeout" if timeout is None else f" within {timeout:g} s"
            label = text.format(within=within)
            ax.plot(
                part["time"], part[column], style, color=colour, linewidth=width,
                drawstyle="steps-post", label=f"{client}: {label}" if len(clients) > 1 else label,
            )  # fmt: skip
    windows = _windows(result)
    for row in windows:
        label = f"{row['component']}: {row['fault'].replace('_', ' ')}"
        if row["end"] > row["start"]:
            ax.axvspan(row["start"], row["end"], color="tab:red", alpha=0.12, label=label)
        else:
            ax.axvline(row["start"], color="tab:red", linestyle=":", label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Offered load, attempts, throughput and goodput ({bin:g} s bins)")
    add_legend(ax, len(clients) * len(MEASURES) + len(windows))
    return ax
