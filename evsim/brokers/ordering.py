"""The order in which an SQS-like queue hands out its visible messages.

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
from heapq import nsmallest
from itertools import islice

from evsim.brokers.message import Message

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

    def front(self, n: int) -> list[Message]:
        """The first ``n`` visible messages (fewer if there are fewer), left in place."""
        return list(islice(self._line, n))

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

    def front(self, n: int) -> list[Message]:
        """The ``n`` visible messages sent first, over all groups, left in place."""
        return nsmallest(n, self, key=lambda m: m._seq)

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
