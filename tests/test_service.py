"""A request-response service's rules (``sim.service``): workers, its waiting line (FIFO or
LIFO, ``queue_limit`` refusals), load-dependent latency, faults, and its own calls."""

from __future__ import annotations

import math

import numpy as np
import pytest

import evsim as ev


def burst(service, *, at=(0.0,) * 5, until=20.0, timeout=None, retry=None, **service_options):
    """``len(at)`` requests from one client at the times ``at`` to service ``api``."""
    sim = ev.Simulation(seed=3)
    sim.service("api", service_time=service, **service_options)
    sim.client("web", "api", ev.Replay(list(at)), timeout=timeout, retry=retry)
    result = sim.run(until=until)
    result.check()
    return result


def test_workers_serve_that_many_at_once_and_the_rest_wait_in_order():
    result = burst(1.0, workers=2)
    requests = result.requests
    assert requests["completed_at"].tolist() == [1.0, 1.0, 2.0, 2.0, 3.0]
    assert result.calls.sort_values("request_id")["queue_wait"].tolist() == [0, 0, 1, 1, 2]
    assert (requests["outcome"] == "ok").all()


def test_a_full_queue_refuses_at_once():
    result = burst(1.0, workers=1, queue_limit=2)
    requests = result.requests
    assert requests["outcome"].tolist() == ["ok", "ok", "ok", "rejected", "rejected"]
    refused = requests[requests["outcome"] == "rejected"]
    assert (refused["latency"] == 0).all()  # HTTP 503 at once
    assert result.calls.loc[result.calls["status"] == "rejected", "queue_wait"].isna().all()


def test_lifo_serves_the_newest_waiting_request_first():
    at = [0.0, 0.1, 0.2, 0.3]
    fifo = burst(1.0, at=at, workers=1).requests
    lifo = burst(1.0, at=at, workers=1, queue_order="lifo").requests
    assert fifo["completed_at"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert lifo["completed_at"].tolist() == [1.0, 4.0, 3.0, 2.0]


@pytest.mark.parametrize(
    ("load", "scale"),
    [
        (ev.LoadLatency("linear", 1.0), lambda u: 1 + u),
        (ev.LoadLatency("polynomial", 4.0, exponent=3), lambda u: 1 + 4 * u**3),
        (ev.LoadLatency("exponential", 2.0), lambda u: math.exp(2 * u)),
    ],
)
def test_load_latency_scales_service_time_by_the_busy_share_at_start(load, scale):
    result = burst(1.0, at=[0.0] * 4, workers=4, load_latency=load)
    latencies = sorted(result.requests["latency"])
    np.testing.assert_allclose(latencies, [scale(k / 4) for k in (1, 2, 3, 4)])


def test_slowdown_multiplies_the_work_of_requests_starting_in_it():
    result = burst(1.0, at=[0.0, 5.0, 12.0], faults=[ev.Slowdown(4.0, 10.0, factor=3)])
    assert result.requests["latency"].tolist() == [1.0, 3.0, 1.0]


def test_an_outage_refuses_new_requests_and_fails_those_in_progress():
    result = burst(2.0, at=[0.0, 0.5, 1.5, 3.5], workers=1, faults=[ev.Outage(1.0, 3.0)])
    requests = result.requests
    # in progress and queued at 1 s: connections reset; during it: refused; after: served
    assert requests["outcome"].tolist() == ["error", "error", "rejected", "ok"]
    assert requests["completed_at"].tolist() == [1.0, 1.0, 1.5, 5.5]


def test_capacity_loss_starts_no_new_request_until_below_the_remaining_workers():
    loss = ev.CapacityLoss(start=0.5, end=3.0, workers=1)
    result = burst(1.0, at=[0.0, 0.0, 0.6, 0.6], workers=2, faults=[loss])
    # the two at 0 finish at 1; then one worker only until 3: 1 → 2, 2 → 3, then both
    assert sorted(result.requests["completed_at"]) == [1.0, 1.0, 2.0, 3.0]


def test_transient_errors_fail_the_share_p_of_requests():
    sim = ev.Simulation(seed=5)
    sim.service("api", workers=8, service_time=0.001, faults=[ev.TransientErrors(p=0.2)])
    sim.client("web", "api", ev.Poisson(rate=100))
    result = sim.run(until=100)
    share = (result.requests["outcome"] == "error").mean()
    n = len(result.requests)
    assert abs(share - 0.2) < 4 * math.sqrt(0.2 * 0.8 / n)


def test_a_timed_out_request_keeps_the_worker_busy():
    """The caller stops waiting; the server's work goes on (its answer is discarded)."""
    result = burst(2.0, at=[0.0, 0.1], workers=1, timeout=0.5)
    requests = result.requests
    assert requests["outcome"].tolist() == ["timeout", "timeout"]
    assert requests["completed_at"].tolist() == [0.5, 0.6]
    calls = result.calls.sort_values("request_id")
    assert math.isnan(calls["queue_wait"].iloc[1])  # still queued when its caller left


def chain(parallel=False, fail_b=False, timeout=None, cancel=False, at=(0.0,)):
    sim = ev.Simulation(seed=1)
    faults = [ev.TransientErrors(p=1.0)] if fail_b else None
    sim.service("b", workers=4, service_time=0.5, faults=faults)
    sim.service("c", workers=4, service_time=0.3)
    calls = [ev.Call("b", timeout=timeout, cancel_on_timeout=cancel), ev.Call("c")]
    sim.service("a", workers=4, service_time=0.1, calls=calls, parallel=parallel)
    sim.client("web", "a", ev.Replay(list(at)))
    result = sim.run(until=10)
    result.check()
    return result


def test_calls_are_made_in_order_after_the_services_own_work():
    result = chain()
    assert result.requests["latency"].tolist() == pytest.approx([0.1 + 0.5 + 0.3])
    calls = result.calls
    assert calls["callee"].tolist() == ["b", "c", "a"]  # rows as attempts end
    assert (calls["request_id"] == 0).all()  # every edge carries the client's request


def test_parallel_calls_wait_for_the_slowest():
    result = chain(parallel=True)
    assert result.requests["latency"].tolist() == pytest.approx([0.1 + 0.5])


def test_a_failed_call_fails_the_request_and_stops_the_later_calls():
    result = chain(fail_b=True)
    assert result.requests["outcome"].tolist() == ["error"]
    assert "c" not in set(result.calls["callee"])


def test_a_call_timeout_fails_the_request_while_the_callee_works_on():
    result = chain(timeout=0.2)
    calls = result.calls.set_index("callee")
    assert calls.loc["b", "status"] == "timeout"
    assert calls.loc["b", "finished_at"] == pytest.approx(0.3)
    assert result.requests["outcome"].tolist() == ["error"]


def test_retries_follow_the_backoff():
    retry = ev.Retry(3, backoff=ev.Backoff(0.5))
    result = burst(1.0, at=[0.0, 0.0], workers=1, queue_limit=0, retry=retry)
    refused = result.calls[result.calls["request_id"] == 1]
    assert refused["attempt"].tolist() == [1, 2, 3]
    # backoff 0.5 s, then 1 s (base × 2): the worker is free again at 1 s
    assert refused["started_at"].tolist() == [0.0, 0.5, 1.5]
    assert refused["status"].tolist() == ["rejected", "rejected", "ok"]
    assert result.requests["attempts"].tolist() == [1, 3]


def test_a_service_refuses_a_fault_it_does_not_model():
    sim = ev.Simulation(seed=1)
    with pytest.raises(ev.ConfigTypeError, match=r"^faults\[0\]: a service takes"):
        sim.service("api", faults=[ev.PoisonEvents(p=0.1)])
    with pytest.raises(ev.ConfigError, match=r"^faults\[0\]: CapacityLoss removes 3 workers"):
        sim.service("api", workers=2, faults=[ev.CapacityLoss(1, 2, workers=3)])
    assert "api" not in sim.services


def test_an_unknown_call_target_is_named_when_the_run_starts():
    sim = ev.Simulation(seed=1)
    sim.service("a", calls=[ev.Call("payment")])
    with pytest.raises(
        ev.UnknownNameError,
        match=r"^a: calls\[0\]\.target: no service, load balancer or cache named",
    ):
        sim.run(until=1)


@pytest.mark.parametrize("cancel", [False, True])
def test_deadline_propagation_drops_a_queued_call_its_caller_gave_up_on(cancel):
    sim = ev.Simulation(seed=1)
    sim.service("db", workers=1, service_time=0.5)
    sim.service("api", workers=4, calls=[ev.Call("db", timeout=0.2, cancel_on_timeout=cancel)])
    sim.client("web", "api", ev.Replay([0.0, 0.0, 0.6]))
    result = sim.run(until=5)
    result.check()
    db = result.calls[result.calls["callee"] == "db"].set_index("request_id")
    assert db.loc[[0, 1], "status"].tolist() == ["timeout", "timeout"]
    # the second call, still queued at its timeout, is served anyway (0.5 → 1.0) unless
    # cancelled: the third, at 0.6, starts at once, or is still queued at its timeout
    if cancel:
        assert db.loc[2, "queue_wait"] == 0
    else:
        assert math.isnan(db.loc[2, "queue_wait"])


def test_shed_after_drops_a_request_that_waited_too_long_instead_of_serving_it():
    result = burst(1.0, at=[0.0, 0.0, 0.0, 0.0], workers=1, shed_after=1.5)
    requests = result.requests
    # the 2nd waited 1 s (served), the 3rd and 4th 2 s by the time a worker is free: shed
    assert requests["outcome"].tolist() == ["ok", "ok", "rejected", "rejected"]
    assert requests["completed_at"].tolist() == [1.0, 2.0, 2.0, 2.0]


def test_max_in_flight_caps_what_the_service_holds():
    result = burst(1.0, workers=2, max_in_flight=3)
    assert result.requests["outcome"].tolist() == ["ok", "ok", "ok", "rejected", "rejected"]


def test_a_throttle_admits_its_rate_and_bursts():
    sim = ev.Simulation(seed=1)
    sim.service("api", workers=100, service_time=0.001, throttle=ev.Throttle(rate=10, burst=5))
    sim.client("web", "api", ev.Periodic(interval=0.02))  # 50 a second
    requests = sim.run(until=20.0).requests
    ok = requests[requests["outcome"] == "ok"]
    assert len(ok) == pytest.approx(5 + 10 * 20, abs=2)  # the burst, then 10 a second
    assert set(requests["outcome"]) == {"ok", "rejected"}
