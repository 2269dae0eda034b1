"""The request-response charts (ev.plot.goodput): tested through the data they draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import evsim as ev
from evsim.views import request_charts
from evsim.views.time_bins import bin_starts, per_second


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def steady(timeout: float | None = 1.0) -> ev.Result:
    """Two requests a second (at 0.5, 1.0, ...) to a service answering in 0.2 s."""
    sim = ev.Simulation(seed=1)
    sim.service("api", workers=2, service_time=0.2)
    sim.client("web", "api", ev.Periodic(interval=0.5), timeout=timeout)
    return sim.run(until=10)


@pytest.fixture(scope="module")
def retried() -> ev.Result:
    """Requests that fail half the time after 0.6 s and are retried once: a retried ok
    takes 1.2 s, past the client's 1 s timeout (throughput, not goodput)."""
    sim = ev.Simulation(seed=4)
    sim.service("api", workers=50, service_time=0.6, faults=[ev.TransientErrors(p=0.5)])
    sim.client("web", "api", ev.Poisson(rate=20), timeout=1.0, retry=ev.Retry(2))
    return sim.run(until=60)


def test_time_bins_rate_the_last_bin_by_its_length():
    assert bin_starts(2.5, 1.0).tolist() == [0.0, 1.0, 2.0]
    # 2.5, the run's end, falls in the last bin, which is half a second long
    assert per_second(np.array([0.1, 2.4, 2.5]), until=2.5, bin=1.0).tolist() == [1, 0, 4]


def test_a_steady_client_offers_and_gets_two_requests_a_second():
    data = ev.plot.goodput_data(steady(), bin=1.0)
    assert list(data.columns) == request_charts.COLUMNS
    assert list(data["time"]) == [float(t) for t in range(10)]
    assert set(data["client"]) == {"web"}
    # sent at 0.5, 1.0, 1.5, ...: one in the first second, two in each after
    assert data["offered"].tolist() == [1.0] + [2.0] * 9
    assert data["attempts"].tolist() == data["offered"].tolist()  # no retries
    # each answered 0.2 s after it was sent, in time: the last, sent at 9.5 s, at 9.7 s
    assert data["throughput"].tolist() == data["goodput"].tolist() == [1.0] + [2.0] * 9


def test_pending_requests_are_offered_only():
    sim = ev.Simulation(seed=1)
    sim.service("api", workers=1, service_time=5.0)
    sim.client("web", "api", ev.Periodic(interval=1.0))
    data = ev.plot.goodput_data(sim.run(until=3), bin=1.0)
    assert data["offered"].tolist() == [0, 1, 1]  # sent at 1 s and 2 s, still in service
    assert data["throughput"].sum() == data["goodput"].sum() == data["attempts"].sum() == 0


def test_goodput_leaves_out_ok_answers_later_than_the_timeout(retried):
    data = ev.plot.goodput_data(retried, bin=5.0)
    requests = retried.requests
    ok = requests[requests["outcome"] == "ok"]
    width = 5.0
    assert data["throughput"].sum() * width == pytest.approx(len(ok))
    assert data["goodput"].sum() * width == pytest.approx((ok["latency"] <= 1.0).sum())
    assert 0 < data["goodput"].sum() < data["throughput"].sum()
    # the same rule as the summary's goodput (ok in time per second of the run)
    assert data["goodput"].sum() * width / retried.until == pytest.approx(
        retried.summary().loc["web", "goodput"]
    )
    calls = retried.calls
    assert data["attempts"].sum() * width == pytest.approx((calls["caller"] == "web").sum())
    assert data["attempts"].sum() > data["offered"].sum()  # retries


def test_without_a_timeout_every_ok_request_is_goodput():
    data = ev.plot.goodput_data(steady(timeout=None))
    assert (data["goodput"] == data["throughput"]).all()


def test_each_client_gets_its_own_rows():
    sim = ev.Simulation(seed=2)
    sim.service("api", workers=4, service_time=0.01)
    sim.client("web", "api", ev.Periodic(interval=0.5))
    sim.client("mobile", "api", ev.Periodic(interval=0.25))
    result = sim.run(until=20)
    data = ev.plot.goodput_data(result, bin=2.0)
    offered = data.groupby("client")["offered"].sum() * 2.0
    assert offered.to_dict() == result.requests.groupby("client").size().to_dict()
    assert len(data) == 2 * 10


def test_a_run_without_clients_has_no_rows():
    sim = ev.Simulation(seed=1)
    sim.service("api")
    data = ev.plot.goodput_data(sim.run(until=5))
    assert data.empty and list(data.columns) == request_charts.COLUMNS


def test_a_bin_must_be_positive(bad_argument):
    with bad_argument(ev.ConfigError, "bin", "must be > 0"):
        ev.plot.goodput_data(steady(), bin=0)


def test_fault_windows_list_the_scheduled_triggers():
    sim = ev.Simulation(seed=1)
    sim.service(
        "api", workers=4, service_time=0.01,
        faults=[ev.Outage(10, 20), ev.Slowdown(30, 35, factor=3), ev.Crashes(100, 1),
                ev.TransientErrors(p=0.1), ev.CapacityLoss(40, 50, workers=2)],
    )  # fmt: skip
    sim.cache("cache", "api", ttl=5, capacity=10, faults=[ev.CacheFlush(at=45)])
    sim.client("web", "cache", ev.Poisson(rate=5), keys=ev.UniformKeys(20))
    windows = request_charts.fault_windows(sim.run(until=60))
    assert windows.to_dict("records") == [
        {"component": "api", "fault": "outage", "start": 10.0, "end": 20.0},
        {"component": "api", "fault": "slowdown", "start": 30.0, "end": 35.0},
        {"component": "api", "fault": "capacity_loss", "start": 40.0, "end": 50.0},
        {"component": "cache", "fault": "cache_flush", "start": 45.0, "end": 45.0},
    ]  # random crashes and errors have no window


def test_fault_windows_include_a_consumer_groups_scheduled_faults():
    """The event-driven order flow: its inventory consumers down, then slow."""
    sim = ev.compare_systems(outage=(10.0, 20.0), spike=(30.0, 40.0, 3.0))["event_driven"]
    windows = request_charts.fault_windows(sim.run(until=45.0))
    assert windows.to_dict("records") == [
        {"component": "inventory", "fault": "outage", "start": 10.0, "end": 20.0},
        {"component": "inventory", "fault": "slowdown", "start": 30.0, "end": 40.0},
    ]


def test_the_chart_draws_each_measure_and_shades_the_outage(retried):
    sim = ev.Simulation(seed=1)
    sim.service("api", workers=4, service_time=0.01, faults=[ev.Outage(10, 20)])
    sim.client("web", "api", ev.Poisson(rate=10), timeout=0.5)
    ax = ev.plot.goodput(sim.run(until=30), bin=2.0)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [
        "attempts (retries included)", "offered (requests sent)", "throughput (ok)",
        "goodput (ok within 0.5 s)",
    ]  # fmt: skip
    [span] = ax.patches
    assert span.get_label() == "api: outage"
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "requests/s"
    assert "2 s bins" in ax.get_title()
    two = ev.plot.goodput(retried, ax=plt.subplots()[1])
    assert len(two.get_lines()) == len(request_charts.MEASURES)


def test_several_clients_are_named_in_the_legend():
    sim = ev.Simulation(seed=2)
    sim.service("api", workers=4, service_time=0.01)
    sim.client("web", "api", ev.Periodic(interval=0.5))
    sim.client("mobile", "api", ev.Periodic(interval=0.25))
    ax = ev.plot.goodput(sim.run(until=10))
    labels = {line.get_label() for line in ax.get_lines()}
    assert "mobile: goodput (ok, no timeout)" in labels and "web: offered (requests sent)" in labels
    assert len(labels) == 8


def test_standard_charts_include_goodput_for_a_run_with_clients(tmp_path):
    names = {path.stem for path in ev.plot.standard_charts(steady(), tmp_path)}
    assert "goodput" in names
