"""Circuit breakers and retry budgets on calls (:mod:`evsim.actors.caller`)."""

from __future__ import annotations

import pytest

import evsim as ev


def outage_run(**client):
    sim = ev.Simulation(seed=1)
    sim.service("api", workers=8, service_time=0.01, faults=[ev.Outage(10.0, 40.0)])
    sim.client("web", "api", ev.Periodic(interval=0.1), **client)
    result = sim.run(until=120)
    result.check()
    return result


def test_an_open_breaker_short_circuits_without_reaching_the_service():
    breaker = ev.CircuitBreaker(minimum_calls=20, sliding_window_size=20, wait_in_open=30)
    result = outage_run(breaker=breaker)
    calls = result.calls
    cut = calls[calls["status"] == "short_circuited"]
    refused = calls[calls["status"] == "rejected"]
    # 10 refusals after 10 successes: 50 % of the 20-call window, the threshold (>=):
    # open at the 10th, 10.9 s, for 30 s
    assert refused["started_at"].min() >= 10 and len(refused) == 10
    assert cut["started_at"].min() == pytest.approx(11.0, abs=0.05)
    assert cut["started_at"].max() == pytest.approx(40.9, abs=0.15)
    # after the wait the service is back: the half-open trial succeeds and it closes
    assert (calls.loc[calls["started_at"] > 41.0, "status"] == "ok").all()
    assert (result.requests["outcome"] == "short_circuited").sum() == len(cut)


def test_without_a_breaker_every_request_reaches_the_down_service():
    calls = outage_run().calls
    assert "short_circuited" not in set(calls["status"])
    assert (calls["status"] == "rejected").sum() == pytest.approx(300, abs=2)


def test_a_token_bucket_stops_the_retries_when_its_tokens_run_out():
    retry = ev.Retry(3, 0.0)
    plain = outage_run(retry=retry).calls
    budget = outage_run(retry=retry, budget=ev.TokenBucket()).calls
    retries = lambda calls: int((calls["attempt"] > 1).sum())  # noqa: E731
    assert retries(plain) == pytest.approx(600, abs=4)  # two per request during the outage
    assert retries(budget) == 500 // 5  # 500 tokens, 5 a retry: 100 retries
    assert budget["attempt"].max() <= 3


def test_a_retry_throttle_allows_retries_only_above_half_its_tokens():
    budget = ev.RetryThrottle(max_tokens=10, token_ratio=0.1)
    calls = outage_run(retry=ev.Retry(3, 0.0), budget=budget).calls
    # failures take a token each: after 5 the tokens are at half and retries stop
    assert int((calls["attempt"] > 1).sum()) <= 5


def test_bad_policies_are_named():
    with pytest.raises(ev.ConfigTypeError, match=r"^breaker: expected ev.CircuitBreaker"):
        ev.Call("api", breaker=True)
    sim = ev.Simulation(seed=1)
    with pytest.raises(ev.ConfigTypeError, match=r"^budget: expected ev.TokenBucket"):
        sim.client("web", "api", users=1, budget=500)


def test_breaker_state_and_retry_tokens_are_gauges():
    breaker = ev.CircuitBreaker(minimum_calls=20, sliding_window_size=20, wait_in_open=30)
    result = outage_run(breaker=breaker, retry=ev.Retry(2, 0.0), budget=ev.TokenBucket())
    series = result.timeseries
    state = series[series["metric"] == "breaker_state"].set_index("time")["value"]
    tokens = series[series["metric"] == "retry_tokens"].set_index("time")["value"]
    assert set(series.loc[series["metric"] == "breaker_state", "entity"]) == {"web->api"}
    assert state.loc[5.0] == 0 and state.loc[20.0] == 1 and state.loc[60.0] == 0
    assert tokens.loc[5.0] == 500 and tokens.loc[20.0] < 500
