"""What :func:`evsim.analysis.compare.compare` reads from one run of the order flow: a
row per order, and the figures computed the same way for both architectures.

An order is one request of the client ``web``. Its *acknowledgement* is the entry's
answer (``orders``: HTTP 202 after publishing in the event-driven system, 200 after all
its calls in the request-response one); it is *complete* once payment, inventory and
notification have each done its work for it (a consumer group processed its event; a
call to the service succeeded). Times are seconds. A latency of an order that was not
acknowledged (or not completed) counts as infinitely long in a percentile: an SLO on p99
fails when more than 1 % of the orders failed, however fast the others were.

Orders sent in the last :data:`TAIL` seconds of a run are not measured: they may still
be in flight when it stops.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evsim.analysis.compare_models import DOWNSTREAMS, ENTRY, EVENT_DRIVEN, FAULTY
from evsim.analysis.ordering import out_of_order
from evsim.result import Result

TAIL = 5.0  # seconds at a run's end whose orders are not measured
RECOVERY_BIN = 1.0  # seconds of send time per bin when finding the recovery
GOOD_SHARE = 0.9  # a bin is recovered when this share of its orders is served well
CASCADE_SHARE = 0.01  # a component failed an order window beyond this share
APPLIED_CALLS = ("ok", "timeout")  # a timed-out attempt's work goes on at the callee


def done(name: str) -> str:
    """The column of the time downstream ``name`` finished its work for the order."""
    return f"done_{name}"


def applied(name: str) -> str:
    """The column of how many times downstream ``name`` applied the order's work."""
    return f"applied_{name}"


def orders(result: Result, architecture: str, until: float) -> pd.DataFrame:
    """One row per order sent before ``until − TAIL`` (seconds), by request id: ``key``
    (the customer), ``sent_at``, ``outcome`` (the entry's answer as the client saw it),
    ``ack_at`` (when an ``ok`` answer came; NaN otherwise), per downstream ``done_<name>``
    (when its work for the order was first done; NaN if never) and ``applied_<name>``
    (how often it was applied: a consumer's ``ok`` attempts; a service's call attempts
    that succeeded or timed out, whose work the callee did all the same), and
    ``complete_at`` (the last ``done_<name>``; NaN unless all three finished)."""
    requests = result.requests.set_index("request_id")
    requests = requests[requests["sent_at"] < until - TAIL]
    frame = pd.DataFrame(
        {
            "key": requests["key"],
            "sent_at": requests["sent_at"],
            "outcome": requests["outcome"],
            "ack_at": requests["completed_at"].where(requests["outcome"] == "ok"),
        }
    )
    work = _event_work(result) if architecture == EVENT_DRIVEN else _call_work(result)
    for name in DOWNSTREAMS:
        mine = work[work["downstream"] == name].groupby("request_id")
        frame[done(name)] = mine["finished_at"].min().reindex(frame.index)
        frame[applied(name)] = mine.size().reindex(frame.index, fill_value=0)
    frame["complete_at"] = frame[[done(name) for name in DOWNSTREAMS]].max(axis=1, skipna=False)
    return frame


def _event_work(result: Result) -> pd.DataFrame:
    """Each ``ok`` processing attempt of an order's event: request_id, downstream,
    finished_at (the event's payload is its order's request id)."""
    events = result.events
    order_of = events[events["producer"] == ENTRY].set_index("event_id")["payload"]
    attempts = result.attempts
    ok = attempts[attempts["status"] == "ok"]
    return pd.DataFrame(
        {
            "request_id": order_of.reindex(ok["event_id"]).to_numpy(dtype=np.int64),
            "downstream": ok["group"].to_numpy(),
            "finished_at": ok["finished_at"].to_numpy(),
        }
    )


def _call_work(result: Result) -> pd.DataFrame:
    """Each call attempt of ``orders`` whose work the callee did: request_id,
    downstream, finished_at (NaN unless the attempt succeeded: the time it answered)."""
    calls = result.calls
    did = calls[(calls["caller"] == ENTRY) & calls["status"].isin(APPLIED_CALLS)]
    return pd.DataFrame(
        {
            "request_id": did["request_id"].to_numpy(),
            "downstream": did["callee"].to_numpy(),
            "finished_at": did["finished_at"].where(did["status"] == "ok").to_numpy(),
        }
    )


# --- latency ------------------------------------------------------------------------------


def ack_latency(frame: pd.DataFrame) -> pd.Series:
    """Seconds from sending each order to its ``ok`` acknowledgement (NaN: none)."""
    latency: pd.Series = frame["ack_at"] - frame["sent_at"]
    return latency


def complete_latency(frame: pd.DataFrame) -> pd.Series:
    """Seconds from sending each order to its completion (NaN: never completed)."""
    latency: pd.Series = frame["complete_at"] - frame["sent_at"]
    return latency


def quantile(latency: pd.Series, q: float) -> float:
    """The ``q`` quantile (0-1) of ``latency`` (seconds), NaN counting as infinite: the
    empirical (inverted-CDF) quantile, an observed value; NaN for no orders."""
    if not len(latency):
        return float("nan")
    values = latency.to_numpy(dtype=float, na_value=np.inf)
    return float(np.quantile(values, q, method="inverted_cdf"))


# --- a fault's window ---------------------------------------------------------------------


def window(frame: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    """The orders sent in ``[start, end)`` (seconds)."""
    sent = frame["sent_at"]
    return frame[(sent >= start) & (sent < end)]


def availability(frame: pd.DataFrame) -> float:
    """The share of the orders acknowledged ``ok`` (the entry's availability, 0-1)."""
    return float((frame["outcome"] == "ok").mean()) if len(frame) else float("nan")


def healthy_completed(frame: pd.DataFrame) -> float:
    """The share of the orders whose work every downstream except the faulty one did
    (0-1): 1 when the fault stayed where it was."""
    healthy = [done(name) for name in DOWNSTREAMS if name != FAULTY]
    return float(frame[healthy].notna().all(axis=1).mean()) if len(frame) else float("nan")


def cascaded(frame: pd.DataFrame) -> int:
    """Components besides the faulty one that failed more than 1 % of ``frame``'s orders
    (a fault window's): the entry when its answers were not ``ok``, a healthy downstream
    when its work for the order was never done."""
    failed = [(frame["outcome"] != "ok").mean()]
    failed += [frame[done(name)].isna().mean() for name in DOWNSTREAMS if name != FAULTY]
    return sum(int(share > CASCADE_SHARE) for share in failed)


def recovery_time(good: pd.Series, sent_at: pd.Series, start: float, end: float) -> float:
    """Seconds from a fault's ``end`` until the orders are served well again: the end of
    the last 1 s bin of send times, from the fault's ``start`` on, in which fewer than
    90 % of the orders were ``good`` (0 if none). A bin still bad at the run's end gives
    the time to then: a lower bound."""
    after = sent_at >= start
    shares = good[after].groupby(np.floor(sent_at[after] / RECOVERY_BIN)).mean()
    bad = shares.index[shares < GOOD_SHARE]
    if not len(bad):
        return 0.0
    return max(0.0, (float(bad.max()) + 1) * RECOVERY_BIN - end)


# --- what the design must handle ----------------------------------------------------------


def duplicates(frame: pd.DataFrame) -> int:
    """(order, downstream) pairs whose work was applied more than once: a redelivery
    after a crash before the commit (event-driven), or a retry after a timed-out attempt
    the callee went on with (request-response)."""
    return int(sum((frame[applied(name)] > 1).sum() for name in DOWNSTREAMS))


def reordered(frame: pd.DataFrame) -> int:
    """(order, downstream) pairs done after a later order of the same customer was done
    there (:func:`~evsim.analysis.ordering.out_of_order` on send times)."""
    total = 0
    for name in DOWNSTREAMS:
        finished = frame[frame[done(name)].notna()]
        total += int(out_of_order(finished["key"], finished["sent_at"], finished[done(name)]).sum())
    return total


def dead_lettered(result: Result, frame: pd.DataFrame, architecture: str) -> float:
    """Order events a consumer group gave up on into the dead-letter topic (its depth at
    the end: nothing redrives it); NaN for request-response, which has none (a failed
    call fails the order instead)."""
    if architecture != EVENT_DRIVEN:
        return float("nan")
    events = result.events
    measured = events["payload"].isin(frame.index) & (events["producer"] == ENTRY)
    deliveries = result.deliveries
    given_up = deliveries["event_id"].isin(events.loc[measured, "event_id"]) & (
        deliveries["outcome"] == "dead_lettered"
    )
    return float(given_up.sum())


def stale_reads(frame: pd.DataFrame, read_after: float) -> int:
    """Acknowledged orders still incomplete ``read_after`` seconds after their ``ok``: a
    customer reading the order then sees it without its payment or stock (eventual
    consistency)."""
    acked = frame[frame["ack_at"].notna()]
    fresh = acked["complete_at"] <= acked["ack_at"] + read_after  # NaN: never complete
    return int((~fresh).sum())


def partial_orders(frame: pd.DataFrame) -> int:
    """Orders some but not all downstreams did their work for, when the run stopped: a
    payment taken for an order that failed, or an order still waiting in a backlog."""
    finished = frame[[done(name) for name in DOWNSTREAMS]].notna().sum(axis=1)
    return int(((finished > 0) & (finished < len(DOWNSTREAMS))).sum())
