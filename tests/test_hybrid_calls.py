"""A consumer group's handler calling a request-response service (``ctx.call``)."""

from __future__ import annotations

import pytest

import evsim as ev


def shop(handler, faults=None, retry=None):
    sim = ev.Simulation(seed=1)
    sim.service("payment-api", workers=4, service_time=0.2, faults=faults)
    sim.topic("orders")
    sim.producer("web", "orders", ev.Periodic(interval=1.0), event_type="OrderCreated")
    sim.consumer_group("billing", "orders", handler=handler, retry=retry)
    result = sim.run(until=20.5)
    result.check()
    return result


def pay(event, ctx):
    response = yield ctx.call("payment-api", timeout=1.0)
    assert response.callee == "payment-api" and response.attempts == 1


def test_a_handler_waits_for_the_call():
    result = shop(pay)
    deliveries = result.deliveries
    processed = deliveries[deliveries["outcome"] == "processed"]
    assert len(processed) == 20
    assert processed["latency"].round(9).eq(0.2).all()  # the call's 0.2 s
    calls = result.calls
    assert set(calls["caller"]) == {"billing"} and (calls["request_id"] == -1).all()


def test_a_failed_call_fails_the_attempt_and_the_group_retries():
    result = shop(pay, faults=[ev.Outage(0.0, 5.5)], retry=ev.Retry(10, ev.Backoff(1.0, cap=1.0)))
    attempts = result.attempts
    assert (attempts.loc[attempts["status"] == "error", "error"].str.startswith("CallFailed")).all()
    assert (result.deliveries["outcome"] == "processed").all()
    assert (result.calls["status"] == "rejected").sum() >= 5


def test_a_handler_may_catch_the_failure_for_a_fallback():
    def pay_or_queue(event, ctx):
        try:
            yield ctx.call("payment-api", timeout=1.0)
        except ev.CallFailed as failed:
            assert failed.reason == "rejected" and failed.callee == "payment-api"
            ctx.publish("orders-later", "PaymentDeferred")

    sim = ev.Simulation(seed=1)
    sim.service("payment-api", workers=4, service_time=0.2, faults=[ev.Outage(0.0, 5.5)])
    sim.topic("orders")
    sim.topic("orders-later")
    sim.producer("web", "orders", ev.Periodic(interval=1.0))
    sim.consumer_group("billing", "orders", handler=pay_or_queue)
    result = sim.run(until=20.5)
    deferred = result.events[result.events["event_type"] == "PaymentDeferred"]
    assert len(deferred) == 5  # the orders of t = 1 ... 5 s
    assert (result.deliveries["outcome"] == "processed").all()


def test_an_unknown_service_is_a_mistake_in_the_handler():
    def wrong(event, ctx):
        yield ctx.call("paymnet-api")

    with pytest.raises(ev.UnknownNameError, match=r"handler: in consumer group 'billing'.*"
                       r"ctx.call\(target\): no service"):  # fmt: skip
        shop(wrong)
