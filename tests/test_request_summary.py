"""The summary's rows for services and clients (:mod:`evsim.request_summary`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evsim as ev

COUNTS = ["requests", "ok", "errors", "timeouts", "rejected", "short_circuited", "retries"]


def late_retry(record="full"):
    """Two requests at 0 s to one worker with no queue: the second is refused, retried
    after 1.2 s and served from 1.2 s to 2.2 s: ok, but later than its 1.5 s timeout."""
    sim = ev.Simulation(seed=1, record=record)
    sim.service("api", workers=1, service_time=1.0, queue_limit=0)
    sim.client("web", "api", ev.Replay([0.0, 0.0]), timeout=1.5, retry=ev.Retry(2, 1.2))
    return sim.run(until=10)


def test_a_client_row_counts_outcomes_goodput_and_amplification():
    row = late_retry().summary().loc["web"]
    assert row[["requests", "ok", "rejected", "retries"]].tolist() == [2, 2, 0, 1]
    assert row["availability"] == 1.0
    assert row["throughput"] == pytest.approx(2 / 10)
    assert row["goodput"] == pytest.approx(1 / 10)  # the retried one came after 1.5 s
    assert row["amplification"] == pytest.approx(3 / 2)  # 3 attempts for 2 requests
    assert np.isnan(row["utilisation"]) and np.isnan(row["routed"])


def test_a_service_row_counts_attempts_and_its_busy_share():
    row = late_retry().summary().loc["api"]
    assert row[["requests", "ok", "rejected", "retries"]].tolist() == [3, 2, 1, 1]
    assert row["availability"] == pytest.approx(2 / 3)
    assert row["utilisation"] == pytest.approx(2.0 / 10)  # 2 busy seconds, 1 worker
    assert row["amplification"] == pytest.approx(3 / 2)
    assert row["latency_p50"] == pytest.approx(1.0)
    assert row["latency_mean"] == pytest.approx(1.0)  # each attempt served took 1 s


def test_latency_mean_is_the_mean_of_the_ok_requests_latencies():
    result = late_retry()
    ok = result.requests.query("outcome == 'ok'")
    assert result.summary().loc["web", "latency_mean"] == pytest.approx(ok["latency"].mean())
    assert ok["latency"].mean() == pytest.approx((1.0 + 2.2) / 2)


def test_work_for_a_caller_that_gave_up_is_throughput_not_goodput():
    sim = ev.Simulation(seed=1)
    sim.service("api", workers=1, service_time=2.0)
    sim.client("web", "api", ev.Periodic(interval=2.0), timeout=1.0)
    row = sim.run(until=100).summary().loc["api"]
    assert row["timeouts"] == row["requests"] and row["goodput"] == 0
    # sent at 2, 4, ..., 98 s; work done at 4, 6, ..., 98 s (the last ends at the stop)
    assert row["throughput"] == pytest.approx(48 / 100)


def test_no_services_no_extra_columns():
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.producer("p", "t", ev.Poisson(rate=2))
    sim.consumer_group("g", "t")
    assert "goodput" not in sim.run(until=10).summary().columns


def test_summary_recording_gives_the_same_rows():
    def summary(record):
        sim = ev.Simulation(seed=2, record=record)
        sim.service("db", workers=2, service_time=ev.Exponential(mean=0.05), queue_limit=3)
        sim.service("api", workers=6, service_time=ev.Exponential(mean=0.02),
                    calls=[ev.Call("db", timeout=0.25, retry=ev.Retry(3))],
                    faults=[ev.TransientErrors(p=0.02), ev.Outage(50, 60)])  # fmt: skip
        sim.client("web", "api", ev.Poisson(rate=30), timeout=0.8, retry=ev.Retry(2))
        return sim.run(until=120, warmup=20).summary()

    full, tallied = summary("full"), summary("summary")
    pd.testing.assert_frame_equal(tallied[COUNTS], full[COUNTS])
    for column in ["availability", "goodput", "throughput", "utilisation", "amplification",
                   "latency_mean"]:  # fmt: skip
        np.testing.assert_allclose(tallied[column], full[column], equal_nan=True)
    # histogram quantiles: within a bin (about 6 %) of the exact ones
    np.testing.assert_allclose(tallied["latency_p95"], full["latency_p95"], rtol=0.07)
