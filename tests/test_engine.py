"""The shared clock: call_later takes the place in SimPy's schedule a timeout would, and
run behaves as SimPy's."""

from __future__ import annotations

import bounded
import pytest
import simpy

from evsim.engine import Clock, Timer, step_name
from evsim.errors import SimulationStateError


def _fire_order(use_call_later: list[bool]) -> list[tuple[float, int]]:
    """Schedule timers i = 0.. at delays (2, 1, 1, 0, 2, 0), each either as a SimPy timeout
    or with call_later; the (time, i) in the order they fire."""
    clock = Clock()
    fired: list[tuple[float, int]] = []
    for i, (delay, later) in enumerate(zip((2, 1, 1, 0, 2, 0), use_call_later, strict=True)):

        def note(_event: object, i: int = i) -> None:
            fired.append((clock.now, i))

        if later:
            clock.call_later(delay, note)
        else:
            clock.timeout(delay).callbacks.append(note)
    clock.run()
    return fired


def test_call_later_fires_where_a_timeout_would():
    expected = [(0, 3), (0, 5), (1, 1), (1, 2), (2, 0), (2, 4)]
    assert _fire_order([False] * 6) == expected
    assert _fire_order([True] * 6) == expected
    assert _fire_order([True, False, True, False, True, False]) == expected


def test_call_later_from_a_callback_runs_after_what_is_already_due():
    clock = Clock()
    order: list[str] = []

    def first(_alarm: object) -> None:
        order.append("first")
        clock.call_later(0, lambda _a: order.append("chained"))

    clock.call_later(1, first)
    clock.timeout(1).callbacks.append(lambda _e: order.append("timeout"))
    clock.run(until=5)
    assert order == ["first", "timeout", "chained"]
    assert clock.now == 5


def _model(env: simpy.Environment) -> list[tuple[float, str]]:
    """Two processes sharing a resource, a timeout callback and a bare event."""
    log: list[tuple[float, str]] = []
    resource = simpy.Resource(env, capacity=1)

    def user(name: str, hold: float):
        with resource.request() as request:
            yield request
            log.append((env.now, f"{name} in"))
            yield env.timeout(hold)
        log.append((env.now, f"{name} out"))

    env.process(user("a", 2))
    env.process(user("b", 1))
    env.timeout(1.5).callbacks.append(lambda _e: log.append((env.now, "tick")))
    return log


@pytest.mark.parametrize("until", [None, 2.5, 10])
def test_run_gives_what_simpys_run_gives(until):
    logs = []
    for env in (simpy.Environment(), Clock()):
        log = _model(env)
        assert env.run(until=until) is None
        logs.append((log, env.now))
    assert logs[0] == logs[1]
    assert logs[1][1] == (3 if until is None else until)


def test_run_until_an_event_returns_its_value_and_step_is_one_event_again():
    seen = []
    for env in (simpy.Environment(), Clock()):
        done = env.timeout(3, value="done")
        env.timeout(5)
        assert env.run(until=done) == "done"
        times = [env.now]
        for _ in range(2):  # SimPy's single step once run has returned
            env.step()
            times.append(env.now)
        with pytest.raises(simpy.core.EmptySchedule):
            env.step()
        seen.append(times)
    assert seen[0] == seen[1] == [3, 3, 5]  # SimPy re-queues the until event at its time


def test_a_failed_event_nobody_waits_for_stops_the_run_as_in_simpy():
    clock = Clock()
    clock.event().fail(ValueError("broken"))
    with pytest.raises(ValueError, match="broken") as raised:
        clock.run(until=1)
    assert isinstance(raised.value.__cause__, ValueError)
    idle = Clock()
    with pytest.raises(RuntimeError, match="until"):
        idle.run(until=idle.event())  # never triggered, nothing scheduled


def test_a_timer_restarts_after_firing_and_refuses_a_second_pending_start():
    clock = Clock()
    fired: list[float] = []

    def again(timer: Timer) -> None:
        fired.append(clock.now)
        if clock.now < 5:
            timer.start(2)  # from its own callback: it is no longer pending

    timer = Timer(clock, again)
    timer.start(1)
    with pytest.raises(SimulationStateError, match="already pending"):
        timer.start(5)
    clock.timeout(3).callbacks.append(lambda _e: fired.append(-clock.now))
    clock.run()
    assert fired == [1, -3, 3, 5]  # the timeout made first at t=3 runs before the timer


def test_now_is_the_time_simpy_moves():
    """``now`` is a slot and ``_now`` (SimPy's name) a property over it: SimPy's own code
    (its ``__init__``, a ``step`` outside ``run``, ``run(until=...)``) and the run loop
    move one and the same clock."""
    clock = Clock(initial_time=7)
    assert clock.now == clock._now == 7
    clock.timeout(2)
    clock.step()  # SimPy's step: it writes _now
    assert clock.now == clock._now == 9
    seen: list[tuple[float, float]] = []
    clock.call_later(1.5, lambda _timer: seen.append((clock.now, clock._now)))
    clock.run(until=20)
    assert seen == [(10.5, 10.5)]
    assert clock.now == clock._now == 20
    with pytest.raises(ValueError, match="must be greater than the current simulation time"):
        clock.run(until=20)  # SimPy's own check, reading now


def _nested_run_trace(env: simpy.Environment) -> list[tuple]:
    """A callback at t=1 runs the environment on to t=3 itself, then the outer run goes on."""
    log: list[tuple] = []

    def inner(_event: object) -> None:
        log.append(("inner starts", env.now))
        env.run(until=3)
        log.append(("inner ends", env.now))

    env.timeout(1).callbacks.append(inner)
    for t in (0.5, 2, 2.5, 4):
        env.timeout(t).callbacks.append(lambda _e, t=t: log.append(("timeout", t, env.now)))
    env.run(until=5)
    log.append(("end", env.now))
    return log


def test_a_run_from_within_a_run_goes_as_in_simpy():
    expected = _nested_run_trace(simpy.Environment())
    assert expected[1] == ("inner starts", 1) and expected[4] == ("inner ends", 3)
    assert _nested_run_trace(Clock()) == expected


# --- the watchdog: a run that makes no progress in simulated time ---------------------------


def test_a_zero_time_loop_of_steps_is_stopped_naming_what_ran():
    """On a Clock without the watchdog this loop never ends: the child is killed."""
    out = bounded.raised(
        """
        from evsim.engine import Clock
        clock = Clock()
        def again(_timer):
            clock.call_later(0, again)
        clock.call_later(1.5, again)
        clock.run(until=10)
        """
    )
    assert out.startswith("SimulationStateError: run: no progress in simulated time: 100,000 ")
    assert "at t = 1.5 s" in out and "stall_after=100,000" in out
    assert "again ×1,000" in out  # the last steps' callbacks, by name


def test_a_burst_below_stall_after_runs_and_stall_after_is_the_way_past():
    def burst(clock: Clock, steps: int) -> list[float]:
        seen: list[float] = []
        for _ in range(steps):
            clock.call_later(1, lambda _timer: seen.append(clock.now))
        clock.call_later(2, lambda _timer: seen.append(clock.now))
        clock.run(until=3)
        return seen

    assert len(burst(Clock(), 60_000)) == 60_001  # the watchdog counts from its first look
    clock = Clock()
    clock.stall_after = 1_000
    with pytest.raises(SimulationStateError, match="stall_after=1,000"):
        burst(clock, 20_000)
    clock = Clock()
    clock.stall_after = 30_000
    assert len(burst(clock, 20_000)) == 20_001


def test_zero_time_work_within_a_step_is_counted_and_the_hint_is_added():
    clock = Clock()
    clock.stall_after = 50
    clock.stall_hint = lambda now, steps: f"hint at {now:g}"

    def work(_timer: object) -> None:
        for _ in range(49):
            clock.instant_work()  # 49 at t=1, then the clock moves: the count restarts
        clock.call_later(1, more)

    def more(_timer: object) -> None:
        for _ in range(100):  # bounded: without the count, the run ends and the test fails
            clock.instant_work()

    clock.call_later(1, work)
    with pytest.raises(SimulationStateError) as raised:
        clock.run(until=5)
    message = str(raised.value)
    assert "50 attempts of zero service time at t = 2 s" in message
    assert message.endswith("; hint at 2")


def test_step_names_read_processes_timers_and_partials():
    import functools

    clock = Clock()

    def loop():
        yield clock.timeout(1)

    process = clock.process(loop())
    assert step_name(process._resume) == (
        "test_step_names_read_processes_timers_and_partials.<locals>.loop"
    )
    assert step_name(functools.partial(Clock.run, clock)) == "Clock.run"
    assert step_name(len) == "len"
