"""A client: the load generator of the request-response side.

Rules modelled: an open-loop client sends on its arrival process whatever happens to the
requests already sent (many independent users: load does not drop when the service
slows, which is how overload builds); a closed-loop client has ``users`` that each wait
for their request to end, think, and send the next (load drops as latency grows). Each
request is one :class:`~evsim.actors.caller.Caller` call (attempts, timeout, retries)
and ends in one outcome: ``ok``, ``error``, ``timeout``, ``rejected`` (or
``short_circuited``); one still in flight at the stop is ``pending``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evsim.actors.caller import Caller
from evsim.actors.client_config import ClientConfig
from evsim.actors.request import Callee
from evsim.brokers.world import World
from evsim.engine import Steps
from evsim.records.codes import CallStatus


class Client:
    """A client built from ``config`` on ``world`` (see the module's rules)."""

    kind = "client"

    def __init__(self, world: World, config: ClientConfig) -> None:
        self.world = world
        self.config = config
        self.name = config.name
        self.code = world.records.names.code(config.name)
        self.sent = 0
        self.useful = 0  # ok requests that came within the timeout (all ok without one)
        self.in_flight: dict[int, tuple[str | None, float]] = {}  # request → key, sent_at
        self.target: Callee | None = None
        self._caller: Caller | None = None
        keys = config.keys
        self._key: Callable[[], str] | None = None
        if keys is not None:
            self._key = keys.chooser(world.streams.generator("client", self.name, "keys"))

    def spec(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this client."""
        config = self.config
        return {
            "name": self.name,
            "target": config.target,
            "arrivals": None if config.arrivals is None else config.arrivals.spec(),
            "users": config.users,
            "think_time": config.think_distribution.spec(),
            "keys": None if config.keys is None else config.keys.spec(),
            "timeout": config.timeout,
            "retry": None if config.retry is None else config.retry.spec(),
            "breaker": None if config.breaker is None else config.breaker.spec(),
            "budget": None if config.budget is None else config.budget.spec(),
            "start": config.start,
            "stop": config.stop,
        }

    @property
    def caller(self) -> Caller | None:
        """Its caller toward the target (made when the run starts)."""
        return self._caller

    def launch(self, find: Callable[[str, str], Callee]) -> None:
        """Find the target (``find(name, argument)``) and start sending."""
        config = self.config
        self.target = find(config.target, f"{self.name}: target")
        self._caller = Caller(
            self.world, self.code, self.target, config.timeout, config.retry, False,
            ("client", self.name), config.breaker, config.budget,
        )  # fmt: skip
        env = self.world.env
        if config.arrivals is not None:
            env.process(self._open_loop())
        else:
            think = self.world.sampler(config.think_distribution, "client", self.name, "think")
            for _user in range(config.users or 0):
                env.process(self._user(think))

    def _open_loop(self) -> Steps:
        env, config = self.world.env, self.config
        assert config.arrivals is not None
        generator = self.world.streams.generator("client", self.name, "arrivals")
        for time in config.arrivals.times(generator, config.start):
            if config.stop is not None and time >= config.stop:
                return
            if time > env.now:
                yield env.timeout(time - env.now)
            env.process(self._request())

    def _user(self, think: Callable[[], float]) -> Steps:
        env, config = self.world.env, self.config
        if config.start > 0:
            yield env.timeout(config.start)
        while config.stop is None or env.now < config.stop:
            yield from self._request()
            yield env.timeout(think())

    def _request(self) -> Steps:
        env, records = self.world.env, self.world.records
        assert self._caller is not None and self.target is not None
        request = records.requests.next_id()
        key = self._key() if self._key is not None else None
        sent_at = env.now
        self.sent += 1
        self.in_flight[request] = (key, sent_at)
        status, attempts = yield from self._caller.call(request, key)
        del self.in_flight[request]
        timeout = self.config.timeout
        if status == CallStatus.OK and (timeout is None or env.now - sent_at <= timeout):
            self.useful += 1
        records.requests.add(
            request, self.code, self.target.code, key, sent_at, env.now, status, attempts
        )
