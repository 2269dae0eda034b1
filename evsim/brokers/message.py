"""A message stored in an SQS-like queue, and the states it passes through.

A :class:`Message` is one copy of an event stored in a queue (SQS's message: a
``MessageId``, the ``SentTimestamp`` retention counts from, ``ApproximateReceiveCount``,
a receipt handle per receive). The queue keeps one internal object per stored message;
``receive`` hands out snapshots, so a caller holding an old receipt can be told it is
stale; a consumer group takes the stored objects (:meth:`Queue.poll` and
:meth:`Queue.wait`) and notes the receipt each came with.

A stored message is ``DELAYED`` (in its DelaySeconds), ``VISIBLE`` (a receive may take
it), ``IN_FLIGHT`` (received, hidden until its visibility timeout ends) or ``GONE``
(deleted, expired, or moved to the dead-letter queue).
"""

from __future__ import annotations

DELAYED, VISIBLE, IN_FLIGHT, GONE = range(4)


class Message:
    """One message in a queue (times in simulation seconds).

    ``enqueued_at`` is the original enqueue time (SQS ``SentTimestamp``): retention counts
    from it, also after a move to a standard dead-letter queue. ``receive_count`` is SQS's
    ``ApproximateReceiveCount`` (counted across queues); ``receipt`` changes on every
    receive (the receipt handle); ``group_id`` and ``dedup_id`` are a FIFO message's
    ``MessageGroupId`` and ``MessageDeduplicationId``.
    """

    __slots__ = (
        "_seq",
        "_state",
        "_token",
        "dedup_id",
        "enqueued_at",
        "event_id",
        "first_received_at",
        "group_id",
        "message_id",
        "receipt",
        "receive_count",
    )

    def __init__(
        self,
        message_id: int,
        event_id: int,
        enqueued_at: float,
        group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> None:
        self.message_id = message_id
        self.event_id = event_id
        self.enqueued_at = enqueued_at
        self.receive_count = 0
        self.group_id = group_id
        self.dedup_id = dedup_id
        self.receipt: int | None = None
        self.first_received_at: float | None = None
        self._seq = 0  # position in its queue (FIFO order within a group)
        self._state = DELAYED
        self._token = 0  # identifies the current visibility timer

    def snapshot(self) -> Message:
        """A copy of the public fields, as a receive or a listing hands it out."""
        copy = Message(
            self.message_id, self.event_id, self.enqueued_at, self.group_id, self.dedup_id
        )
        copy.receive_count = self.receive_count
        copy.receipt = self.receipt
        copy.first_received_at = self.first_received_at
        copy._state = self._state
        return copy

    def __repr__(self) -> str:
        group = "" if self.group_id is None else f", group_id={self.group_id!r}"
        return (
            f"Message(message_id={self.message_id}, event_id={self.event_id}, "
            f"enqueued_at={self.enqueued_at}, receive_count={self.receive_count}{group})"
        )
