"""Events: immutable records of something that happened.

An event carries a unique id, a type (``OrderCreated``), an optional key (which decides its
partition), a payload, attributes (at least ``eventType``, the field SNS filter policies
match on), a schema version and the time it was published. Events are stored column-wise
in :class:`evsim.records.full.EventLog`; an :class:`Event` object is built only when a handler
asks for one, so runs without handlers never pay for per-event objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One published event, as a handler sees it (read-only).

    Times are simulation seconds. ``partition`` and ``offset`` are those of the log the
    event was appended to (Kafka's coordinates); ``cause_id`` is the id of the event whose
    handler published this one (``None`` for events from a producer); ``original_id`` the
    event this one copies into a retry topic or dead-letter queue.
    """

    event_id: int
    event_type: str
    key: str | None
    payload: Any
    producer: str
    target: str
    published_at: float
    schema_version: int = 1
    partition: int | None = None
    offset: int | None = None
    cause_id: int | None = None
    original_id: int | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        merged = {"eventType": self.event_type, **dict(self.attributes)}
        object.__setattr__(self, "attributes", MappingProxyType(merged))
