"""A client's description (a load generator calling a service): every setting, once.

:class:`ClientConfig` is the one place a client's keyword arguments are spelled:
``sim.client(...)`` takes its fields, and :class:`~evsim.actors.client.Client` is built
from one.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from evsim import _check, limits
from evsim.actors.breaker import CircuitBreaker
from evsim.actors.budgets import RetryThrottle, TokenBucket
from evsim.actors.request import as_breaker, as_budget
from evsim.actors.retry import Retry
from evsim.component_config import ComponentConfig
from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.arrivals import Arrivals, as_arrivals
from evsim.workload.dist import Distribution, as_distribution
from evsim.workload.keys import KeyChooser, as_keys


@dataclass(frozen=True)
class ClientConfig(ComponentConfig):
    """Clients sending requests to ``target``, open-loop or closed-loop.

    ``name``
        unique among the simulation's components (a request's ``client``).
    ``target``
        the service's name (found when the run starts).
    ``arrivals``
        open loop: requests are sent on this arrival process whatever happens to earlier
        ones (``ev.Poisson(rate=...)`` requests per second, ``ev.Schedule`` for storms
        and ramps, ...), as independent users do.
    ``users``, ``think_time``
        closed loop instead: ``users`` each send a request, wait for its end, think for
        ``think_time`` seconds (a distribution or a number; default 0), and send the next.
        Give ``arrivals`` or ``users``, not both.
    ``keys``
        a key chooser (``ev.UniformKeys(n)``, ``ev.ZipfKeys(n, s)``) for the requests'
        keys (what caches are keyed by); None: no keys.
    ``timeout``
        seconds the client waits for each attempt (None: as long as it takes).
    ``retry``
        an ``ev.Retry(max_attempts, backoff)``: attempts in all, and the backoff between
        them; ``retry_on`` may name the reasons ``"error"``, ``"timeout"``,
        ``"rejected"``. None: one attempt.
    ``breaker``
        an ``ev.CircuitBreaker()`` (Resilience4j's rules and defaults): while it is
        open, requests fail at once as ``short_circuited``. None: no breaker.
    ``budget``
        a retry budget: ``ev.TokenBucket()`` (the AWS SDKs' retry quota) or
        ``ev.RetryThrottle(max_tokens, token_ratio)`` (gRPC's). None: retries unbudgeted.
    ``start``, ``stop``
        seconds at which sending starts (default 0) and stops (None: the run's end).
    """

    METHOD: ClassVar[str] = "client"

    name: str
    target: Any
    arrivals: Arrivals | None = None
    _: KW_ONLY
    users: int | None = None
    think_time: Distribution | float = 0.0
    keys: KeyChooser | None = None
    timeout: float | None = None
    retry: Retry | None = None
    breaker: CircuitBreaker | None = None
    budget: TokenBucket | RetryThrottle | None = None
    start: float = 0.0
    stop: float | None = None

    def __post_init__(self) -> None:
        """Check every field (the target is found when the run starts)."""
        if (self.arrivals is None) == (self.users is None):
            raise ConfigError(
                "arrivals: give arrivals (an open loop, e.g. ev.Poisson(rate=50)) or users "
                "(a closed loop of that many users), not both and not neither"
            )
        users = self.users
        if users is not None:
            limits.at_most("users", users, "MAX_WORKERS", "each user is a SimPy process")
            users = _check.integer("users", users, minimum=1)
        start = _check.non_negative("start", self.start)
        stop = None if self.stop is None else _check.positive("stop", self.stop)
        if stop is not None and stop <= start:
            raise ConfigError(f"stop: must be after start ({start:g} s), got {stop:g} s")
        if self.retry is not None and not isinstance(self.retry, Retry):
            raise ConfigTypeError(f"retry: expected an ev.Retry(...) or None, got {self.retry!r}")
        arrivals = None if self.arrivals is None else as_arrivals(self.arrivals, "arrivals")
        timeout = None if self.timeout is None else _check.positive("timeout", self.timeout)
        self._keep(
            {
                "name": _check.name("name", self.name),
                "target": _check.name("target", self.target),
                "arrivals": arrivals,
                "users": users,
                "think_time": as_distribution(self.think_time, "think_time"),
                "keys": as_keys(self.keys, "keys"),
                "timeout": timeout,
                "breaker": as_breaker(self.breaker),
                "budget": as_budget(self.budget),
                "start": start,
                "stop": stop,
            }
        )

    @property
    def think_distribution(self) -> Distribution:
        """``think_time`` as a Distribution (seconds)."""
        think_time = self.think_time
        assert isinstance(think_time, Distribution)
        return think_time
