"""Analytic queueing results: what the simulator should measure, in closed form.

Rates are per second, times in seconds, numbers (``l``, ``lq``) are mean counts of
events. Every model here is a single stage in steady state with Poisson arrivals
(the "M" before the first slash) and first-come-first-served service:

- :func:`mm1` — one server, exponential service (M/M/1);
- :func:`mmc` — ``c`` servers sharing one queue, exponential service (M/M/c, Erlang C),
  and the tails of its waits: :func:`mmc_wait_tail`, P(Wq > t), and
  :func:`mmc_response_tail`, P(W > t) (the share a client with timeout t gives up on);
- :func:`mmck` — the same with room for ``K`` in all, arrivals beyond it refused
  (M/M/c/K: a service with ``queue_limit`` = K − c);
- :func:`md1` — one server, constant service (M/D/1);
- :func:`mg1` — one server, any service distribution (M/G/1, Pollaczek–Khinchine);
- :func:`partitioned_mm1` — P independent M/M/1 queues fed by shares of one stream
  (a keyed Kafka topic, one consumer per partition);
- :func:`little` — Little's law, L = λW, for any stable system, and :func:`utilisation`
  — ρ = λ·E[S] / min(consumers × concurrency, partitions) for a consumer group, before a
  run: the operational laws of :mod:`evsim.analysis.laws`, here beside the models.

Each model returns a frozen :class:`QueueMetrics` (:mod:`evsim.analysis.queue_metrics`)
with ``rho`` (utilisation), ``wq`` (mean wait in the queue, s), ``w`` (mean time in the
system, s), ``lq`` and ``l`` (mean numbers waiting and in the system). Sources:
L. Kleinrock, *Queueing Systems, Vol. 1* (1975), §3.2 (M/M/1), §3.5 (M/M/m), ch. 5
(M/G/1); D. Gross et al., *Fundamentals of Queueing Theory*, 4th ed. (2008), §2.2, §2.3,
§5.1.1; J. D. C. Little (1961), "A proof for the queuing formula L = λW", *Operations
Research* 9(3).

In evsim terms: with zero latency, a topic with one partition read by one consumer is a
single-server queue; a queue read by ``c`` consumers is an M/M/c queue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields, replace

import numpy as np

from evsim import _check
from evsim.analysis.laws import little, utilisation
from evsim.analysis.queue_metrics import MMcKMetrics, MMcMetrics, PartitionedMetrics, QueueMetrics
from evsim.errors import ConfigError
from evsim.workload.dist import Constant, Distribution, as_distribution

__all__ = [
    "MMcKMetrics",
    "MMcMetrics",
    "PartitionedMetrics",
    "QueueMetrics",
    "erlang_b",
    "erlang_c",
    "little",
    "md1",
    "mg1",
    "mm1",
    "mmc",
    "mmc_response_tail",
    "mmc_wait_tail",
    "mmck",
    "partitioned_mm1",
    "utilisation",
]


# --- checks ---------------------------------------------------------------------------


def _stable(rho: float, argument: str = "rho", subject: str = "the queue") -> float:
    """``rho`` if it is < 1; otherwise the queue grows without bound: raise."""
    if rho >= 1:
        raise ConfigError(
            f"{argument}: {subject} is unstable (rho = {rho:.6g} >= 1): arrivals outpace service"
        )
    return rho


def _single_server(model: str, arrival_rate: float, service_time: float, wq: float) -> QueueMetrics:
    """Complete a one-server model from λ, E[S] and Wq: W = Wq + E[S], then Little's law."""
    w = wq + service_time
    return QueueMetrics(
        model=model,
        arrival_rate=arrival_rate,
        service_time=service_time,
        rho=arrival_rate * service_time,
        wq=wq,
        w=w,
        lq=arrival_rate * wq,
        l=arrival_rate * w,
    )


# --- models ---------------------------------------------------------------------------


def mm1(arrival_rate: float, service_rate: float) -> QueueMetrics:
    """M/M/1: Poisson arrivals at ``arrival_rate`` (λ, per second), one server with
    exponential service at ``service_rate`` (μ, per second).

    ρ = λ/μ, W = 1/(μ − λ), Wq = ρ/(μ − λ), L = ρ/(1 − ρ), Lq = ρ²/(1 − ρ)
    (Kleinrock 1975, §3.2; Gross et al. 2008, §2.2). Raises ConfigError if a rate is
    not > 0 or ρ >= 1.
    """
    arrival_rate = _check.positive("arrival_rate", arrival_rate)
    service_rate = _check.positive("service_rate", service_rate)
    return _mm1(arrival_rate, service_rate)


def _mm1(arrival_rate: float, service_rate: float, partition: int | None = None) -> QueueMetrics:
    """M/M/1 for checked rates; ``arrival_rate`` may be 0 (an idle partition)."""
    if partition is None:
        _stable(arrival_rate / service_rate)
    else:
        _stable(arrival_rate / service_rate, f"shares[{partition}]", f"partition {partition}")
    wq = arrival_rate / (service_rate * (service_rate - arrival_rate))  # ρ/(μ − λ)
    return _single_server("M/M/1", arrival_rate, 1 / service_rate, wq)


def erlang_b(offered_load: float, servers: int) -> float:
    """Erlang's B formula: the blocking probability of an M/M/c/c loss system.

    ``offered_load`` is a = λ/μ (Erlangs, dimensionless). Computed with the recursion
    B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)), which never forms a^c or c! and so stays
    accurate for hundreds of servers (Gross et al. 2008, §2.6).
    """
    offered_load = _check.non_negative("offered_load", offered_load)
    servers = _check.integer("servers", servers, minimum=0)
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(offered_load: float, servers: int) -> float:
    """Erlang's C formula: the probability of waiting in an M/M/c queue.

    ``offered_load`` is a = λ/μ (Erlangs) and must be < ``servers``. From Erlang B:
    C = c·B / (c − a·(1 − B)) (Gross et al. 2008, §2.3). Equivalent to the textbook
    C = [aᶜ/c! · c/(c − a)] / [Σ_{k<c} aᵏ/k! + aᶜ/c! · c/(c − a)].
    """
    servers = _check.integer("servers", servers, minimum=1)
    offered_load = _check.non_negative("offered_load", offered_load)
    _stable(offered_load / servers)
    blocking = erlang_b(offered_load, servers)
    return servers * blocking / (servers - offered_load * (1 - blocking))


def mmc(arrival_rate: float, service_rate: float, servers: int) -> MMcMetrics:
    """M/M/c: Poisson arrivals at ``arrival_rate`` (λ, per second), ``servers`` (c)
    identical servers with exponential service at ``service_rate`` (μ, per second each)
    sharing one first-come-first-served queue.

    a = λ/μ, ρ = a/c, P(wait) = C(c, a) (Erlang C, see :func:`erlang_c`),
    Wq = C / (cμ − λ), W = Wq + 1/μ, Lq = λWq, L = λW (Kleinrock 1975, §3.5; Gross et al.
    2008, §2.3). ``servers=1`` gives :func:`mm1`. Raises ConfigError for a rate not > 0,
    ``servers`` < 1, or ρ >= 1.
    """
    arrival_rate = _check.positive("arrival_rate", arrival_rate)
    service_rate = _check.positive("service_rate", service_rate)
    servers = _check.integer("servers", servers, minimum=1)
    offered_load = arrival_rate / service_rate
    p_wait = erlang_c(offered_load, servers)
    wq = p_wait / (servers * service_rate - arrival_rate)
    base = _single_server("M/M/c", arrival_rate, 1 / service_rate, wq)
    values = {f.name: getattr(base, f.name) for f in fields(base)}
    values.update(rho=offered_load / servers, servers=servers, p_wait=p_wait)
    return MMcMetrics(**values)


def mmc_wait_tail(arrival_rate: float, service_rate: float, servers: int, t: float) -> float:
    """P(Wq > t) in M/M/c (see :func:`mmc`): the probability that a request waits in the
    queue longer than ``t`` seconds, C·e^(−(cμ − λ)t), C being Erlang's C formula (the
    wait is 0 with probability 1 − C, else exponential at cμ − λ; Gross et al. 2008,
    §2.3)."""
    t = _check.non_negative("t", t)
    model = mmc(arrival_rate, service_rate, servers)
    return model.p_wait * math.exp(-(servers * service_rate - arrival_rate) * t)


def mmc_response_tail(arrival_rate: float, service_rate: float, servers: int, t: float) -> float:
    """P(W > t) in M/M/c (see :func:`mmc`): the probability that a request's time in the
    system, wait and service, is longer than ``t`` seconds: the share of requests a
    caller with a timeout of ``t`` gives up on, though nothing fails.

    The service is exponential at μ and independent of the wait (first come, first
    served), so with θ = cμ − λ and d = θ − μ: P(W > t) = e^(−μt)·(1 + C·μ·(1 − e^(−dt))/d),
    the limit e^(−μt)·(1 + C·μ·t) at d = 0 (Gross et al. 2008, §2.3). One server gives
    M/M/1's e^(−(μ − λ)t).
    """
    t = _check.non_negative("t", t)
    model = mmc(arrival_rate, service_rate, servers)
    d = servers * service_rate - arrival_rate - service_rate
    grown = -math.expm1(-d * t) / d if d else t  # (1 − e^(−dt))/d, exact as d → 0
    return math.exp(-service_rate * t) * (1 + model.p_wait * service_rate * grown)


MAX_MMCK_CAPACITY = 1_000_000  # states summed: K + 1 numbers


def mmck(arrival_rate: float, service_rate: float, servers: int, capacity: int) -> MMcKMetrics:
    """M/M/c/K: as :func:`mmc`, but at most ``capacity`` (K >= c) in the system, being
    served or waiting; an arrival finding K there is refused (blocked). Stable at any load.

    With a = λ/μ, the state probabilities are p_n ∝ aⁿ/n! for n < c and
    aⁿ/(c!·cⁿ⁻ᶜ) for c <= n <= K; p_block = p_K, throughput λ(1 − p_K), L = Σ n·p_n,
    Lq = Σ (n − c)·p_n, and W, Wq by Little's law over the admitted arrivals (Gross et al.
    2008, §2.5). ``capacity = servers`` is Erlang's loss system (p_block = Erlang B).
    """
    arrival_rate = _check.positive("arrival_rate", arrival_rate)
    service_rate = _check.positive("service_rate", service_rate)
    servers = _check.integer("servers", servers, minimum=1)
    capacity = _check.integer("capacity", capacity, minimum=servers)
    if capacity > MAX_MMCK_CAPACITY:
        raise ConfigError(
            f"capacity: at most {MAX_MMCK_CAPACITY:,} (one probability per state), got "
            f"{capacity:,}; for a queue that long use mmc"
        )
    a = arrival_rate / service_rate
    n = np.arange(capacity + 1)
    # logarithms of the unnormalised p_n: no aⁿ or n! overflows
    log_terms = np.where(
        n < servers,
        n * math.log(a) - np.array([math.lgamma(k + 1) for k in n]),
        n * math.log(a) - math.lgamma(servers + 1) - (n - servers) * math.log(servers),
    )
    p = np.exp(log_terms - log_terms.max())
    p /= p.sum()
    p_block = float(p[-1])
    throughput = arrival_rate * (1 - p_block)
    lq = float(((n - servers).clip(min=0) * p).sum())
    in_system = float((n * p).sum())
    admitted_waiting = float(p[servers:capacity].sum()) / (1 - p_block)
    return MMcKMetrics(
        model="M/M/c/K", arrival_rate=arrival_rate, service_time=1 / service_rate,
        rho=throughput / (servers * service_rate), wq=lq / throughput, w=in_system / throughput,
        lq=lq, l=in_system, servers=servers, p_wait=admitted_waiting, capacity=capacity,
        p_block=p_block, throughput=throughput,
    )  # fmt: skip


def md1(arrival_rate: float, service_time: float) -> QueueMetrics:
    """M/D/1: Poisson arrivals at ``arrival_rate`` (λ, per second), one server taking
    exactly ``service_time`` (D, seconds) per event.

    ρ = λD, Wq = ρD / (2(1 − ρ)) — half of M/M/1's at the same ρ — W = Wq + D,
    Lq = λWq, L = λW (Pollaczek–Khinchine with Var[S] = 0; Gross et al. 2008, §5.1.1).
    Raises ConfigError if ``arrival_rate`` or ``service_time`` is not > 0, or ρ >= 1.
    """
    arrival_rate = _check.positive("arrival_rate", arrival_rate)
    service_time = _check.positive("service_time", service_time)
    result = _pollaczek_khinchine(arrival_rate, service_time, 0.0)
    return replace(result, model="M/D/1")


def mg1(arrival_rate: float, service: Distribution | float) -> QueueMetrics:
    """M/G/1: Poisson arrivals at ``arrival_rate`` (λ, per second), one server whose
    service times follow ``service``: an evsim distribution (its ``mean`` in seconds and
    ``variance`` in seconds², e.g. ``ev.LogNormal(mean=0.02, sigma=0.5)``) or a plain
    number of seconds (a constant, as everywhere in evsim).

    Pollaczek–Khinchine: with E[S²] = Var[S] + E[S]², ρ = λE[S],
    Wq = λE[S²] / (2(1 − ρ)), W = Wq + E[S], Lq = λWq, L = λW (Kleinrock 1975, ch. 5;
    Gross et al. 2008, §5.1.1). Only the first two moments of service matter: Exponential
    service gives :func:`mm1`, Constant gives :func:`md1`. Raises ConfigError if
    ``arrival_rate`` or the service mean is not > 0, or ρ >= 1.
    """
    arrival_rate = _check.positive("arrival_rate", arrival_rate)
    distribution = as_distribution(service, "service")
    mean = distribution.mean
    if mean <= 0:
        raise ConfigError(f"service: its mean must be > 0, got {distribution!r}")
    result = _pollaczek_khinchine(arrival_rate, mean, distribution.variance)
    return result if not isinstance(distribution, Constant) else replace(result, model="M/D/1")


def _pollaczek_khinchine(arrival_rate: float, mean: float, variance: float) -> QueueMetrics:
    """M/G/1 from λ, E[S] and Var[S] (checked): Wq = λE[S²] / (2(1 − ρ))."""
    rho = _stable(arrival_rate * mean)
    second_moment = variance + mean**2
    wq = arrival_rate * second_moment / (2 * (1 - rho))
    return _single_server("M/G/1", arrival_rate, mean, wq)


def partitioned_mm1(
    arrival_rate: float, service_rate: float, shares: Sequence[float]
) -> PartitionedMetrics:
    """P independent M/M/1 queues: a keyed topic with P partitions, one consumer each.

    A Poisson stream at ``arrival_rate`` (λ, per second) is split so partition p gets the
    fraction ``shares[p]`` of it (a thinned Poisson stream at λ_p = share_p·λ); each
    partition's consumer serves exponentially at ``service_rate`` (μ, per second).
    ``shares`` are non-negative weights, normalised to sum to 1, so key counts per
    partition work as well as fractions. With the murmur2 partitioner the split of a
    finite key set is close to, but not exactly, even: count the keys per partition with
    ``topic.partition_for(key)``.

    W = Σ_p share_p · W_p with W_p = 1/(μ − λ_p) (the mean latency over all events),
    L = Σ_p L_p = λW, likewise Wq and Lq. Raises ConfigError if a rate is not > 0, a
    share is negative, they sum to 0, or a partition has ρ_p = λ_p/μ >= 1.
    """
    arrival_rate = _check.positive("arrival_rate", arrival_rate)
    service_rate = _check.positive("service_rate", service_rate)
    weights = _shares(shares)
    partitions = tuple(
        _mm1(share * arrival_rate, service_rate, p) for p, share in enumerate(weights)
    )
    wq = math.fsum(s * m.wq for s, m in zip(weights, partitions, strict=True))
    w = math.fsum(s * m.w for s, m in zip(weights, partitions, strict=True))
    return PartitionedMetrics(
        model=f"{len(partitions)}×M/M/1",
        arrival_rate=arrival_rate,
        service_time=1 / service_rate,
        rho=arrival_rate / (len(partitions) * service_rate),
        wq=wq,
        w=w,
        lq=math.fsum(m.lq for m in partitions),
        l=math.fsum(m.l for m in partitions),
        shares=weights,
        partitions=partitions,
        max_rho=max(m.rho for m in partitions),
    )


def _shares(shares: Sequence[float]) -> tuple[float, ...]:
    """``shares`` checked (non-negative numbers, not all 0) and normalised to sum to 1."""
    if isinstance(shares, str) or not isinstance(shares, Sequence) or not shares:
        raise ConfigError(
            f"shares: expected a non-empty list of each partition's share, got {shares!r}"
        )
    values = [_check.non_negative(f"shares[{p}]", s) for p, s in enumerate(shares)]
    total = math.fsum(values)
    if total <= 0:
        raise ConfigError(f"shares: at least one share must be > 0, got {list(shares)!r}")
    return tuple(v / total for v in values)
