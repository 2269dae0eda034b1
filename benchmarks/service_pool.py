"""Speed of the request-response side: an M/M/4 service against raw SimPy, in one run.

The workload of :mod:`mm4` (Poisson arrivals at 3.6 per second, exponential service of
mean 1 s, 4 servers, utilisation 0.9), built as a **service** with 4 workers fed by an
open-loop Poisson **client**, fully recorded (a row per request and per call), its
``summary()`` read at the end; against the same model hand-written in plain SimPy (a
Resource of 4 and one process per customer: :func:`mm4.run_simpy`). The two alternate
for ``--rounds`` rounds with the same seed per round; the script prints each one's median
requests per wall-clock second and the ratio of the medians (and of the per-round pairs).

    python benchmarks/service_pool.py            # 200,000 requests, 5 rounds
    python benchmarks/service_pool.py --quick    # 20,000 requests, 2 rounds
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mm4

import evsim as ev


def run_service(events: int, seed: int, arrival_rate: float = mm4.ARRIVAL_RATE) -> mm4.Outcome:
    """The workload as an evsim service and client, fully recorded: (requests ok, their
    mean latency in seconds)."""
    sim = ev.Simulation(seed=seed)
    sim.service("api", workers=mm4.SERVERS, service_time=ev.Exponential(mean=mm4.SERVICE_MEAN))
    sim.client("web", "api", ev.Poisson(rate=arrival_rate))
    row = sim.run(until=mm4.horizon(events, arrival_rate)).summary().loc["web"]
    return int(row["ok"]), float(row["latency_mean"])


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=mm4.DEFAULT_EVENTS)
    parser.add_argument("--rounds", type=int, default=mm4.DEFAULT_ROUNDS)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    events, rounds = (
        (mm4.QUICK_EVENTS, mm4.QUICK_ROUNDS) if args.quick else (args.events, args.rounds)
    )
    sides = {"evsim service": run_service, "simpy": mm4.run_simpy}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(rounds):
        for name in list(sides)[r % 2 :] + list(sides)[: r % 2]:
            gc.collect()
            start = time.perf_counter()
            completed, _ = sides[name](events, 1 + r)
            rates[name].append(completed / (time.perf_counter() - start))
            print(f"  round {r + 1}/{rounds}  {name:<14} {rates[name][-1]:>9,.0f} requests/s")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    ratio = medians["evsim service"] / medians["simpy"]
    paired = statistics.median(a / b for a, b in zip(*rates.values(), strict=True))
    print("median requests/s: " + ", ".join(f"{n} {v:,.0f}" for n, v in medians.items()))
    print(f"evsim service / simpy: {ratio:.2f} (paired per round: {paired:.2f})")
    return {"ratio": ratio, "paired": paired, **medians}


if __name__ == "__main__":
    main()
