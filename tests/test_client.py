"""Clients (``sim.client``): open and closed loops, keys, the request outcomes they end
in, and the accounting that every request sent ends in exactly one of them."""

from __future__ import annotations

import pandas as pd
import pytest

import evsim as ev


def test_a_closed_loop_sends_users_over_response_plus_think_time():
    """The interactive response-time law: throughput = N / (R + Z)."""
    sim = ev.Simulation(seed=1)
    sim.service("api", workers=10, service_time=0.5)
    sim.client("users", "api", users=4, think_time=1.5)
    result = sim.run(until=100)
    requests = result.requests
    assert (requests["latency"].dropna() == 0.5).all()
    assert len(requests) == 4 * 50  # each user: one request every 2 s
    sent = requests.groupby(requests["sent_at"] // 2).size()
    assert (sent == 4).all()


def test_an_open_loop_sends_on_its_arrivals_whatever_the_service_does():
    sim = ev.Simulation(seed=2)
    sim.service("api", workers=1, service_time=1.0)  # 1 a second against 5 arriving
    sim.client("web", "api", ev.Periodic(interval=0.2), start=1.0, stop=11.0)
    result = sim.run(until=12)
    requests = result.requests
    # at start + 0.2, + 0.4, ... before stop: 1.2 s to 10.8 s
    assert len(requests) == 49 and requests["sent_at"].min() == pytest.approx(1.2)
    assert requests["sent_at"].max() < 11.0
    assert (requests["outcome"] == "pending").sum() == 49 - 10  # 10 served by t = 12
    result.check()


def test_pending_requests_count_the_attempts_that_ended():
    sim = ev.Simulation(seed=2)
    sim.service("api", workers=1, service_time=3.0)
    sim.client("web", "api", ev.Replay([0.0, 0.0]), timeout=1.0, retry=ev.Retry(5, 0.5))
    result = sim.run(until=4.0)
    requests = result.requests.set_index("request_id")
    # both time out at 1 s and retry at 1.5 s: attempts 2 end at 2.5 s; 3 start at 3 s
    assert requests["outcome"].tolist() == ["pending", "pending"]
    assert requests["attempts"].tolist() == [2, 2]
    table = result.accounting()
    assert table.loc["web", "routed"] == 2 and table.loc["web", "pending"] == 2
    assert table["balanced"].all()


def test_keys_follow_the_key_chooser():
    sim = ev.Simulation(seed=3)
    sim.service("api", workers=4, service_time=0.01)
    sim.client("web", "api", ev.Poisson(rate=200), keys=ev.ZipfKeys(50, s=1.2))
    requests = sim.run(until=20).requests
    shares = requests["key"].value_counts(normalize=True)
    assert requests["key"].nunique() <= 50 and shares.iloc[0] > 3 * shares.iloc[10]


def test_the_same_seed_gives_identical_tables_and_another_seed_differs():
    def run(seed):
        sim = ev.Simulation(seed=seed)
        sim.service("api", workers=2, service_time=ev.Exponential(mean=0.1), queue_limit=5,
                    faults=[ev.TransientErrors(p=0.1), ev.Crashes(mttf=20, mttr=2)])  # fmt: skip
        sim.client("web", "api", ev.Poisson(rate=15), timeout=0.5,
                   retry=ev.Retry(3, ev.Backoff(0.05, jitter="full")))  # fmt: skip
        result = sim.run(until=60)
        return result.requests, result.calls

    first, again, other = run(7), run(7), run(8)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not first[0]["completed_at"].equals(other[0]["completed_at"])


def test_summary_recording_counts_what_full_recording_lists():
    def accounting(record):
        sim = ev.Simulation(seed=4, record=record)
        sim.service("api", workers=2, service_time=ev.Exponential(mean=0.2), queue_limit=2,
                    faults=[ev.Outage(10, 15)])  # fmt: skip
        sim.client("web", "api", ev.Poisson(rate=12), timeout=1.0, retry=ev.Retry(2))
        sim.client("users", "api", users=3, think_time=ev.Exponential(mean=1.0))
        result = sim.run(until=40)
        result.check()
        return result.accounting()

    pd.testing.assert_frame_equal(accounting("summary"), accounting("full"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, r"^arrivals: give arrivals .* or users"),
        ({"arrivals": ev.Poisson(rate=1), "users": 2}, r"^arrivals: give arrivals"),
        ({"users": 0}, r"^users: must be >= 1"),
        ({"users": 10**9}, r"^users: must be <= 100,000"),
        ({"users": 1, "timeout": 0}, r"^timeout: must be > 0"),
        ({"users": 1, "start": 5, "stop": 2}, r"^stop: must be after start"),
        ({"users": 1, "retry": 3}, r"^retry: expected an ev.Retry"),
    ],
)
def test_bad_client_settings_are_named(options, message):
    sim = ev.Simulation(seed=1)
    with pytest.raises((ev.ConfigError, ev.ConfigTypeError), match=message):
        sim.client("web", "api", **options)
    assert "web" not in sim.clients


def test_an_unknown_target_is_named_when_the_run_starts():
    sim = ev.Simulation(seed=1)
    sim.service("payments")
    sim.client("web", "api", users=1)
    message = r"^web: target: no service, load balancer or cache named 'api' \(known: 'payments'\)"
    with pytest.raises(ev.UnknownNameError, match=message):
        sim.run(until=1)
