"""Queue messages and the order in which an SQS-like queue hands them out.

A :class:`Message` is one copy of an event stored in a queue (SQS's message: a
``MessageId``, the ``SentTimestamp`` retention counts from, ``ApproximateReceiveCount``,
a receipt handle per receive). The queue keeps one internal object per stored message;
``receive`` hands out snapshots, so a caller holding an old receipt can be told it is
stale; a consumer group takes the stored objects (:meth:`Queue.poll` and
:meth:`Queue.wait`) and notes the receipt each came with.

Two stores order the visible messages:

* :class:`StandardOrder` (standard queue): one line, oldest visible first. SQS promises
  only best-effort ordering; a message that reappears after its visibility timeout goes
  to the back.
* :class:`FifoOrder` (FIFO queue): one line per message group (``MessageGroupId``). A
  group with a message in flight is held back; other groups proceed. A receive takes as
  many messages of one group as it can before moving to the next group (SQS's rule), and
  a message that reappears goes back to its place at the head of its group.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evsim.engine import Clock

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


Admit = Callable[[Message], bool]
"""Decides, as a message is taken, whether it is handed out (False: it left the queue)."""


class StandardOrder:
    """Visible messages of a standard queue, in one line.

    ``push(message)``: a message became visible (new, after its delay, or after its
    timeout); it joins the back, as does a ``returned`` one. ``takeable()`` is truthy when
    a receive would find a message now. The three are the line's own C methods: they run
    once or twice per message.
    """

    def __init__(self) -> None:
        self._line: deque[Message] = deque()
        self.push: Callable[[Message], None] = self._line.append
        self.returned = self.push
        self.takeable: Callable[[], int] = self._line.__len__

    def __len__(self) -> int:
        """How many messages are visible."""
        return len(self._line)

    def landed(self, message: Message) -> None:
        """A message in flight was deleted (nothing to release in a standard queue)."""

    def take(self, n: int, admit: Admit) -> list[Message]:
        """Up to ``n`` messages from the front; those ``admit`` refuses are dropped."""
        taken: list[Message] = []
        line = self._line
        while line:
            message = line.popleft()
            if admit(message):
                taken.append(message)
                if len(taken) == n:
                    break
        return taken

    def remove(self, message: Message) -> None:
        """Take a visible message out of the line."""
        self._line.remove(message)

    def discard(self, doomed: Callable[[Message], bool]) -> list[Message]:
        """Remove and return the visible messages ``doomed`` selects."""
        gone = [m for m in self._line if doomed(m)]
        if gone:
            kept = [m for m in self._line if not doomed(m)]
            self._line.clear()  # in place: push and takeable are bound to this deque
            self._line.extend(kept)
        return gone

    def clear(self) -> list[Message]:
        """Remove and return every visible message, front first."""
        messages = list(self._line)
        self._line.clear()
        return messages

    def __iter__(self) -> Iterator[Message]:
        return iter(self._line)


class FifoOrder:
    """Visible messages of a FIFO queue, one line per message group."""

    def __init__(self) -> None:
        self._groups: dict[str, deque[Message]] = {}
        self._flying: dict[str, int] = {}  # messages in flight per group
        self._ready: dict[str, None] = {}  # groups a receive may take from, in order

    def push(self, message: Message) -> None:
        """A new message became visible: it joins the back of its group."""
        group = message.group_id or ""
        self._groups.setdefault(group, deque()).append(message)
        self._refresh(group)

    def returned(self, message: Message) -> None:
        """A message in flight became visible again: back to its place in its group."""
        group = message.group_id or ""
        line = self._groups.setdefault(group, deque())
        index = 0
        while index < len(line) and line[index]._seq < message._seq:
            index += 1
        line.insert(index, message)
        self.landed(message)

    def landed(self, message: Message) -> None:
        """A message of the group is no longer in flight."""
        group = message.group_id or ""
        left = self._flying[group] - 1
        if left:
            self._flying[group] = left
        else:
            del self._flying[group]
        self._refresh(group)

    def take(self, n: int, admit: Admit) -> list[Message]:
        """Up to ``n`` messages, as many as possible from each free group in turn."""
        taken: list[Message] = []
        while self._ready and len(taken) < n:
            group = next(iter(self._ready))
            del self._ready[group]
            line = self._groups[group]
            while line and len(taken) < n:
                message = line.popleft()
                if admit(message):
                    taken.append(message)
                    self._flying[group] = self._flying.get(group, 0) + 1
            self._refresh(group)
        return taken

    def takeable(self) -> bool:
        """Whether a receive would find a message now."""
        return bool(self._ready)

    def __len__(self) -> int:
        """How many messages are visible."""
        return sum(map(len, self._groups.values()))

    def remove(self, message: Message) -> None:
        """Take a visible message out of its group."""
        group = message.group_id or ""
        self._groups[group].remove(message)
        self._refresh(group)

    def discard(self, doomed: Callable[[Message], bool]) -> list[Message]:
        """Remove and return the visible messages ``doomed`` selects."""
        gone: list[Message] = []
        for group, line in list(self._groups.items()):
            dropped = [m for m in line if doomed(m)]
            if dropped:
                gone.extend(dropped)
                self._groups[group] = deque(m for m in line if not doomed(m))
                self._refresh(group)
        return sorted(gone, key=lambda m: m._seq)

    def clear(self) -> list[Message]:
        """Remove and return every visible message, in queue order."""
        messages = sorted(self, key=lambda m: m._seq)
        for line in self._groups.values():
            line.clear()
        for group in list(self._groups):
            self._refresh(group)
        return messages

    def __iter__(self) -> Iterator[Message]:
        for line in self._groups.values():
            yield from line

    def _refresh(self, group: str) -> None:
        """Offer the group to receivers if it has messages and none in flight."""
        line = self._groups.get(group)
        if group in self._flying:
            self._ready.pop(group, None)
        elif line:
            self._ready.setdefault(group, None)
        else:
            self._ready.pop(group, None)
            self._groups.pop(group, None)


class VisibilityClock:
    """The visibility timers of one queue, on one SimPy timer at a time.

    With the queue's own timeout every deadline is later than the previous one, so a
    deque keeps them in order and one alarm waits for the earliest live one; timers of
    messages deleted meanwhile are dropped without waking anyone. Other durations
    (ChangeMessageVisibility) get a timer of their own. ``due(message, token)`` is called
    when a timer ends; it must check that ``token`` is still the message's.
    """

    def __init__(self, env: Clock, timeout: float, due: Callable[[Message, int], None]) -> None:
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
            self._env.call_later(seconds, lambda _timer, m=message, t=token: self._due(m, t))
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
        while line and line[0][0] <= alarm_at:
            _, token, message = line.popleft()
            self._due(message, token)
        self._arm()
