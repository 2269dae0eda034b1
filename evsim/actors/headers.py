"""The attributes a consumer group adds to the copies it publishes: retry and dead letters.

Spring for Apache Kafka's ``DeadLetterPublishingRecoverer`` and ``@RetryableTopic`` add
``kafka_dlt-*`` headers to a dead-letter record (the exception, the original topic,
partition and offset) and retry headers to a retry-topic record; evsim writes the same
facts as attributes of the copy, under the names below. A redrive strips them again, so
a replayed event carries the attributes its producer gave it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DLQ_REASON = "dlq_reason"  # "retries exhausted" or "not retryable"
ATTEMPTS = "attempts"  # attempts made before dead-lettering
LAST_ERROR = "last_error"  # "Type: message" of the last failed attempt
ORIGINAL_TOPIC = "original_topic"  # kafka_dlt-original-topic
ORIGINAL_PARTITION = "original_partition"  # kafka_dlt-original-partition
ORIGINAL_OFFSET = "original_offset"  # kafka_dlt-original-offset
ORIGINAL_QUEUE = "original_queue"  # the SQS queue a group's DLQ copy came from
RETRY_TOPIC_ATTEMPTS = "retry_topic_attempts"  # attempts made when forwarded to a retry topic

ORIGINAL_PLACE = (ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET)
ADDED = frozenset(
    (DLQ_REASON, ATTEMPTS, LAST_ERROR, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET,
     ORIGINAL_QUEUE, RETRY_TOPIC_ATTEMPTS)
)  # fmt: skip


def without_added(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``attributes`` without the ones a group adds to its copies (None if none are left)."""
    if not attributes:
        return None
    kept = {name: value for name, value in attributes.items() if name not in ADDED}
    return kept or None


def original_place(events: Any, record: int, topic: str, copy: bool) -> dict[str, Any]:
    """Where record ``record`` of ``topic`` was first appended, as the original-topic,
    -partition and -offset attributes: its own place, or, for a ``copy`` (in a retry
    topic), the place it carries."""
    if copy:
        carried = events.attributes[record]
        return {name: carried[name] for name in ORIGINAL_PLACE}
    return {
        ORIGINAL_TOPIC: topic,
        ORIGINAL_PARTITION: events.partition[record],
        ORIGINAL_OFFSET: events.offset[record],
    }
