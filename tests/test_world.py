"""The shared clock: call_later takes the place in SimPy's schedule a timeout would."""

from __future__ import annotations

from evsim.world import Clock


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
