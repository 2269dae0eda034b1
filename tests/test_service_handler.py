"""A service's handler, ``handler(request, ctx)`` (:mod:`evsim.actors.service_handler`)."""

from __future__ import annotations

import pandas as pd
import pytest

import evsim as ev


def order_api(handler, *, payment_faults=None, times=(1.0, 2.0, 3.0), **service):
    """A client sends at ``times`` to ``orders`` (handler ``handler``, 2 ms of own work),
    which may call ``payment`` (0.1 s) and publish to the topic ``orders-events``."""
    sim = ev.Simulation(seed=1)
    sim.topic("orders-events")
    sim.service("payment", workers=2, service_time=0.1, faults=payment_faults)
    sim.service("orders", workers=4, service_time=0.002, handler=handler, **service)
    sim.client("web", "orders", ev.Replay(list(times)), keys=ev.UniformKeys(10))
    sim.consumer_group("fulfilment", "orders-events")
    return sim


def create_order(request, ctx):
    yield ctx.call("payment", timeout=0.5)
    ctx.publish("orders-events", "OrderCreated", key=request.key)


def test_a_handler_calls_publishes_and_answers_ok_when_it_returns():
    result = order_api(create_order).run(until=10)
    result.check()
    requests = result.requests
    assert (requests["outcome"] == "ok").all()
    assert requests["latency"].round(9).eq(0.102).all()  # 2 ms own work + the 0.1 s call
    calls = result.calls[result.calls["caller"] == "orders"]
    # the service's calls carry the client's request id and key
    assert calls["request_id"].tolist() == requests["request_id"].tolist()
    assert (calls["callee"] == "payment").all()
    events = result.events
    assert events["event_type"].tolist() == ["OrderCreated"] * 3
    assert events["producer"].eq("orders").all()
    assert events["key"].tolist() == requests["key"].tolist()
    assert (result.deliveries["outcome"] == "processed").all()


def test_an_uncaught_failed_call_answers_error_and_a_caught_one_is_a_fallback():
    outage = [ev.Outage(0.0, 2.5)]  # payment refuses the first two orders
    failing = order_api(create_order, payment_faults=outage).run(until=10)
    assert failing.requests["outcome"].tolist() == ["error", "error", "ok"]
    assert len(failing.events) == 1

    def create_or_defer(request, ctx):
        try:
            yield ctx.call("payment", timeout=0.5)
        except ev.CallFailed as failed:
            assert failed.reason == "rejected" and failed.callee == "payment"
            ctx.publish("orders-events", "PaymentDeferred", key=request.key)
            return
        ctx.publish("orders-events", "OrderCreated", key=request.key)

    deferring = order_api(create_or_defer, payment_faults=outage).run(until=10)
    assert deferring.requests["outcome"].tolist() == ["ok"] * 3
    assert deferring.events["event_type"].tolist() == [
        "PaymentDeferred", "PaymentDeferred", "OrderCreated",
    ]  # fmt: skip


def test_an_exception_of_the_handlers_logic_is_an_error_answer_not_a_crash():
    def picky(request, ctx):
        if request.request_id == 1:
            raise ValueError("no such customer")
        yield ctx.timeout(0.01)

    result = order_api(picky).run(until=10)
    assert result.requests["outcome"].tolist() == ["ok", "error", "ok"]
    result.check()


def test_a_plain_function_handler_answers_at_once_after_the_work():
    def accept(request, ctx):
        ctx.publish("orders-events", "OrderCreated", key=request.key)  # the 202: no waiting

    result = order_api(accept).run(until=10)
    assert result.requests["latency"].round(9).eq(0.002).all()
    assert len(result.events) == 3


def test_after_a_propagated_deadline_a_handler_call_fails_at_once_as_timeout():
    reasons = []

    def slow_then_call(request, ctx):
        yield ctx.timeout(1.0)  # past the gateway's 0.5 s deadline
        try:
            yield ctx.call("payment")
        except ev.CallFailed as failed:
            reasons.append((ctx.now, failed.reason))
            raise

    sim = order_api(slow_then_call, times=(1.0,))
    sim.service(
        "gateway", workers=1, calls=[ev.Call("orders", timeout=0.5, cancel_on_timeout=True)]
    )
    sim.client("mobile", "gateway", ev.Replay([5.0]))
    result = sim.run(until=10)
    assert reasons == [(pytest.approx(6.002), "timeout")]
    payment = result.calls[result.calls["callee"] == "payment"]
    assert len(payment) == 1  # only the web client's request reached payment: not sent
    mobile = result.requests[result.requests["client"] == "mobile"]
    assert mobile["outcome"].tolist() == ["error"]  # the gateway's call timed out


def test_a_service_that_goes_down_stops_its_handlers_where_they_wait():
    def long_job(request, ctx):
        yield ctx.timeout(5.0)
        ctx.publish("orders-events", "OrderCreated")

    result = order_api(long_job, times=(1.0, 8.0), faults=[ev.Outage(3.0, 4.0)]).run(until=20)
    assert result.requests["outcome"].tolist() == ["error", "ok"]
    assert result.requests["completed_at"].tolist() == [3.0, pytest.approx(13.002)]
    assert len(result.events) == 1  # the stopped handler never published
    result.check()


@pytest.mark.parametrize(
    ("handler", "match"),
    [
        (lambda event: None, r"handler: in service 'orders', .* must accept \(request, ctx\)"),
        (lambda request, ctx: (yield 3), r"in service 'orders', .* yielded 3"),
    ],
)
def test_misuse_in_a_handler_is_a_mistake_in_the_program(handler, match):
    with pytest.raises(ev.HandlerError, match=match):
        order_api(handler).run(until=10)


def test_an_async_handler_is_refused_when_it_runs():
    async def handler(request, ctx):
        return None

    with pytest.raises(ev.HandlerError, match=r"in service 'orders'.* is async"):
        order_api(handler).run(until=10)


def test_a_handler_and_calls_together_are_refused():
    sim = ev.Simulation(seed=1)
    with pytest.raises(ev.ConfigError, match="handler: give calls or a handler, not both"):
        sim.service("orders", handler=create_order, calls=[ev.Call("payment")])
    with pytest.raises(
        ev.ConfigTypeError, match=r"handler: expected a function fn\(request, ctx\)"
    ):
        sim.service("orders", handler="create_order")


def test_the_spec_names_the_handler_and_runs_are_deterministic():
    sim = order_api(create_order)
    assert sim.services["orders"].spec()["handler"] == "create_order"

    def tables(seed):
        sim = ev.Simulation(seed=seed)
        sim.service("payment", workers=2, service_time=ev.Exponential(mean=0.1))

        def jittery(request, ctx):
            yield ctx.timeout(ctx.rng.exponential(0.05))
            yield ctx.call(
                "payment", timeout=0.3, retry=ev.Retry(3, ev.Backoff(0.1, jitter="full"))
            )

        sim.service("orders", workers=4, handler=jittery)
        sim.client("web", "orders", ev.Poisson(rate=15), timeout=1.0)
        result = sim.run(until=60)
        return result.requests, result.calls

    first, again, other = tables(3), tables(3), tables(4)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not first[0]["latency"].equals(other[0]["latency"])
