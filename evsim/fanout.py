"""SNS-like fan-out: one published event, one copy per matching queue subscription.

Rules modelled (Amazon SNS standard topics with Amazon SQS subscribers):

* Publishing costs the fanout's ``latency`` (seconds); then every subscription whose
  filter policy matches the message's attributes gets one copy (an SQS SendMessage to
  its queue, which gives the copy its own message id). The message attributes are
  ``eventType`` (the event type) plus the event's own attributes.
* A subscription without a filter policy receives every message.
* Filter policies follow SNS's rules (:mod:`evsim.filter_policy`).

The copies are not new events: the event's row in ``result.events`` is the publish to
the fanout, and each queue's copy carries the same event id.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from evsim import _check
from evsim.dist import Distribution, as_distribution
from evsim.errors import ConfigError, ConfigTypeError
from evsim.filter_policy import Matcher, compile_policy, validate_policy
from evsim.queue import Queue
from evsim.world import World


class Subscription:
    """A queue subscribed to a fanout, with an optional SNS filter policy."""

    __slots__ = ("delivered", "filter_policy", "matches", "queue")

    def __init__(self, queue: Queue, filter_policy: dict[str, list[Any]] | None) -> None:
        self.queue = queue
        self.filter_policy = filter_policy
        self.matches: Matcher | None = (
            None if filter_policy is None else compile_policy(filter_policy)
        )
        self.delivered = 0  # copies sent to the queue

    def spec(self) -> dict:
        """The arguments of :meth:`Fanout.subscribe` that rebuild it."""
        return {"queue": self.queue.name, "filter_policy": self.filter_policy}

    def __repr__(self) -> str:
        return f"Subscription(queue={self.queue.name!r}, filter_policy={self.filter_policy!r})"


class Fanout:
    """An SNS-like topic delivering copies to subscribed queues (times in seconds)."""

    kind = "fanout"

    def __init__(self, world: World, name: str, latency: Distribution | float = 0.0) -> None:
        self.world = world
        self.name = _check.name("name", name)
        self.latency = as_distribution(latency, "latency")
        self.code = world.records.names.code(name)
        self.subscriptions: list[Subscription] = []
        self.published = 0  # events that reached the fanout
        self._latency_sampler = world.sampler(self.latency, "fanout", self.name, "latency")

    def spec(self) -> dict:
        """The arguments that rebuild this fanout, subscriptions included."""
        return {
            "name": self.name,
            "latency": self.latency.spec(),
            "subscriptions": [s.spec() for s in self.subscriptions],
        }

    def subscribe(self, queue: Queue | str, filter_policy: Any = None) -> Subscription:
        """Subscribe a queue (object or name); ``filter_policy`` as in SNS, None = all."""
        target = self.world.broker(queue, "queue")
        if not isinstance(target, Queue):
            raise ConfigTypeError(
                f"queue: a fanout delivers to queues; {target.name!r} is a {target.kind}"
            )
        if any(s.queue is target for s in self.subscriptions):
            raise ConfigError(f"queue: {target.name!r} is already subscribed to {self.name!r}")
        policy = None if filter_policy is None else validate_policy(filter_policy)
        subscription = Subscription(target, policy)
        self.subscriptions.append(subscription)
        return subscription

    def publish(self, event_id: int, key: str | None, producer: int, size_bytes: int) -> None:
        """Publish: after the latency, one copy to each matching subscription."""
        wait = self._latency_sampler()
        if wait <= 0:
            self._deliver(event_id, key, producer, size_bytes)
        else:
            arrival = self.world.env.timeout(wait)
            arrival.callbacks.append(partial(self._on_arrival, event_id, key, producer, size_bytes))

    def attributes(self, event_id: int) -> dict[str, Any]:
        """The SNS message attributes of an event: ``eventType`` plus its own."""
        events = self.world.records.events
        own: Mapping[str, Any] | None = events.attributes[event_id]
        event_type = events.names.names[events.event_type[event_id]]
        return {"eventType": event_type, **(own or {})}

    def __repr__(self) -> str:
        return f"<Fanout {self.name!r} subscriptions={len(self.subscriptions)}>"

    def _on_arrival(
        self, event_id: int, key: str | None, producer: int, size_bytes: int, _event: object
    ) -> None:
        self._deliver(event_id, key, producer, size_bytes)

    def _deliver(self, event_id: int, key: str | None, producer: int, size_bytes: int) -> None:
        self.published += 1
        events = self.world.records.events
        events.reached(event_id, self.code, self.world.env.now)
        attributes: dict[str, Any] | None = None
        for subscription in self.subscriptions:
            if subscription.matches is not None:
                if attributes is None:
                    attributes = self.attributes(event_id)
                if not subscription.matches(attributes):
                    continue
            subscription.delivered += 1
            events.hold(event_id)  # each copy is held by its queue
            subscription.queue.publish(event_id, key, producer, size_bytes)
        events.release(event_id)  # the fanout's own hold: SNS keeps nothing
