"""Speed: one M/M/4 workload in evsim, raw SimPy and Ciw, alternating in one process.

The workload: Poisson arrivals at 3.6 per second, exponential service with mean 1 s, four
servers sharing one first-come-first-served queue (utilisation 0.9), run until
``events / 3.6`` seconds of simulated time, so about ``events`` customers arrive.

- **evsim**: a queue read by a consumer group of 4 consumers, full recording (the default),
  ``result.summary()`` read at the end (its ``processed`` and ``latency_mean``).
- **raw SimPy**: a source process that starts one process per customer; each requests a
  ``simpy.Resource(capacity=4)``, holds an exponential service time, releases, and appends
  its time in system to a list. Random numbers come from a ``numpy.random.Generator`` in
  blocks of 4,096 (as evsim's samplers do), so neither side pays a NumPy call per draw.
- **Ciw**: ``ciw.create_network`` with exponential arrivals (rate 3.6) and service (rate 1),
  4 servers; ``ciw.Simulation(N).simulate_until_max_time(T)``; the records read at the end.

Each implementation returns (customers completed, mean time in system in seconds). The
wall time (``time.perf_counter``) covers building the model, running it and reading the
result. The three run in rotating order for ``--rounds`` rounds (same seed for all three
within a round); the script prints the median events per second (completed customers per
wall-clock second) of each, the ratios of the medians, and each mean time in system next to
the M/M/4 value from Erlang C as a sanity check. Because a shared machine's load drifts, it
also prints the same rates from the process's CPU time and the median of the per-round
(paired) ratios; the headline figures are the wall-clock ones.

    python benchmarks/mm4.py                # 200,000 events, 5 rounds
    python benchmarks/mm4.py --quick        # 20,000 events, 2 rounds (a smoke test)
    python benchmarks/mm4.py --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import simpy

import evsim as ev

try:
    import ciw
except ImportError:  # the bench extra is not installed: the Ciw runs are skipped
    ciw = None

ARRIVAL_RATE = 3.6  # per second
SERVICE_MEAN = 1.0  # seconds
SERVERS = 4
DEFAULT_EVENTS = 200_000
DEFAULT_ROUNDS = 5
QUICK_EVENTS = 20_000
QUICK_ROUNDS = 2
BLOCK = 4096

Outcome = tuple[int, float]  # (customers completed, mean time in system in seconds)


def horizon(events: int, arrival_rate: float = ARRIVAL_RATE) -> float:
    """Simulated seconds in which about ``events`` customers arrive."""
    return events / arrival_rate


# Each run_* takes the number of events and a seed; ``arrival_rate`` is there for the smoke
# test, which checks the mean time in system at a lower load where 2,000 events suffice.


def run_evsim(
    events: int, seed: int, arrival_rate: float = ARRIVAL_RATE, record: str = "full"
) -> Outcome:
    """The workload in evsim: a queue and a group of 4 consumers, fully recorded (or with
    ``record="summary"``, for the memory benchmark)."""
    sim = ev.Simulation(seed=seed, record=record)
    sim.queue("q")
    sim.producer("p", "q", ev.Poisson(rate=arrival_rate))
    sim.consumer_group("g", "q", consumers=SERVERS, service_time=ev.Exponential(mean=SERVICE_MEAN))
    result = sim.run(until=horizon(events, arrival_rate))
    row = result.summary().loc["g"]
    return int(row["processed"]), float(row["latency_mean"])


def _exponential_blocks(rng: np.random.Generator, mean: float) -> Callable[[], float]:
    """A zero-argument function returning exponential draws, fetched 4,096 at a time."""
    buffer: list[float] = []

    def draw() -> float:
        if not buffer:
            buffer.extend(rng.exponential(mean, BLOCK).tolist()[::-1])
        return buffer.pop()

    return draw


def run_simpy(events: int, seed: int, arrival_rate: float = ARRIVAL_RATE) -> Outcome:
    """The workload in plain SimPy: one process per customer and a Resource of 4."""
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=SERVERS)
    arrivals_rng, service_rng = np.random.default_rng(seed).spawn(2)
    interarrival = _exponential_blocks(arrivals_rng, 1.0 / arrival_rate)
    service = _exponential_blocks(service_rng, SERVICE_MEAN)
    times: list[float] = []

    def customer():
        arrived = env.now
        with servers.request() as request:
            yield request
            yield env.timeout(service())
        times.append(env.now - arrived)

    def source():
        while True:
            yield env.timeout(interarrival())
            env.process(customer())

    env.process(source())
    env.run(until=horizon(events, arrival_rate))
    return len(times), (math.fsum(times) / len(times) if times else math.nan)


def run_ciw(events: int, seed: int, arrival_rate: float = ARRIVAL_RATE) -> Outcome:
    """The workload in Ciw: one node, 4 servers, exponential arrivals and service."""
    if ciw is None:
        raise RuntimeError("Ciw is not installed: pip install -e '.[bench]' (or make bench)")
    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrival_rate)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / SERVICE_MEAN)],
        number_of_servers=[SERVERS],
    )
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(horizon(events, arrival_rate))
    records = simulation.get_all_records()
    total = math.fsum(r.exit_date - r.arrival_date for r in records)
    return len(records), (total / len(records) if records else math.nan)


IMPLEMENTATIONS: dict[str, Callable[[int, int], Outcome]] = {
    "evsim": run_evsim,
    "simpy": run_simpy,
    "ciw": run_ciw,
}


def theory_time_in_system(arrival_rate: float = ARRIVAL_RATE) -> tuple[float, str]:
    """W for this workload from Erlang C, and where it came from."""
    metrics = ev.theory.mmc(arrival_rate, 1.0 / SERVICE_MEAN, SERVERS)
    return float(metrics.w), "evsim.analysis.theory.mmc"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "simpy": simpy.__version__,
        "ciw": ciw.__version__ if ciw is not None else "not installed",
        "evsim": ev.__version__,
    }


def time_one(name: str, events: int, seed: int) -> dict[str, float]:
    """Run one implementation once: its completed count, mean time in system, wall time
    (``perf_counter``) and CPU time of this process (``process_time``)."""
    gc.collect()
    cpu_start, start = time.process_time(), time.perf_counter()
    completed, mean_w = IMPLEMENTATIONS[name](events, seed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "completed": completed,
        "mean_w": mean_w,
        "wall": wall,
        "cpu": cpu,
        "rate": completed / wall,
        "cpu_rate": completed / cpu if cpu > 0 else math.nan,
    }


def benchmark(
    events: int,
    rounds: int,
    seed: int = 1,
    names: tuple[str, ...] = tuple(IMPLEMENTATIONS),
    log: Callable[[str], None] = print,
) -> dict:
    """Alternate the implementations for ``rounds`` rounds; the runs and their medians."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            run = time_one(name, events, seed + r)
            runs[name].append(run)
            log(
                f"  round {r + 1}/{rounds}  {name:<6} {run['completed']:>9,} customers "
                f"in {run['wall']:7.3f} s (CPU {run['cpu']:7.3f} s) = "
                f"{run['rate']:>9,.0f} events/s  W = {run['mean_w']:.4f} s"
            )
    medians = {name: statistics.median(x["rate"] for x in runs[name]) for name in names}
    cpu_medians = {name: statistics.median(x["cpu_rate"] for x in runs[name]) for name in names}
    mean_w = {name: statistics.fmean(x["mean_w"] for x in runs[name]) for name in names}
    ratios, cpu_ratios, paired_ratios = {}, {}, {}
    if "evsim" in medians:
        for other in names:
            if other != "evsim":
                label = f"evsim/{other}"
                ratios[label] = medians["evsim"] / medians[other]
                cpu_ratios[label] = cpu_medians["evsim"] / cpu_medians[other]
                paired_ratios[label] = statistics.median(
                    a["rate"] / b["rate"] for a, b in zip(runs["evsim"], runs[other], strict=True)
                )
    w_theory, source = theory_time_in_system()
    return {
        "events": events,
        "rounds": rounds,
        "seed": seed,
        "runs": runs,
        "median_events_per_s": medians,
        "median_cpu_events_per_s": cpu_medians,
        "mean_w": mean_w,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "paired_ratios": paired_ratios,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "theory_w": w_theory,
        "theory_source": source,
        "machine": machine(),
    }


def report(results: dict) -> str:
    """The printed table of a :func:`benchmark` result."""
    w = results["theory_w"]
    lines = [
        f"M/M/4 (λ = {ARRIVAL_RATE}/s, E[S] = {SERVICE_MEAN} s, ρ = 0.9): "
        f"{results['events']:,} events, {results['rounds']} rounds, median of rounds",
        f"{'implementation':<15}{'events/s':>12}{'(by CPU)':>12}"
        f"{'mean W (s)':>13}{'theory W':>11}{'error':>9}",
    ]
    for name, rate in results["median_events_per_s"].items():
        mean_w, cpu_rate = results["mean_w"][name], results["median_cpu_events_per_s"][name]
        lines.append(
            f"{name:<15}{rate:>12,.0f}{cpu_rate:>12,.0f}"
            f"{mean_w:>13.4f}{w:>11.4f}{(mean_w - w) / w:>+9.1%}"
        )
    lines.append(f"(theory W from {results['theory_source']}; mean W averaged over rounds)")
    lines.append(f"{'ratio':<15}{'wall':>12}{'(by CPU)':>12}{'(paired)':>12}")
    for label, ratio in results["ratios"].items():
        cpu, paired = results["cpu_ratios"][label], results["paired_ratios"][label]
        lines.append(f"{label:<15}{ratio:>11.2f}×{cpu:>11.2f}×{paired:>11.2f}×")
    lines.append(
        "(wall: ratio of the medians of wall-clock events/s, the headline figure; by CPU: the "
        "same from\n this process's CPU time; paired: median over rounds of the ratio within "
        "a round)"
    )
    load = results.get("load_average")
    if load is not None:
        lines.append(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return "\n".join(lines)


def machine_report(info: dict[str, str]) -> str:
    return "machine: " + ", ".join(f"{key} {value}" for key, value in info.items())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None, help="arrivals (default 200000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="20,000 events, 2 rounds")
    parser.add_argument("--seed", type=int, default=1, help="seed of round 1 (default 1)")
    parser.add_argument(
        "--only", choices=list(IMPLEMENTATIONS), action="append", help="run only these"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = QUICK_EVENTS if args.quick else DEFAULT_EVENTS
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS
    if args.events < 1 or args.rounds < 1:
        parser.error("--events and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    names = tuple(args.only) if args.only else tuple(IMPLEMENTATIONS)
    if ciw is None and "ciw" in names:
        print("Ciw is not installed (pip install -e '.[bench]'): skipping it")
        names = tuple(n for n in names if n != "ciw")
    print(machine_report(machine()))
    results = benchmark(args.events, args.rounds, seed=args.seed, names=names)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
