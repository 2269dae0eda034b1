"""When a received message becomes visible again: an SQS-like queue's visibility timers.

A received message stays invisible for the queue's visibility timeout (or a duration of
its own: ReceiveMessage's VisibilityTimeout, ChangeMessageVisibility) and reappears
unless it was deleted first. :class:`VisibilityClock` keeps those timers for one queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from evsim.brokers.message import IN_FLIGHT, Message

if TYPE_CHECKING:
    from evsim.plain_engine import Engine


class VisibilityClock:
    """The visibility timers of one queue, on one SimPy timer at a time.

    With the queue's own timeout every deadline is later than the previous one, so a
    deque keeps them in order and one alarm waits for the earliest live one; timers of
    messages deleted meanwhile are dropped without waking anyone. Other durations
    (ChangeMessageVisibility) get a timer of their own. ``due(message, token)`` is called
    when a timer ends; it must check that ``token`` is still the message's.
    """

    def __init__(self, env: Engine, timeout: float, due: Callable[[Message, int], None]) -> None:
        self._env = env
        self._timeout = timeout
        self._due = due
        self._line: deque[tuple[float, int, Message]] = deque()
        self._alarm_at: float | None = None

    def start(self, message: Message, now: float, seconds: float | None = None) -> None:
        """Hide ``message`` for ``seconds`` (the queue's timeout if None) from ``now`` (the
        current time, which the caller has at hand)."""
        token = message._token = message._token + 1
        if seconds is not None and seconds != self._timeout:

            def due(_timer: object) -> None:
                self._due(message, token)

            self._env.call_later(seconds, due)
            return
        self._line.append((now + self._timeout, token, message))
        if self._alarm_at is None:
            self._arm()

    def _arm(self) -> None:
        line = self._line
        while line:
            deadline, token, message = line[0]
            if message._state == IN_FLIGHT and message._token == token:
                self._alarm_at = deadline
                self._env.call_later(max(0.0, deadline - self._env.now), self._ring)
                return
            line.popleft()  # deleted, or its timer was replaced
        self._alarm_at = None

    def _ring(self, _event: object) -> None:
        line, alarm_at = self._line, self._alarm_at
        assert alarm_at is not None  # the alarm that rang
        while line and line[0][0] <= alarm_at:
            _, token, message = line.popleft()
            self._due(message, token)
        self._arm()
