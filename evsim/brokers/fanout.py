"""SNS-like fan-out: one published event, one copy per matching queue subscription.

Rules modelled (Amazon SNS topics with Amazon SQS subscribers):

* Publishing costs the fanout's ``latency`` (seconds); then every subscription whose
  filter policy matches the message gets one copy (an SQS SendMessage to its queue, which
  gives the copy its own message id and its own delay). The message attributes are
  ``eventType`` (the event type) plus the event's own attributes; the body is the event's
  payload.
* A subscription without a filter policy receives every message. Filter policies follow
  SNS's rules (:mod:`evsim.brokers.filter_policy`), on the message attributes or, with
  ``filter_policy_scope="MessageBody"``, on the body.
* FIFO topics (``fifo=True``; SNS requires the name to end in ``.fifo``): every publish
  needs a message group (the event's key, SNS ``MessageGroupId``) and a deduplication id
  (the ``MessageDeduplicationId`` attribute or, with ``content_based_deduplication``, a
  SHA-256 of the body; without one SNS refuses the publish). A message whose id the topic
  accepted less than 5 minutes before is accepted but delivered to no one. Each
  subscribed queue gets a message group's messages in the order they were published,
  whatever the latency, and a FIFO queue gets the topic's deduplication id with each.
* A FIFO queue subscribes only to a FIFO topic (SNS: "FIFO SQS Queues can not be subscribed
  to standard SNS topics"); a FIFO topic delivers to FIFO and standard queues (a standard
  queue gives best-effort ordering and at-least-once delivery).

The copies are not new events: the event's row in ``result.events`` is the publish to
the fanout, and each queue's copy carries the same event id.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from evsim.brokers import sqs_rules as rules
from evsim.brokers.configs import FanoutConfig
from evsim.brokers.filter_policy import (
    MESSAGE_ATTRIBUTES,
    MESSAGE_BODY,
    Matcher,
    check_scope,
    compile_policy,
    validate_policy,
)
from evsim.brokers.queue import Queue
from evsim.brokers.world import World
from evsim.errors import ConfigError, ConfigTypeError


class Subscription:
    """A queue subscribed to a fanout, with an optional SNS filter policy and its scope."""

    __slots__ = ("delivered", "filter_policy", "filter_policy_scope", "matches", "on_body", "queue")

    def __init__(
        self,
        queue: Queue,
        filter_policy: dict[str, Any] | None,
        filter_policy_scope: str = MESSAGE_ATTRIBUTES,
    ) -> None:
        self.queue = queue
        self.filter_policy = filter_policy
        self.filter_policy_scope = filter_policy_scope
        self.on_body = filter_policy_scope == MESSAGE_BODY  # the policy reads the payload
        self.matches: Matcher | None = None
        if filter_policy is not None:
            self.matches = compile_policy(filter_policy, scope=filter_policy_scope)
        self.delivered = 0  # copies sent to the queue

    def spec(self) -> dict:
        """The arguments of :meth:`Fanout.subscribe` that rebuild it (the scope only when
        it is not the default)."""
        spec = {"queue": self.queue.name, "filter_policy": self.filter_policy}
        if self.on_body:
            spec["filter_policy_scope"] = self.filter_policy_scope
        return spec

    def __repr__(self) -> str:
        scope = f", filter_policy_scope={self.filter_policy_scope!r}" if self.on_body else ""
        return (
            f"Subscription(queue={self.queue.name!r}, filter_policy={self.filter_policy!r}{scope})"
        )


class Fanout:
    """An SNS-like topic delivering copies to subscribed queues (times in seconds).

    ``fifo`` [FifoTopic] and ``content_based_deduplication`` [ContentBasedDeduplication]
    make it an SNS FIFO topic, whose name must end in ``.fifo``.
    """

    kind = "fanout"

    def __init__(self, world: World, config: FanoutConfig) -> None:
        self.world = world
        self.config = config
        self.name, self.fifo = config.name, config.fifo
        self.latency = config.latency_distribution
        self.content_based_deduplication = config.content_based_deduplication
        self.code = world.records.names.code(config.name)
        self.subscriptions: list[Subscription] = []
        self.published = 0  # events that reached the fanout
        self.duplicates_dropped = 0  # FIFO publishes accepted but not delivered
        self._latency_sampler = world.sampler(self.latency, "fanout", self.name, "latency")
        # FIFO topics only (a standard one never consults them)
        self._deduplicator = rules.Deduplicator()
        self._group_order = rules.GroupOrder()

    def spec(self) -> dict:
        """The arguments that rebuild this fanout, subscriptions included."""
        return {
            "name": self.name,
            "latency": self.latency.spec(),
            "fifo": self.fifo,
            "content_based_deduplication": self.content_based_deduplication,
            "subscriptions": [s.spec() for s in self.subscriptions],
        }

    def subscribe(
        self,
        queue: Queue | str,
        filter_policy: Any = None,
        filter_policy_scope: str = MESSAGE_ATTRIBUTES,
    ) -> Subscription:
        """Subscribe a queue (object or name); ``filter_policy`` as in SNS (None: every
        message), on the message attributes or, with ``filter_policy_scope="MessageBody"``,
        on the body (the event's payload)."""
        target = self.world.broker(queue, "queue")
        if not isinstance(target, Queue):
            raise ConfigTypeError(
                f"queue: a fanout delivers to queues; {target.name!r} is a {target.kind}"
            )
        if target.fifo and not self.fifo:
            raise ConfigError(
                f"queue: {target.name!r} is a FIFO queue, and SNS subscribes FIFO queues only "
                f"to FIFO topics; create the fanout with fifo=True (and a name ending in "
                f"'.fifo'), or subscribe a standard queue to {self.name!r}"
            )
        if any(s.queue is target for s in self.subscriptions):
            raise ConfigError(f"queue: {target.name!r} is already subscribed to {self.name!r}")
        scope = check_scope(filter_policy_scope)
        policy = None if filter_policy is None else validate_policy(filter_policy, scope=scope)
        subscription = Subscription(target, policy, scope)
        self.subscriptions.append(subscription)
        return subscription

    def check_sender(self, attributes: Mapping[str, Any] | None, keyed: bool = True) -> None:
        """Refuse now a sender every publish of which SNS would refuse: to a FIFO topic,
        one without keys (``keyed``) or with these (constant) ``attributes`` but no
        deduplication id."""
        if not self.fifo:
            return
        if not keyed:
            rules.require_group("fanout", self.name, None)
        rules.require_dedup_id("fanout", self.name, attributes, self.content_based_deduplication)

    def publish(self, event_id: int, key: str | None, producer: int, size_bytes: int) -> None:
        """Publish: after the latency, one copy to each matching subscription."""
        wait, dedup, queued = self._latency_sampler(), None, False
        if self.fifo:
            dedup = rules.fifo_send(self, self.world.records.events, event_id, key)
            wait, queued = self._group_order.schedule(key or "", self.world.env.now, wait)
        if wait <= 0 and not queued:
            self._deliver(event_id, key, dedup)
        else:
            arrival = self.world.env.timeout(wait)
            arrival.callbacks.append(partial(self._on_arrival, event_id, key, dedup))

    def attributes(self, event_id: int) -> dict[str, Any]:
        """The SNS message attributes of an event: ``eventType`` plus its own."""
        events = self.world.records.events
        own: Mapping[str, Any] | None = events.attributes[event_id]
        event_type = events.names.names[events.event_type[event_id]]
        return {"eventType": event_type, **(own or {})}

    def __repr__(self) -> str:
        kind = "FIFO " if self.fifo else ""
        return f"<{kind}Fanout {self.name!r} subscriptions={len(self.subscriptions)}>"

    def _on_arrival(
        self, event_id: int, key: str | None, dedup: str | None, _event: object
    ) -> None:
        self._deliver(event_id, key, dedup)

    def _deliver(self, event_id: int, key: str | None, dedup: str | None) -> None:
        self.published += 1
        events, now = self.world.records.events, self.world.env.now
        events.reached(event_id, self.code, now)
        if dedup is not None and self._deduplicator.duplicate(dedup, now):
            self.duplicates_dropped += 1
            events.release(event_id)
            return
        attributes: dict[str, Any] | None = None
        for subscription in self.subscriptions:
            if subscription.matches is not None:
                if subscription.on_body:
                    message = events.payload[event_id]
                else:
                    if attributes is None:
                        attributes = self.attributes(event_id)
                    message = attributes
                if not subscription.matches(message):
                    continue
            subscription.delivered += 1
            events.hold(event_id)  # each copy is held by its queue
            subscription.queue.deliver(event_id, key, dedup)
        events.release(event_id)  # the fanout's own hold: SNS keeps nothing
