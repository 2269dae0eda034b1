"""An idempotent consumer's store of processed event ids, with an optional time window.

Rules modelled: an idempotent consumer records each event id it has processed (a table
with a unique key, a Redis set with a TTL) and skips an id it finds there. With a window
(``idempotency_window`` seconds, a TTL) an id is forgotten that long after it was
processed, so a duplicate arriving later is applied again; without one the store keeps
every id for the whole run. Expired ids are dropped as time goes on, so a windowed store
holds only the ids of its window.

While a worker processes an event it holds a lock on its id (:meth:`claim`), as a unique
key in the consumer's database would: a second delivery of the same event (a queue
message that reappeared, a record read again after a rebalance) waits for the first
attempt to end, then finds the id processed and skips it.
"""

from __future__ import annotations

import simpy


class IdempotencyStore:
    """Processed event ids and when each was processed (seconds)."""

    __slots__ = ("_claims", "_processed", "window")

    def __init__(self, window: float | None = None) -> None:
        self.window = window
        self._processed: dict[int, float] = {}  # oldest first: every write moves an id last
        self._claims: dict[int, simpy.Event] = {}  # ids being processed → released when done

    def seen(self, event_id: int, now: float) -> bool:
        """Whether ``event_id`` was processed within the window before ``now``."""
        when = self._processed.get(event_id)
        return when is not None and (self.window is None or now - when <= self.window)

    def remember(self, event_id: int, now: float) -> None:
        """Note that ``event_id`` was processed at ``now``; forget ids past the window."""
        processed = self._processed
        processed.pop(event_id, None)
        processed[event_id] = now
        if self.window is not None:
            horizon = now - self.window
            while True:
                oldest = next(iter(processed))  # never empty: event_id was just written
                if processed[oldest] >= horizon:
                    break
                del processed[oldest]

    def claim(self, event_id: int, env: simpy.Environment) -> simpy.Event | None:
        """Lock ``event_id`` for one attempt; if another worker holds it, the event that
        fires when it lets go (wait for it, then claim again)."""
        held = self._claims.get(event_id)
        if held is None:
            self._claims[event_id] = env.event()
        return held

    def unclaim(self, event_id: int) -> None:
        """Release the lock on ``event_id`` (the attempt ended, or its consumer crashed)."""
        held = self._claims.pop(event_id, None)
        if held is not None:
            held.succeed()

    def __len__(self) -> int:
        return len(self._processed)
