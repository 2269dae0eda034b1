"""The builder methods document every parameter, with units and the real system's default."""

from __future__ import annotations

import inspect

import pytest

import evsim as ev

# each method, and facts its docstring must state (units, the real system's defaults)
FACTS = {
    "topic": ["seconds", "num.partitions", "retention.ms", "604800 s", "acks=all", "linger.ms"],
    "queue": [
        "seconds", "VisibilityTimeout, 0-43200, default 30", "default 345600",
        "maxReceiveCount 1-1000", "DelaySeconds, 0-900, default 0",
        "ReceiveMessageWaitTimeSeconds, 0-20", "MaxNumberOfMessages, 1-10, default 1",
    ],
    "producer": ["events per second", "murmur2", "batch.size", "MessageGroupId", "bytes"],
    "consumer_group": [
        "seconds", "``service_time=20`` is 20 s", "at-least-once", "at-most-once",
        "enable.auto.commit", "auto.commit.interval.ms``, default 5000 ms",
        "session.timeout.ms``, default 45 s since Kafka 3.0",
        "auto.offset.reset=latest", "[RangeAssignor, CooperativeStickyAssignor]",
        "FixedBackOff(0, 9)", "@RetryableTopic", "DeadLetterPublishingRecoverer",
        "min(consumers x concurrency, partitions)",
    ],
}  # fmt: skip


@pytest.mark.parametrize("method", list(FACTS))
def test_every_parameter_is_documented(method):
    function = getattr(ev.Simulation, method)
    doc = inspect.getdoc(function)
    missing = [
        name for name in inspect.signature(function).parameters
        if name != "self" and f"``{name}``" not in doc
    ]  # fmt: skip
    assert not missing, f"{method}: undocumented {missing}"
    absent = [fact for fact in FACTS[method] if fact not in " ".join(doc.split())]
    assert not absent, f"{method}: does not state {absent}"
