"""Speed of a whole request-response system: the seed's order flow, 10 simulated minutes.

The seed's order flow built from services: a client sends orders at 50 a second (Poisson,
keyed by customer) to ``orders``, which does its own work and then calls ``payment``,
``inventory`` and ``notification`` in turn, each with a timeout and retries with full
jitter, payment behind a circuit breaker and a retry budget (the AWS SDKs' token bucket).
Fully recorded, ``summary()`` read at the end. The target: one 600 s run finishes in under
5 s of wall-clock time on the machine of README.md. About 30,000 requests and 120,000 call
rows a run; the script prints the median wall time over ``--rounds`` seeds.

    python benchmarks/order_flow.py              # 600 s simulated, 5 rounds
    python benchmarks/order_flow.py --quick      # 60 s simulated, 2 rounds
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import evsim as ev

RATE = 50.0  # orders per second
HORIZON = 600.0  # simulated seconds
TARGET_SECONDS = 5.0  # wall-clock seconds for one HORIZON run


def build(seed: int) -> ev.Simulation:
    """The order flow: orders -> payment, inventory, notification."""
    sim = ev.Simulation(seed=seed)
    retry = ev.Retry(3, ev.Backoff(0.05, cap=1.0, jitter="full"))
    sim.service("payment", workers=8, service_time=ev.Exponential(mean=0.08))
    sim.service("inventory", workers=4, service_time=ev.Exponential(mean=0.03))
    sim.service("notification", workers=2, service_time=ev.Exponential(mean=0.01))
    sim.service(
        "orders",
        workers=32,
        service_time=ev.Exponential(mean=0.005),
        calls=[
            ev.Call("payment", timeout=1.0, retry=retry, breaker=ev.CircuitBreaker(),
                    budget=ev.TokenBucket()),
            ev.Call("inventory", timeout=0.5, retry=retry),
            ev.Call("notification", timeout=0.5, retry=retry),
        ],
    )  # fmt: skip
    sim.client("shop", "orders", ev.Poisson(rate=RATE), keys=ev.UniformKeys(1_000), timeout=3.0)
    return sim


def run(seed: int, horizon: float = HORIZON) -> tuple[float, int, float]:
    """One run: wall-clock seconds, ok requests and their p99 latency (seconds)."""
    gc.collect()
    start = time.perf_counter()
    result = build(seed).run(until=horizon)
    row = result.summary().loc["shop"]
    return time.perf_counter() - start, int(row["ok"]), float(row["latency_p99"])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=float, default=HORIZON, help="simulated seconds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="60 s simulated, 2 rounds")
    args = parser.parse_args(argv)
    horizon, rounds = (60.0, 2) if args.quick else (args.horizon, args.rounds)
    walls = []
    for seed in range(1, rounds + 1):
        wall, ok, p99 = run(seed, horizon)
        walls.append(wall)
        print(f"  seed {seed}: {wall:.2f} s wall, {ok:,} orders ok, p99 {p99 * 1000:.0f} ms")
    median = statistics.median(walls)
    scaled = median * HORIZON / horizon
    verdict = "met" if scaled < TARGET_SECONDS else "MISSED"
    print(
        f"order flow, {horizon:g} s simulated at {RATE:g}/s: median {median:.2f} s wall "
        f"({scaled:.2f} s per {HORIZON:g} s; target < {TARGET_SECONDS:g} s: {verdict})"
    )
    return {"median_seconds": median, "seconds_per_horizon": scaled}


if __name__ == "__main__":
    main()
