r"""The codes records store instead of strings: outcomes, statuses and interned names.

The hot path writes small integers; a table turns them back into names when it is read.
:class:`Outcome` and :class:`Status` are ``IntEnum``\ s so the checker sees them, and their
members are the ints the records hold (``Outcome.PROCESSED == 0``): a member is written,
packed and compared as fast as a plain int. Their names, lower-cased, are the strings of the
``outcome`` and ``status`` columns (design.md).
"""

from __future__ import annotations

from collections import defaultdict
from enum import IntEnum


class Outcome(IntEnum):
    """How an event ended in a consumer group (``result.deliveries.outcome``)."""

    PROCESSED = 0
    DEAD_LETTERED = 1
    EXPIRED = 2
    LOST = 3
    PENDING = 4  # not finished when the run stopped


class Status(IntEnum):
    """How one processing attempt ended (``result.attempts.status``)."""

    OK = 0
    ERROR = 1
    CRASHED = 2
    DUPLICATE = 3  # skipped by an idempotent consumer


class CallStatus(IntEnum):
    """How a request or one call attempt ended (``result.requests.outcome``,
    ``result.calls.status``)."""

    OK = 0  # the callee answered with success
    ERROR = 1  # the callee answered with a failure (HTTP 5xx), or failed while working
    TIMEOUT = 2  # the caller stopped waiting (its timeout); the callee may still work on
    REJECTED = 3  # refused at once: the callee is down, its queue is full, or it sheds
    SHORT_CIRCUITED = 4  # not sent: the caller's circuit breaker is open
    PENDING = 5  # still in flight when the run stopped


OUTCOMES = tuple(o.name.lower() for o in Outcome)
PROCESSED, DEAD_LETTERED, EXPIRED, LOST, PENDING = Outcome
STATUSES = tuple(s.name.lower() for s in Status)
OK, ERROR, CRASHED, DUPLICATE = Status

CALL_STATUSES = tuple(s.name.lower() for s in CallStatus)

NOT_YET = -1  # partition/offset of an event still travelling to its broker
NAN = float("nan")


class Interner:
    """Maps names to small integer codes and back."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, name: str) -> int:
        """The code of ``name``, assigned on first use."""
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self.names)
            self.names.append(name)
        return code


class PeakLag:
    """Each group's largest total lag (records, summed over its partitions) at one sample."""

    def __init__(self) -> None:
        self.peak_lag: dict[int, float] = defaultdict(float)

    def group_lag(self, group: int, total: float) -> None:
        """A sample of a group's total lag."""
        self.peak_lag[group] = max(self.peak_lag[group], total)
