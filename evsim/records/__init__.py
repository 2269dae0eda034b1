"""Layer 2, the records: columnar, append-only logs of what happened in a run.

Two recorders write the same calls: :mod:`evsim.records.full` keeps a row per event,
attempt, outcome and gauge sample; :mod:`evsim.records.summary` keeps aggregates only, in
memory that does not grow with the run. :class:`Records` chooses one (the factory above
both); components write through the :class:`Recorder` protocol and never ask which.
"""

from __future__ import annotations

from array import array
from typing import Any, Protocol

from evsim.records import full, summary
from evsim.records.codes import (
    CRASHED,
    DEAD_LETTERED,
    DUPLICATE,
    ERROR,
    EXPIRED,
    LOST,
    NAN,
    NOT_YET,
    OK,
    OUTCOMES,
    PENDING,
    PROCESSED,
    STATUSES,
    Interner,
    Outcome,
    Status,
)

__all__ = [
    "CRASHED", "DEAD_LETTERED", "DUPLICATE", "ERROR", "EXPIRED", "LOST", "NAN", "NOT_YET",
    "OK", "OUTCOMES", "PENDING", "PROCESSED", "RECORD_MODES", "STATUSES", "Interner",
    "Outcome", "Recorder", "Records", "Status",
]  # fmt: skip

RECORD_MODES = ("full", "summary")


class Recorder(Protocol):
    """What components write through: one name interner and four logs.

    ``events.add(...)`` returns a new event's id; ``attempts.add``, ``outcomes.add`` and
    ``gauges.add`` append a row (full) or count it (summary). See :mod:`evsim.records.full`
    for the arguments.
    """

    names: Interner
    full: bool
    events: Any
    attempts: Any
    outcomes: Any
    gauges: Any

    def routed_log(self) -> Any: ...


class Records:
    """All the logs of one run, sharing one name interner.

    ``record="full"`` keeps a row per event, attempt, outcome and gauge sample;
    ``record="summary"`` keeps aggregates only (:mod:`evsim.records.summary`).
    """

    def __init__(self, record: str = "full") -> None:
        self.names = Interner()
        self.full = record == "full"
        if self.full:
            self.events: Any = full.EventLog(self.names)
            self.attempts: Any = full.AttemptLog()
            self.outcomes: Any = full.OutcomeLog()
            self.gauges: Any = full.GaugeLog()
        else:
            self.events = summary.SparseEventLog(self.names)
            self.attempts = summary.AttemptTally()
            self.outcomes = summary.OutcomeTally()
            self.gauges = summary.GaugeTally()

    def routed_log(self) -> Any:
        """Where a group notes the events routed to it: their ids, or just a count."""
        return array("q") if self.full else summary.Counter()
