"""Amazon SQS's documented limits, checked with errors that name the argument.

=============================  ===========================  ==========================
evsim argument                 SQS name                     valid values (SQS)
=============================  ===========================  ==========================
``visibility_timeout``         VisibilityTimeout            0–43200 s (12 h), default 30
``retention``                  MessageRetentionPeriod       60–1209600 s (14 days),
                                                            default 345600 (4 days)
``delay``                      DelaySeconds                 0–900 s (15 min), default 0
``wait_time``                  ReceiveMessageWaitTimeSeconds 0–20 s
``receive_batch``              MaxNumberOfMessages          1–10, default 1
``max_receive_count``          RedrivePolicy.maxReceiveCount 1–1000
``name``                       QueueName                    1–80 of ``[A-Za-z0-9_-]``;
                                                            FIFO names end in ``.fifo``
=============================  ===========================  ==========================

A RedrivePolicy names both the dead-letter queue and ``maxReceiveCount``; the DLQ of a
FIFO queue is FIFO and that of a standard queue is standard. FIFO queues drop a message
whose deduplication id was accepted less than 5 minutes before (:class:`Deduplicator`).

SendMessage's own parameters travel as message attributes of the event:

* ``MessageDeduplicationId`` (FIFO queues and SNS FIFO topics): without it, and without
  ``ContentBasedDeduplication``, the send is refused (SQS and SNS: InvalidParameterValue;
  :func:`require_dedup_id`).
* ``DelaySeconds`` (0–900): a standard queue's message stays invisible that long instead of
  the queue's ``delay``; a FIFO queue takes no per-message delay (SQS refuses a non-zero
  one; 0 is accepted and the queue's delay applies; :func:`message_delay`). SNS has no
  such parameter: a copy a fanout delivers gets its queue's delay.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from evsim import _check
from evsim.errors import ConfigError, ConfigTypeError, EvsimError, SendRefusedError

DEFAULT_VISIBILITY_TIMEOUT = 30.0  # SQS VisibilityTimeout default
DEFAULT_RETENTION = 345600.0  # SQS MessageRetentionPeriod default, 4 days
DEFAULT_WAIT_TIME = 20.0  # the longest long poll (SQS's own default is 0: short polling)
DEDUPLICATION_INTERVAL = 300.0  # SQS FIFO deduplication interval, 5 minutes
DEDUP_ID = "MessageDeduplicationId"  # the attribute carrying SendMessage's parameter
DELAY_SECONDS = "DelaySeconds"  # likewise: a standard queue's per-message delay
MAX_DELAY = 900  # SQS DelaySeconds: 0-900 s (15 minutes)
_NAME = re.compile(r"[A-Za-z0-9_-]+(\.fifo)?")


class _QueueLike(Protocol):
    name: str
    fifo: bool


QueueT = TypeVar("QueueT", bound=_QueueLike)


def seconds(argument: str, value: Any, low: int, high: int) -> float:
    """A number of seconds within SQS's range ``[low, high]``."""
    result = _check.number(argument, value)
    if not low <= result <= high:
        raise ConfigError(
            f"{argument}: must be between {low} and {high} seconds (SQS), got {value!r}"
        )
    return result


def batch(argument: str, value: Any) -> int:
    """SQS MaxNumberOfMessages: a whole number from 1 to 10."""
    count = _check.integer(argument, value)
    if not 1 <= count <= 10:
        raise ConfigError(f"{argument}: must be between 1 and 10 messages (SQS), got {count!r}")
    return count


def queue_name(name: Any, fifo: bool) -> str:
    """SQS names: 1–80 letters, digits, '-' or '_'; a FIFO queue's ends in '.fifo'."""
    _check.name("name", name)
    if len(name) > 80 or not _NAME.fullmatch(name):
        raise ConfigError(
            "name: an SQS queue name has 1 to 80 letters, digits, hyphens or underscores "
            f"(plus '.fifo' for a FIFO queue), got {name!r}"
        )
    return fifo_suffix(name, fifo, "queue", "SQS")


def fifo_suffix(name: str, fifo: bool, kind: str, service: str) -> str:
    """AWS's naming rule for FIFO queues (SQS) and topics (SNS): a FIFO one's name ends in
    '.fifo', which a standard one's may not."""
    if fifo and not name.endswith(".fifo"):
        raise ConfigError(
            f"name: a FIFO {kind}'s name must end in '.fifo' ({service}), got {name!r}"
        )
    if not fifo and name.endswith(".fifo"):
        raise ConfigError(
            f"name: {name!r} ends in '.fifo', which {service} reserves for FIFO {kind}s; "
            "set fifo=True or choose another name"
        )
    return name


def redrive(
    source: _QueueLike, dead_letter: Any, max_receive_count: Any, queue_type: type[QueueT]
) -> tuple[QueueT | None, int | None]:
    """Check a RedrivePolicy: both parts or neither, matching queue types, 1–1000."""
    if dead_letter is None and max_receive_count is None:
        return None, None
    if dead_letter is None:
        raise ConfigError(
            "dead_letter: max_receive_count needs a dead-letter queue "
            "(an SQS RedrivePolicy has both); give dead_letter="
        )
    if max_receive_count is None:
        raise ConfigError(
            "max_receive_count: a dead-letter queue needs max_receive_count "
            "(an SQS RedrivePolicy has both), e.g. max_receive_count=5"
        )
    if not isinstance(dead_letter, queue_type):
        kind, name = getattr(dead_letter, "kind", None), getattr(dead_letter, "name", None)
        what = f"the {kind} {name!r}" if kind and name else repr(dead_letter)
        raise ConfigTypeError(f"dead_letter: expected a queue, got {what}")
    if dead_letter.name == source.name:
        raise ConfigError(f"dead_letter: queue {source.name!r} cannot be its own DLQ")
    if dead_letter.fifo != source.fifo:
        kind = "FIFO" if source.fifo else "standard"
        raise ConfigError(
            f"dead_letter: a {kind} queue's dead-letter queue must also be {kind} (SQS), "
            f"got {dead_letter.name!r}"
        )
    return dead_letter, max_receives(max_receive_count)


def max_receives(value: Any) -> int:
    """RedrivePolicy maxReceiveCount: a whole number from 1 to 1000."""
    count = _check.integer("max_receive_count", value)
    if not 1 <= count <= 1000:
        raise ConfigError(f"max_receive_count: must be between 1 and 1000 (SQS), got {count!r}")
    return count


def message_delay(queue: str, fifo: bool, value: Any) -> float | None:
    """A send's ``DelaySeconds`` (the attribute's ``value``, 0–900 s), or None if it gives
    none.

    A FIFO queue refuses a non-zero one (SQS sets a FIFO queue's delay per queue only);
    for it 0 is returned as None: the queue's delay applies.
    """
    if value is None:
        return None
    argument = f"attributes.{DELAY_SECONDS}"
    try:
        delay = seconds(argument, value, 0, MAX_DELAY)
    except EvsimError as err:  # the same error, saying which queue refused it
        raise type(err)(f"{err} (a send to queue {queue!r})") from None
    if not fifo:
        return delay
    if delay > 0:
        raise SendRefusedError(
            f"{argument}: queue {queue!r} is a FIFO queue, which takes no per-message delay "
            "(SQS refuses the send: InvalidParameterValue); give the queue delay= instead, "
            "or leave the attribute out"
        )
    return None


def require_dedup_id(
    kind: str, name: str, attributes: Mapping[str, Any] | None, content_based: bool
) -> None:
    """Refuse a FIFO send (``kind`` "queue" or "fanout") without a deduplication id: SQS and
    SNS need ``MessageDeduplicationId`` unless ``ContentBasedDeduplication`` is on."""
    if content_based or (attributes and attributes.get(DEDUP_ID) is not None):
        return
    service = "SNS refuses the publish" if kind == "fanout" else "SQS refuses the send"
    raise SendRefusedError(
        f"{kind} {name!r}: a FIFO {kind} without content-based deduplication needs a "
        f"{DEDUP_ID} on every message ({service}: InvalidParameterValue); create the {kind} "
        f"with content_based_deduplication=True, or give the sender attributes with a "
        f"{DEDUP_ID!r} (a producer's attributes may be a function of the event index, e.g. "
        f"lambda i: {{{DEDUP_ID!r}: str(i)}})"
    )


class _FifoTarget(Protocol):
    kind: str
    name: str
    content_based_deduplication: bool

    def check_sender(self, attributes: Mapping[str, Any] | None, keyed: bool = True) -> None:
        """Refuse a sender SQS or SNS would refuse."""


def fifo_send(target: _FifoTarget, events: Any, event_id: int, key: str | None) -> str | None:
    """The deduplication id of a send of ``event_id`` to a FIFO queue or topic, once the
    checks SQS and SNS make of it pass: a message group (the key), a deduplication id,
    no per-message delay (a queue's :meth:`check_sender`)."""
    attributes = events.attributes[event_id]
    require_group(target.kind, target.name, key)
    target.check_sender(attributes)
    content_based = target.content_based_deduplication
    return dedup_id(attributes, events.payload[event_id], content_based)


def require_group(kind: str, name: str, key: str | None) -> None:
    """Refuse a FIFO send without a key: the key is the message group id (MessageGroupId)."""
    if key is None:
        raise SendRefusedError(
            f"{kind} {name!r}: a FIFO {kind} needs a key on every event (the key is the "
            "message group id, MessageGroupId); give the producer keys="
        )


def dedup_id(attributes: Mapping[str, Any] | None, payload: Any, content_based: bool) -> str | None:
    """A FIFO message's deduplication id: the ``MessageDeduplicationId`` attribute if
    given, else (ContentBasedDeduplication) a SHA-256 of the body (here the payload's
    repr; SQS and SNS leave the attributes out of the hash), else none."""
    if attributes and attributes.get(DEDUP_ID) is not None:
        return str(attributes[DEDUP_ID])
    if content_based:
        return hashlib.sha256(repr(payload).encode("utf-8")).hexdigest()
    return None


class Deduplicator:
    """SQS FIFO deduplication: an id accepted less than 5 minutes ago is a duplicate.

    The interval counts from the first accepted send of the id; SQS keeps tracking the
    id after the message is received and deleted.
    """

    def __init__(self, interval: float = DEDUPLICATION_INTERVAL) -> None:
        self.interval = interval
        self._seen: dict[str, float] = {}
        self._times: deque[tuple[float, str]] = deque()

    def duplicate(self, dedup_id: str, now: float) -> bool:
        """True if ``dedup_id`` is a duplicate at ``now``; otherwise remember it."""
        seen, times = self._seen, self._times
        while times and now - times[0][0] >= self.interval:
            time, old = times.popleft()
            if seen.get(old) == time:
                del seen[old]
        if dedup_id in seen:
            return True
        seen[dedup_id] = now
        times.append((now, dedup_id))
        return False


class GroupOrder:
    """Keeps each message group's deliveries in order over a random latency.

    SNS FIFO topics deliver a group's messages to a subscribed queue in the order they were
    published: a delivery is due no earlier than the group's previous one. Equal times keep
    their order when both go through SimPy's schedule (first come, first served), so a
    delivery behind one still due is scheduled even with no wait left.
    """

    _PRUNE_AT = 4096  # groups remembered before those delivered already are forgotten

    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._prune_at = self._PRUNE_AT

    def schedule(self, group: str, now: float, wait: float) -> tuple[float, bool]:
        """(the wait in seconds, at least ``wait``, that keeps ``group`` in order; whether
        the delivery must be scheduled, not made at once, even if that wait is 0)."""
        due = self._due
        if len(due) >= self._prune_at:  # amortised: the limit doubles with the live groups
            self._due = due = {g: t for g, t in due.items() if t >= now}
            self._prune_at = max(self._PRUNE_AT, 2 * len(due))
        previous = due.get(group, -1.0)
        when = max(now + wait, previous)
        due[group] = when
        return when - now, previous >= now
