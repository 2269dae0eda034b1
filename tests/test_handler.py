"""Handlers: their own exceptions are failed attempts; misusing evsim stops the run.

A handler's logic raising is what a real consumer sees (the attempt fails and is retried
or dead-lettered); a mistake in using evsim (a wrong signature, ``async def``, an event
of another environment, bad ``ctx.publish`` arguments) is a programming error, reported
once, naming the group and the handler, and never counted as an outcome.
"""

from __future__ import annotations

import functools
import warnings

import pytest
import simpy

import evsim as ev


def run(handler, until=3.5, **group):
    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.topic("out")
    sim.producer("p", "t", ev.Periodic(1.0), keys=ev.UniformKeys(5))
    sim.consumer_group("orders", "t", handler=handler, service_time=0.1, **group)
    return sim, sim.run(until=until)


def stopped(handler, match):
    """The run stops with a HandlerError (a ConfigTypeError) naming the group and handler."""
    with pytest.raises(ev.HandlerError, match=match) as raised:
        run(handler)
    message = str(raised.value)
    assert "consumer group 'orders'" in message and "\n" not in message
    return message


def test_a_handler_without_the_ctx_parameter_stops_the_run():
    def one_argument(event):
        return None

    message = stopped(one_argument, r"one_argument must accept \(event, ctx\)")
    assert "positional argument" in message


def test_a_type_error_inside_the_handler_is_a_failed_attempt():
    def buggy(event, ctx):
        return len(5)  # the handler's own TypeError

    _, result = run(buggy)
    assert set(result.attempts["status"]) == {"error"}
    assert result.attempts["error"].str.startswith("TypeError").all()
    assert set(result.deliveries["outcome"]) == {"lost"}


def test_an_async_handler_stops_the_run_and_says_to_write_a_generator():
    async def handler(event, ctx):
        raise AssertionError("never runs")

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "coroutine was never awaited"
        stopped(handler, r"handler is async; .*yield ctx.timeout")


def _generator_handler(event, ctx):
    yield ctx.timeout(0.25)
    ctx.publish("out", "Done", key=event.key)


def _decorated(function):
    def wrapper(*args):  # no functools.wraps: the wrapper is no generator function
        return function(*args)

    return wrapper


class _CallableHandler:
    def __call__(self, event, ctx):
        yield ctx.timeout(0.25)
        ctx.publish("out", "Done", key=event.key)


@pytest.mark.parametrize(
    "handler",
    [
        _generator_handler,
        _decorated(_generator_handler),
        functools.partial(_generator_handler),
        _CallableHandler(),
    ],
    ids=["generator function", "decorated", "partial", "callable object"],
)
def test_every_handler_returning_a_generator_runs_its_body(handler):
    _, result = run(handler)
    attempts = result.attempts
    assert (attempts["finished_at"] - attempts["started_at"]).round(9).eq(0.35).all()
    done = result.events[result.events["event_type"] == "Done"]
    assert len(done) == len(attempts) == 3


def test_yielding_an_event_of_another_environment_stops_the_run():
    other = simpy.Environment()

    def handler(event, ctx):
        yield other.timeout(1)

    stopped(handler, "another SimPy environment")


def test_yielding_something_that_is_not_an_event_stops_the_run():
    def handler(event, ctx):
        yield 0.5

    stopped(handler, r"yielded 0.5; a handler may only yield ctx.timeout")


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"key": 12345}, r"ctx.publish\(key\): expected a string or None, got 12345"),
        ({"attributes": ["a"]}, r"ctx.publish\(attributes\): expected a dict"),
        ({"schema_version": 0}, r"ctx.publish\(schema_version\): must be >= 1"),
        ({"size_bytes": 1.5}, r"ctx.publish\(size_bytes\): expected a whole number"),
    ],
)
def test_bad_publish_arguments_stop_the_run_and_leave_no_event_behind(arguments, named):
    def handler(event, ctx):
        ctx.publish("out", "Done", **arguments)

    sim = ev.Simulation(seed=1)
    sim.topic("t")
    sim.topic("out")
    sim.producer("p", "t", ev.Periodic(1.0))
    sim.consumer_group("orders", "t", handler=handler)
    with pytest.raises(ev.EvsimError, match=named) as raised:
        sim.run(until=3)
    assert "consumer group 'orders'" in str(raised.value)
    assert len(sim.records.events) == 1  # the event being handled; nothing half-published
    assert len(sim.records.outcomes) == 0  # a mistake is not an outcome


def test_a_bad_publish_target_keeps_its_error_class_and_names_the_handler():
    def handler(event, ctx):
        ctx.publish("nowhere", "Done")

    with pytest.raises(ev.UnknownNameError, match=r"consumer group 'orders', .*handler.*'nowhere'"):
        run(handler)
