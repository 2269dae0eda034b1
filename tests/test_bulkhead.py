"""``max_concurrent`` on a call: Resilience4j's semaphore bulkhead (no wait)."""

from __future__ import annotations

import pytest

import evsim as ev


def counts(statuses):
    """How many of each status occur (categories that do not, left out)."""
    return {status: n for status, n in statuses.value_counts().items() if n}


def burst(call, *, times=(1.0,) * 5, workers=5):
    """Requests at ``times`` to ``api`` (``workers`` workers, no work of its own), which
    makes ``call`` to ``db`` (10 workers, 1 s each)."""
    sim = ev.Simulation(seed=1)
    sim.service("db", workers=10, service_time=1.0)
    sim.service("api", workers=workers, calls=[call])
    sim.client("web", "api", ev.Replay(list(times)))
    result = sim.run(until=30)
    result.check()
    return result


def test_attempts_beyond_the_limit_are_rejected_at_once_without_reaching_the_callee():
    result = burst(ev.Call("db", max_concurrent=2))
    to_db = result.calls[result.calls["callee"] == "db"]
    assert counts(to_db["status"]) == {"rejected": 3, "ok": 2}
    rejected = to_db[to_db["status"] == "rejected"]
    assert (rejected["finished_at"] == rejected["started_at"]).all()  # at once
    assert rejected["queue_wait"].isna().all()  # never in the callee's queue
    # db's summary row counts the attempts addressed to it, as its callers saw them
    assert result.summary().loc["db", ["requests", "ok", "rejected"]].tolist() == [5, 2, 3]
    assert result.summary().loc["db", "throughput"] == pytest.approx(2 / 30)  # 2 served
    assert counts(result.requests["outcome"]) == {"error": 3, "ok": 2}


def test_a_slot_is_free_again_when_its_attempt_ends():
    # one slot; requests 1 s apart, each call takes 1 s: each finds the slot free
    result = burst(ev.Call("db", max_concurrent=1), times=(1.0, 2.0, 3.0))
    assert (result.calls["status"] == "ok").all()
    # a timed-out attempt frees its slot too (the caller stopped waiting)
    result = burst(ev.Call("db", timeout=0.5, max_concurrent=1), times=(1.0, 1.6))
    to_db = result.calls[result.calls["callee"] == "db"]
    assert to_db["status"].tolist() == ["timeout", "timeout"]


def test_a_rejected_attempt_is_retried_as_any_refusal():
    retry = ev.Retry(3, ev.Backoff(1.5, cap=1.5))
    result = burst(ev.Call("db", max_concurrent=2, retry=retry), times=(1.0,) * 3)
    to_db = result.calls[result.calls["callee"] == "db"]
    last = to_db[to_db["attempt"] == 2]
    assert last["status"].tolist() == ["ok"] and last["started_at"].tolist() == [2.5]
    assert (result.requests["outcome"] == "ok").all()


def test_the_breaker_counts_a_full_bulkhead_as_a_failure():
    # Resilience4j's decorator order: CircuitBreaker around Bulkhead. The first call holds
    # the one slot from 1 s to 2 s; the next four are refused by the bulkhead, and the
    # fourth refusal (at 1.5 s) fills the window of 4 with failures: the breaker opens,
    # so the call at 1.7 s is short-circuited (without the rule it would be refused).
    breaker = ev.CircuitBreaker(sliding_window_size=4, minimum_calls=4)
    times = (1.0, 1.0, 1.0, 1.0, 1.5, 1.7)
    result = burst(ev.Call("db", max_concurrent=1, breaker=breaker), times=times, workers=6)
    to_db = result.calls[result.calls["callee"] == "db"]
    seen = sorted(zip(to_db["started_at"], to_db["status"], strict=True))
    assert seen == [(1.0, "ok"), *[(1.0, "rejected")] * 3, (1.5, "rejected"),
                    (1.7, "short_circuited")]  # fmt: skip


def test_a_handlers_call_takes_the_limit_too():
    sim = ev.Simulation(seed=1)
    sim.service("db", workers=10, service_time=1.0)

    def handler(request, ctx):
        yield ctx.call("db", max_concurrent=1)

    sim.service("api", workers=3, handler=handler)
    sim.client("web", "api", ev.Replay([1.0, 1.0, 1.0]))
    result = sim.run(until=10)
    to_db = result.calls[result.calls["callee"] == "db"]
    assert counts(to_db["status"]) == {"rejected": 2, "ok": 1}


@pytest.mark.parametrize(("value", "error"), [(0, ev.ConfigError), (1.5, ev.ConfigTypeError)])
def test_a_bad_limit_names_max_concurrent(value, error):
    with pytest.raises(error, match="max_concurrent"):
        ev.Call("db", max_concurrent=value)


def test_the_limit_is_in_the_calls_spec():
    call = ev.Call("db", max_concurrent=25)
    assert call.spec()["call"]["max_concurrent"] == 25
    assert ev.Call(**call.spec()["call"]) == call
