"""A delivery: one event handed to one consumer, and how its handling ended.

Feeds (partitions or a queue) hand deliveries to consumers; a consumer runs the attempts
and reports one of the endings below; the feed then commits, deletes, forwards to a retry
topic or dead-letters, and the group records the event's outcome once.
"""

from __future__ import annotations

from typing import Any

# how the attempts on one delivery ended
HANDLED = 0  # an attempt succeeded (the effect was applied)
SKIPPED = 1  # an idempotent consumer had already processed the event
FAILED = 2  # no attempt left, or the error is not retried
RETRY_LATER = 3  # failed; to be retried later from a retry topic (non-blocking retries)


class Delivery:
    """One event in the hands of a consumer.

    ``event_id`` is the event whose outcome is at stake; ``record_id`` the record actually
    read (a copy in a retry topic, or the event itself). ``attempts`` counts the event's
    attempts: those made before this delivery when it is handed out, then each attempt of
    this one as it starts; ``first_attempt_at`` is the first one's start (NaN if none).
    ``settles`` is False for a record delivered again after its outcome was recorded (a
    re-delivery after a crash): it is processed, but decides nothing. ``handle`` is the
    feed's own reference (partition and offset, or a queue message); None for one built
    only to settle an event no consumer was handed (a queue's expiry or dead-lettering).
    """

    __slots__ = (
        "attempts",
        "error",
        "event_id",
        "first_attempt_at",
        "handle",
        "record_id",
        "settles",
        "stage",
    )

    def __init__(
        self,
        event_id: int,
        record_id: int,
        handle: Any,
        attempts: int = 0,
        first_attempt_at: float = float("nan"),
        settles: bool = True,
        stage: int = 0,
    ) -> None:
        self.event_id = event_id
        self.record_id = record_id
        self.handle = handle
        self.attempts = attempts
        self.first_attempt_at = first_attempt_at
        self.settles = settles
        self.stage = stage  # 0 from the source, n from the n-th retry topic
        self.error: str | None = None  # the last error, once an attempt failed
