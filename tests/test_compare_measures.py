"""The rules ev.compare measures by (evsim.analysis.compare_measures), on orders made by
hand, and the per-order table read from real runs of both architectures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evsim.analysis import compare_measures as measures
from evsim.analysis import compare_models
from evsim.analysis.compare_measures import applied, done

NAN = math.nan
NAMES = list(compare_models.DOWNSTREAMS)  # payment, inventory, notification


def orders(rows: list[dict]) -> pd.DataFrame:
    """Orders with defaults: acknowledged and completed at once by every downstream."""
    frame = []
    for index, row in enumerate(rows):
        sent = row.get("sent_at", float(index))
        full = {"key": row.get("key", f"customer-{index}"), "sent_at": sent,
                "outcome": row.get("outcome", "ok"),
                "ack_at": row.get("ack_at", sent + 0.01)}  # fmt: skip
        for name in NAMES:
            full[done(name)] = row.get(name, sent + 0.1)
            full[applied(name)] = row.get(f"times_{name}", 0 if math.isnan(full[done(name)]) else 1)
        frame.append(full)
    table = pd.DataFrame(frame)
    table["complete_at"] = table[[done(n) for n in NAMES]].max(axis=1, skipna=False)
    return table


def test_a_failed_order_counts_as_infinitely_slow_in_a_percentile():
    latency = pd.Series([0.1] * 98 + [0.2, NAN])
    assert measures.quantile(latency, 0.5) == 0.1
    assert measures.quantile(latency, 0.99) == 0.2  # one failure in 100 is within p99
    assert measures.quantile(pd.Series([0.1] * 97 + [NAN, NAN, NAN]), 0.99) == math.inf
    assert math.isnan(measures.quantile(pd.Series([], dtype=float), 0.99))


def test_recovery_is_the_end_of_the_last_bad_second_after_the_fault():
    sent = pd.Series(np.arange(0, 20, 0.1))
    good = pd.Series((sent < 5) | (sent >= 12.5))  # bad from 5 s to 12.5 s
    assert measures.recovery_time(good, sent, start=5, end=10) == 3.0  # bin [12, 13) bad
    assert measures.recovery_time(pd.Series(True, index=sent.index), sent, 5, 10) == 0.0
    # bad only before the fault ended: recovered at its end
    assert measures.recovery_time(pd.Series((sent < 5) | (sent >= 8)), sent, 5, 10) == 0.0
    # a few bad orders a second (under 10 %) are not a bad second
    noisy = pd.Series([i % 20 != 0 for i in range(len(sent))])
    assert measures.recovery_time(noisy, sent, 5, 10) == 0.0


def test_cascade_counts_the_entry_and_the_healthy_downstreams_that_failed_orders():
    fine = orders([{"inventory": NAN}] * 10)  # inventory's own failure does not count
    assert measures.cascaded(fine) == 0
    failed = {"outcome": "error", "ack_at": NAN, "inventory": NAN}
    assert measures.cascaded(orders([failed] * 10)) == 1  # the entry failed
    starved = orders([{**failed, "notification": NAN}] * 10)
    assert measures.cascaded(starved) == 2  # and notification was never reached
    assert measures.cascaded(pd.concat([fine] * 20 + [starved.iloc[:1]])) == 0  # under 1 %
    assert measures.healthy_completed(fine) == 1.0


def test_stale_reads_partial_orders_duplicates_and_reordering():
    frame = orders([
        {"sent_at": 0.0, "key": "c", "inventory": 5.0},  # acknowledged, done 5 s later
        {"sent_at": 1.0, "key": "c", "inventory": 2.0},  # done at inventory before the first
        {"sent_at": 2.0, "outcome": "error", "ack_at": NAN, "inventory": NAN,
         "notification": NAN},  # paid, then failed: partial
        {"sent_at": 3.0, "times_payment": 2},  # charged twice
    ])  # fmt: skip
    assert measures.stale_reads(frame, read_after=1.0) == 1
    assert measures.stale_reads(frame, read_after=10.0) == 0
    assert measures.partial_orders(frame) == 1
    assert measures.duplicates(frame) == 1
    assert measures.reordered(frame) == 1  # the first order, at inventory


@pytest.mark.parametrize("architecture", compare_models.ARCHITECTURES)
def test_the_orders_of_a_run_tie_back_to_their_downstream_work(architecture):
    flow = compare_models.OrderFlow(rate=20, timeout=0.5, client_timeout=2, retries=2,
                                    breaker=False, errors=0.0)  # fmt: skip
    result = compare_models.build(architecture, flow, seed=4).run(until=30)
    frame = measures.orders(result, architecture, until=30)
    assert frame["sent_at"].max() < 30 - measures.TAIL
    assert (frame["outcome"] == "ok").all()
    assert frame["complete_at"].notna().all()  # every downstream did every order
    for name in NAMES:
        assert (frame[done(name)] > frame["sent_at"]).all()
        assert (frame[applied(name)] == 1).all()  # no faults: each applied once
    if architecture == compare_models.EVENT_DRIVEN:
        assert (frame["ack_at"] < frame["complete_at"]).all()  # acknowledged at publish
    else:
        assert (frame["complete_at"] <= frame["ack_at"]).all()  # answered after the calls
