"""A delivery: one event handed to one consumer, and how its handling ended.

Feeds (partitions or a queue) hand deliveries to consumers; a consumer runs the attempts
and reports one of the endings below; the feed then commits, deletes, forwards to a retry
topic or dead-letters, and the group records the event's outcome once. The three parties
know each other only through the protocols of :mod:`evsim.actors.roles`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:  # a type only: brokers sit below actors
    from evsim.brokers.message import Message


class Ending(IntEnum):
    """How the attempts on one delivery ended."""

    HANDLED = 0  # an attempt succeeded (the effect was applied)
    SKIPPED = 1  # an idempotent consumer had already processed the event
    FAILED = 2  # no attempt left, or the error is not retried
    RETRY_LATER = 3  # failed; to be retried later from a retry topic (non-blocking retries)


HANDLED, SKIPPED, FAILED, RETRY_LATER = Ending


class PartitionPlace(NamedTuple):
    """A topic feed's handle on a record: the feed's partition index and the offset."""

    tp: int
    offset: int


class QueueReceipt(NamedTuple):
    """A queue feed's handle on a message: the message and the receipt it came with
    (SQS's ReceiptHandle: a delete with an older one fails)."""

    message: Message
    receipt: int | None


NAN = float("nan")

Failure = tuple[tuple[str, ...], str | None]
"""How an attempt went wrong: the error's type names (its class and base classes, which
``Retry(retry_on=...)`` matches) and its text ``"Type: message"``; :data:`NO_FAILURE` when
it did not."""
NO_FAILURE: Failure = ((), None)


def failure(error_type: type[BaseException], message: str) -> Failure:
    """The :data:`Failure` of an ``error_type`` error with ``message``.

    Its type names run from the class to its bases, so ``retry_on=["ValueError"]``
    retries a ``json.JSONDecodeError`` too, as Spring's classifier retries subclasses.
    """
    names = tuple(cls.__name__ for cls in error_type.__mro__ if cls is not object)
    return names, f"{error_type.__name__}: {message}"


class Tally:
    """An event's processing attempts in one consumer group, shared by every delivery of it.

    A record delivered again after a crash, or a queue message that reappears while a
    consumer still works on it, is one more delivery of the same event: all of them count
    into one tally until the event's outcome is recorded. ``attempts`` numbers the
    attempts as they begin (every attempt row has its own number, from 1), and
    ``first_attempt_at`` is the first one's start (NaN before it); ``published_at`` is
    when the event was published (seconds), kept here so its outcome can be measured once
    its record is gone (summary mode forgets what no broker holds). The outcome takes the
    count as it stands (the attempts begun before it was decided), kept in ``counted``
    (-1 while undecided); a delivery after that (a record read again after a crash before
    its commit) numbers on.
    """

    __slots__ = ("attempts", "counted", "first_attempt_at", "published_at")

    def __init__(self, published_at: float) -> None:
        self.published_at = published_at
        self.attempts = 0
        self.first_attempt_at = NAN
        self.counted = -1

    def begin(self, now: float) -> int:
        """Number the attempt that starts ``now`` (seconds): 1 for the first."""
        attempts = self.attempts = self.attempts + 1
        if attempts == 1:
            self.first_attempt_at = now
        return attempts


Handle = TypeVar("Handle", covariant=True)
"""The type of a delivery's handle: what the feed that made it needs to find it again."""


class Delivery(Generic[Handle]):
    """One event in the hands of a consumer.

    ``event_id`` is the event whose outcome is at stake; ``record_id`` the record actually
    read (a copy in a retry topic, or the event itself). ``tally`` counts the event's
    attempts in the group over all its deliveries (see :class:`Tally`). ``settles`` is
    False for a record delivered again after its outcome was decided or handed on (a
    re-delivery after a crash): it is processed, but decides nothing. ``handle`` is the
    feed's own reference (a :class:`PartitionPlace` or a :class:`QueueReceipt`); None for
    one built only to settle an event no consumer was handed (a queue's expiry or
    dead-lettering).
    """

    __slots__ = ("error", "event_id", "handle", "record_id", "settles", "stage", "tally")

    def __init__(
        self,
        event_id: int,
        record_id: int,
        handle: Handle,
        tally: Tally,
        settles: bool = True,
        stage: int = 0,
    ) -> None:
        self.event_id = event_id
        self.record_id = record_id
        self.handle = handle
        self.tally = tally
        self.settles = settles
        self.stage = stage  # 0 from the source, n from the n-th retry topic
        self.error: str | None = None  # the last error, once an attempt failed

    @property
    def attempts(self) -> int:
        """The event's attempts begun so far (over all its deliveries)."""
        return self.tally.attempts
