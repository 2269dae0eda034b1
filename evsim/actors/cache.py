"""A read-through cache in front of a service.

Rules modelled (a look-aside/read-through cache such as a Redis or Memcached tier, or
an in-process LRU): a request whose key has a fresh entry (stored less than ``ttl``
seconds ago) is a *hit*, answered ``ok`` after ``hit_time`` seconds; any other is a
*miss*, passed to ``target`` (a call on its own edge, with the cache's ``timeout``); an
``ok`` answer is stored under the key, one that failed or timed out stores nothing. At
``capacity`` entries, storing one more evicts the least recently used (``"lru"``) or
the oldest stored (``"fifo"``). A request without a key always misses.
``ev.CacheFlush(at)`` (in ``faults``) empties the cache at ``at`` seconds: every request
after it misses until its key is stored again, which is how a flush sends the backend
its full load at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from evsim import _check, limits
from evsim.actors.caller import Caller
from evsim.actors.request import Callee, Exchange
from evsim.brokers.world import World
from evsim.errors import ConfigTypeError
from evsim.records.codes import CallStatus
from evsim.workload.specs import Specified

EVICTIONS = ("lru", "fifo")


class CacheFlush(Specified):
    """Empty the cache at ``at`` seconds."""

    kind = "cache_flush"

    def __init__(self, at: float) -> None:
        self.at = _check.non_negative("at", at)

    def _params(self) -> dict[str, Any]:
        return {"at": self.at}


class Cache:
    """A cache of ``capacity`` entries for ``ttl`` seconds in front of ``target``."""

    kind = "cache"

    def __init__(
        self, world: World, name: str, target: str, ttl: float, capacity: int,
        eviction: str, hit_time: float, timeout: float | None,
        faults: list[CacheFlush] | CacheFlush | None,
    ) -> None:  # fmt: skip
        """Built by ``sim.cache``, whose signature gives the defaults."""
        self.world = world
        self.name = _check.name("name", name)
        self.code = world.records.names.code(self.name)
        self.target_name = _check.name("target", target)
        self.ttl = _check.positive("ttl", ttl)
        limits.at_most("capacity", capacity, "MAX_WORKERS", "entries are kept in memory")
        self.capacity = _check.integer("capacity", capacity, minimum=1)
        self.eviction = _check.choice("eviction", eviction, EVICTIONS)
        self.hit_time = _check.non_negative("hit_time", hit_time)
        self.timeout = None if timeout is None else _check.positive("timeout", timeout)
        self.faults = _flushes(faults)
        self.entries: OrderedDict[str, float] = OrderedDict()  # key → stored at (seconds)
        self.hits = 0
        self.misses = 0
        self._caller: Caller | None = None

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this cache."""
        return {
            "name": self.name, "target": self.target_name, "ttl": self.ttl,
            "capacity": self.capacity, "eviction": self.eviction, "hit_time": self.hit_time,
            "timeout": self.timeout, "faults": [f.spec() for f in self.faults],
        }  # fmt: skip

    def launch(self, find: Callable[[str, str], Callee]) -> None:
        """Find the target and schedule the flushes."""
        target = find(self.target_name, f"{self.name}: target")
        self._caller = Caller(self.world, self.code, target, self.timeout, None, False,
                              ("cache", self.name))  # fmt: skip
        for flush in self.faults:
            self.world.env.call_later(flush.at, lambda _timer: self.entries.clear())

    @property
    def hit_ratio(self) -> float:
        """Hits / lookups so far (NaN before the first)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else float("nan")

    def accept(self, exchange: Exchange) -> None:
        """Answer a hit after ``hit_time``; pass a miss to the target."""
        env = self.world.env
        key = exchange.key
        stored = self.entries.get(key) if key is not None else None
        if stored is not None and env.now - stored < self.ttl:
            self.hits += 1
            if self.eviction == "lru":
                self.entries.move_to_end(key)  # type: ignore[arg-type]
            exchange.started_at = env.now
            if self.hit_time:
                env.call_later(self.hit_time, lambda _timer: exchange.answer(CallStatus.OK))
            else:
                exchange.answer(CallStatus.OK)
            return
        self.misses += 1
        self._miss(exchange)

    def _miss(self, exchange: Exchange) -> None:
        assert self._caller is not None
        exchange.started_at = self.world.env.now

        def fetched(status: CallStatus, _attempts: int) -> None:
            if status == CallStatus.OK and exchange.key is not None:
                self._store(exchange.key)
            exchange.answer(status)

        self._caller.start(exchange.request, exchange.key, fetched)

    def _store(self, key: str) -> None:
        entries = self.entries
        if key in entries:
            del entries[key]
        elif len(entries) >= self.capacity:
            entries.popitem(last=False)  # least recently used (lru) or oldest stored (fifo)
        entries[key] = self.world.env.now


def _flushes(value: Any) -> list[CacheFlush]:
    items = [] if value is None else [value] if isinstance(value, CacheFlush) else list(value)
    for index, item in enumerate(items):
        if not isinstance(item, CacheFlush):
            raise ConfigTypeError(f"faults[{index}]: a cache takes ev.CacheFlush(at), got {item!r}")
    return items
