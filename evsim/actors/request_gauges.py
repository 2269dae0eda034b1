"""The request-response side's gauges, sampled with the others (:mod:`evsim.actors.sampler`).

Every sample records, for each service, ``in_flight`` (requests it holds: served and
waiting) and ``service_queue`` (waiting for a worker); for each cache its
``cache_hit_ratio`` over the interval since the last sample (NaN without lookups); and
for each client its ``goodput``: ok requests that came within its timeout, per second,
over that interval. Each call edge (``caller->callee``) with a circuit breaker records
``breaker_state`` (0 closed, 1 open, 2 half-open), and one with a retry budget
``retry_tokens``.
"""

from __future__ import annotations

from evsim.actors.cache import Cache
from evsim.actors.client import Client
from evsim.actors.service import Service
from evsim.records import Records

NAN = float("nan")


class RequestGauges:
    """Samples the services', caches' and clients' gauges into ``records``."""

    def __init__(
        self, records: Records, services: list[Service], caches: list[Cache], clients: list[Client]
    ) -> None:
        code = records.names.code
        self._add = records.gauges.add
        self._in_flight, self._waiting = code("in_flight"), code("service_queue")
        self._hit_ratio, self._goodput = code("cache_hit_ratio"), code("goodput")
        self._services, self._caches, self._clients = services, caches, clients
        self._lookups = {cache.code: (0, 0) for cache in caches}  # hits, misses at last sample
        self._useful = {client.code: 0 for client in clients}
        self._last = 0.0
        self._breaker, self._tokens = code("breaker_state"), code("retry_tokens")
        callers = [c for s in services for c in s.callers] + [
            c.caller for c in clients if c.caller is not None
        ]
        names = records.names.names
        self._edges = [
            (code(f"{names[c.caller]}->{c.callee.name}"), c)
            for c in callers
            if c.breaker is not None or c.budget is not None
        ]

    def count(self) -> int:
        """Gauges written per sample."""
        return 2 * len(self._services) + len(self._caches) + len(self._clients) + len(self._edges)

    def sample(self, now: float) -> None:
        """One sample of every gauge at ``now`` (seconds)."""
        add = self._add
        for service in self._services:
            add(now, self._in_flight, service.code, service.in_flight)
            add(now, self._waiting, service.code, len(service.waiting))
        for cache in self._caches:
            hits, misses = self._lookups[cache.code]
            new_hits, new_misses = cache.hits - hits, cache.misses - misses
            lookups = new_hits + new_misses
            add(now, self._hit_ratio, cache.code, new_hits / lookups if lookups else NAN)
            self._lookups[cache.code] = (cache.hits, cache.misses)
        span = now - self._last
        for client in self._clients:
            useful = client.useful - self._useful[client.code]
            add(now, self._goodput, client.code, useful / span if span > 0 else NAN)
            self._useful[client.code] = client.useful
        self._last = now
        for entity, caller in self._edges:
            if caller.breaker is not None:
                caller.breaker.advance(now)
                add(now, self._breaker, entity, int(caller.breaker.state))
            if caller.budget is not None:
                add(now, self._tokens, entity, caller.budget.tokens)
