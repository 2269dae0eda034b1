"""An idempotent consumer's store of processed event ids, with an optional time window.

Rules modelled: an idempotent consumer records each event id it has processed (a table
with a unique key, a Redis set with a TTL) and skips an id it finds there. With a window
(``idempotency_window`` seconds, a TTL) an id is forgotten that long after it was
processed, so a duplicate arriving later is applied again; without one the store keeps
every id for the whole run. Expired ids are dropped as time goes on, so a windowed store
holds only the ids of its window.
"""

from __future__ import annotations


class IdempotencyStore:
    """Processed event ids and when each was processed (seconds)."""

    __slots__ = ("_processed", "window")

    def __init__(self, window: float | None = None) -> None:
        self.window = window
        self._processed: dict[int, float] = {}  # oldest first: every write moves an id last

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

    def __len__(self) -> int:
        return len(self._processed)
