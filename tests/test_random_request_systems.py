"""Random request-response systems: every request ends in exactly one outcome.

Hypothesis builds small systems of services calling one another (acyclic chains, in
order or in parallel, with timeouts, retries, breakers and bulkheads, declared or made by
a handler that may catch the failures), behind an optional load balancer or
cache, with faults (errors, crashes, outages, slowdowns, capacity loss), bounded or
LIFO queues, shedding and throttling, and open- or closed-loop clients. Each runs fully
recorded and in summary mode: the accounting balances in both and agrees between them,
every call row is well formed, and a replay from the seed gives identical tables.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evsim as ev

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]

service_faults = st.lists(
    st.sampled_from([
        ev.TransientErrors(p=0.2),
        ev.Crashes(mttf=5.0, mttr=1.0),
        ev.Outage(start=2.0, end=4.0),
        ev.Slowdown(start=1.0, end=5.0, factor=4.0),
        ev.CapacityLoss(start=1.0, end=6.0, workers=1),
    ]),
    max_size=3, unique_by=lambda fault: fault.kind,
)  # fmt: skip

services = st.fixed_dictionaries({
    "workers": st.integers(1, 4),
    "mean_service": st.sampled_from([0.0, 0.01, 0.1, 0.5]),
    "queue_limit": st.sampled_from([None, 0, 3]),
    "queue_order": st.sampled_from(["fifo", "lifo"]),
    "load": st.sampled_from([None, ev.LoadLatency("polynomial", 3.0)]),
    "shed_after": st.sampled_from([None, 0.2]),
    "throttle": st.sampled_from([None, ev.Throttle(rate=10)]),
    "faults": service_faults,
    "call_timeout": st.sampled_from([None, 0.05, 0.5]),
    "call_retry": st.sampled_from([None, ev.Retry(3, ev.Backoff(0.01, jitter="full"))]),
    "cancel": st.booleans(),
    "parallel": st.booleans(),
    "bulkhead": st.sampled_from([None, 1, 2]),
    "breaker": st.sampled_from(
        [None, ev.CircuitBreaker(sliding_window_size=5, minimum_calls=5, wait_in_open=1.0)]
    ),
    "style": st.sampled_from(["calls", "handler", "handler with fallback"]),
})  # fmt: skip

systems = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "services": st.lists(services, min_size=1, max_size=3),
    "front": st.sampled_from([None, "round_robin", "least_connections", "power_of_two", "cache"]),
    "rate": st.floats(1.0, 60.0),
    "users": st.sampled_from([None, 3]),
    "timeout": st.sampled_from([None, 0.1, 1.0]),
    "retry": st.sampled_from([None, ev.Retry(3, ev.Backoff(0.05, jitter="decorrelated"))]),
    "until": st.floats(3.0, 12.0),
})  # fmt: skip


def calling(calls: list[ev.Call], fallback: bool):
    """A service handler making ``calls`` in order, each failure caught if ``fallback``."""

    def handler(request, ctx):
        for call in calls:
            try:
                yield ctx.call(call.target, call.timeout, call.retry, call.cancel_on_timeout,
                               call.breaker, call.budget, call.max_concurrent)  # fmt: skip
            except ev.CallFailed:
                if not fallback:
                    raise

    return handler


def build(s: dict, record: str) -> ev.Simulation:
    sim = ev.Simulation(seed=s["seed"], record=record)
    names = [f"s{i}" for i in range(len(s["services"]))]
    for index, spec in enumerate(s["services"]):
        calls = [
            ev.Call(name, timeout=spec["call_timeout"], retry=spec["call_retry"],
                    cancel_on_timeout=spec["cancel"], breaker=spec["breaker"],
                    max_concurrent=spec["bulkhead"])
            for name in names[index + 1 :]
        ]  # fmt: skip
        handler = None
        if spec["style"] != "calls" and calls:
            handler = calling(calls, spec["style"] == "handler with fallback")
            calls = []
        sim.service(
            names[index], workers=spec["workers"],
            service_time=ev.Exponential(mean=spec["mean_service"]) if spec["mean_service"] else 0,
            queue_limit=spec["queue_limit"], queue_order=spec["queue_order"],
            load_latency=spec["load"], shed_after=spec["shed_after"], throttle=spec["throttle"],
            faults=spec["faults"], calls=calls, parallel=spec["parallel"], handler=handler,
        )  # fmt: skip
    target = names[0]
    if s["front"] == "cache":
        sim.cache("front", target, ttl=1.0, capacity=5, faults=[ev.CacheFlush(at=2.0)])
        target = "front"
    elif s["front"] is not None:
        sim.service("s0-twin", workers=2, service_time=0.02)
        sim.load_balancer("front", [names[0], "s0-twin"], s["front"])
        target = "front"
    options = {"timeout": s["timeout"], "retry": s["retry"], "keys": ev.UniformKeys(10)}
    sim.client("open", target, ev.Poisson(rate=s["rate"]), **options)
    if s["users"]:
        sim.client("closed", target, users=s["users"], think_time=0.2, **options)
    return sim


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(systems)
def test_every_request_ends_in_exactly_one_outcome(s):
    full = build(s, "full").run(until=s["until"])
    full.check()
    calls = full.calls
    assert (calls["finished_at"] >= calls["started_at"]).all()
    assert (calls["attempt"] >= 1).all()
    waited = calls["queue_wait"].dropna()
    assert (waited >= 0).all()
    requests = full.requests
    assert requests["request_id"].is_unique
    ended = requests[requests["outcome"] != "pending"]
    assert (ended["completed_at"] >= ended["sent_at"]).all()
    summary = build(s, "summary").run(until=s["until"])
    summary.check()
    pd.testing.assert_frame_equal(summary.accounting(), full.accounting())
    if s["seed"] % 5 == 0:  # replay
        again = build(s, "full").run(until=s["until"])
        pd.testing.assert_frame_equal(again.requests, requests)
        pd.testing.assert_frame_equal(again.calls, calls)
