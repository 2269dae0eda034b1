"""The results of :mod:`evsim.analysis.theory`'s models: frozen records of steady-state
means (times in seconds, rates per second, numbers in events), one class per kind of
model, each with ``as_dict()`` (a pandas row) and a short ``repr``. They are exposed as
``ev.theory.QueueMetrics``, ``ev.theory.MMcMetrics`` and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class QueueMetrics:
    """Steady-state means of one queueing model.

    ``arrival_rate`` (λ, per second), ``service_time`` (E[S], the mean service time in
    seconds), ``rho`` (utilisation of a server, λE[S]/c), ``wq`` (mean wait in the queue,
    s), ``w`` (mean time in the system, ``wq + service_time``, s), ``lq`` (mean number
    waiting, λ·wq) and ``l`` (mean number in the system, λ·w).
    """

    model: str
    arrival_rate: float
    service_time: float
    rho: float
    wq: float
    w: float
    lq: float
    l: float  # noqa: E741 (the textbook's name for the mean number in the system)

    def as_dict(self) -> dict[str, Any]:
        """The scalar fields (model name and numbers), e.g. for a pandas row."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), str | int | float)
        }

    def __repr__(self) -> str:
        return f"{self.model}({', '.join(self._repr_parts())})"

    def _repr_parts(self) -> list[str]:
        return [
            f"arrival_rate={self.arrival_rate:.6g}/s",
            f"rho={self.rho:.4g}",
            f"wq={self.wq:.6g} s",
            f"w={self.w:.6g} s",
            f"lq={self.lq:.6g}",
            f"l={self.l:.6g}",
        ]


@dataclass(frozen=True, repr=False)
class MMcMetrics(QueueMetrics):
    """M/M/c results: :class:`QueueMetrics` plus ``servers`` (c) and ``p_wait``.

    ``p_wait`` is Erlang's C formula: the probability that an arriving event finds every
    server busy and has to wait.
    """

    servers: int
    p_wait: float

    def _repr_parts(self) -> list[str]:
        parts = super()._repr_parts()
        return [f"servers={self.servers}", *parts[:2], f"p_wait={self.p_wait:.4g}", *parts[2:]]


@dataclass(frozen=True, repr=False)
class PartitionedMetrics(QueueMetrics):
    """P independent M/M/1 queues fed by one Poisson stream split by ``shares``.

    ``shares[p]`` is the fraction of arrivals partition p gets (they sum to 1) and
    ``partitions[p]`` its own M/M/1 metrics. The totals: ``w`` and ``wq`` are
    arrival-weighted means (Σ share_p · w_p, what the mean latency over all events
    estimates), ``l`` and ``lq`` sums over partitions (so L = λW still holds), ``rho`` the
    mean utilisation λ/(P·μ), and ``max_rho`` that of the busiest partition.
    """

    shares: tuple[float, ...]
    partitions: tuple[QueueMetrics, ...]
    max_rho: float

    def as_dict(self) -> dict[str, Any]:
        """The scalar fields plus ``n_partitions`` (per-partition metrics are left out)."""
        return {**super().as_dict(), "n_partitions": len(self.partitions)}

    def _repr_parts(self) -> list[str]:
        parts = super()._repr_parts()
        extra = [f"partitions={len(self.partitions)}", f"max_rho={self.max_rho:.4g}"]
        return [*extra, *parts]


@dataclass(frozen=True, repr=False)
class MMcKMetrics(MMcMetrics):
    """M/M/c/K results: :class:`MMcMetrics` (``p_wait``: the share of *admitted* arrivals
    that wait) plus ``capacity`` (K), ``p_block`` (the share refused) and ``throughput``
    (admitted arrivals per second, λ(1 − p_block)). ``rho`` is the share of time a server
    is busy (throughput·E[S]/c); ``wq`` and ``w`` are for admitted arrivals."""

    capacity: int
    p_block: float
    throughput: float

    def _repr_parts(self) -> list[str]:
        parts = super()._repr_parts()
        return [f"capacity={self.capacity}", f"p_block={self.p_block:.4g}", *parts]
