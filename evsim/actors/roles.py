"""The roles a consumer group's parts play for each other, as protocols.

A group is built from a feed (where deliveries come from: :mod:`evsim.actors.topic_feed`
or :mod:`evsim.actors.queue_feed`), consumers (:mod:`evsim.actors.consumer`) that run the
attempts, and the group itself (:mod:`evsim.actors.group`), which records each event's
outcome once. Each part is handed the others when it is built and sees them only through
these protocols, so none imports another's module and a new feed (another broker) or a
new kind of member plugs in by having these methods.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import simpy

from evsim.actors.delivery import Delivery, Ending, Tally
from evsim.records import Outcome

if TYPE_CHECKING:
    from evsim.actors.group_config import GroupConfig
    from evsim.brokers.world import World


class Member(Protocol):
    """What a feed reads and calls of a consumer."""

    name: str
    code: int
    up: bool
    epoch: int
    owned: list[int]
    ready: deque[int]
    idle: list[simpy.Event]

    def offer(self, tp: int) -> None:
        """Partition ``tp`` has records to read."""

    def reset_ready(self) -> None:
        """Forget the partitions queued to read."""


Unfinished = tuple[int, Outcome, Member | None]
"""An event without an outcome when the run stopped: its id, the outcome to record
(``pending`` or ``expired``) and the consumer holding it, if any."""


FeedHandle = TypeVar("FeedHandle")


class Feed(Protocol[FeedHandle]):
    """Where a group's deliveries come from: what consumers and the group call. Its
    deliveries carry handles of type ``FeedHandle``, which only the feed reads."""

    routed: Any  # the ids of the events routed to the group (a count in summary mode)
    active: bool
    queued: list[bool]  # per partition: waiting in its owner's ready list (topics only)

    def join(self) -> None:
        """Start reading."""

    def take_now(self, consumer: Member) -> Delivery[FeedHandle] | None:
        """The consumer's next delivery, or None if there is nothing to read now."""

    def wait(self, consumer: Member) -> simpy.Event:
        """An event that fires when the consumer may have something to take."""

    def complete(self, delivery: Delivery[FeedHandle], ending: Ending, consumer: Member) -> None:
        """The consumer is done with ``delivery``, ending as ``ending``."""

    def abandon(self, delivery: Delivery[FeedHandle], consumer: Member) -> None:
        """The consumer crashed holding ``delivery``."""

    def member_down(self, consumer: Member) -> None:
        """The consumer crashed."""

    def member_up(self, consumer: Member) -> None:
        """The consumer is back."""

    def unfinished(self) -> Iterator[Unfinished]:
        """The routed events without an outcome yet."""


class GroupServices(Protocol):
    """What a feed and the consumers use of their group: its settings, its members and
    the one record of each event's outcome."""

    world: World
    name: str
    code: int
    config: GroupConfig
    members: list[Any]  # the group's consumers (Member)

    def tally(self, event_id: int) -> Tally:
        """The attempts tally the deliveries of ``event_id`` share."""

    def settle(self, delivery: Delivery[object], outcome: Outcome, consumer: Member | None) -> None:
        """Record the outcome of the delivery's event (once per event)."""

    def settle_unheld(
        self, event_id: int, outcome: Outcome, consumer: Member | None = None, record_id: int = -1
    ) -> None:
        """Record the outcome of an event no delivery decided."""

    def give_up(self, delivery: Delivery[object], consumer: Member, where: dict[str, Any]) -> None:
        """No attempt left: dead-letter the event, or log and skip it."""

    def republish(self, delivery: Delivery[object], target: Any, extra: dict[str, Any]) -> int:
        """Publish a copy of the delivered record to ``target`` with ``extra`` attributes."""
