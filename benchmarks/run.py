"""The benchmarks `make bench` runs: speed (mm4.py, then the request side's
service_pool.py and order_flow.py, then ev.compare's compare.py), then peak memory
(memory.py).

Prints each part's report, then a summary block with the ratios, the peaks and whether each
target is met. It is a report, not a test: the exit code is 0 even when a target is MISSED
(it is non-zero only if a benchmark itself fails).

    python benchmarks/run.py            # 200,000 events x 5 rounds; 1M full, 1M + 10M summary
    python benchmarks/run.py --quick    # 20,000 x 2 rounds; 100k full, 100k + 300k summary
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

_HERE = Path(__file__).resolve().parent

SPEED_TARGETS = {"evsim/simpy": 1.0, "evsim/ciw": 2.0}
SERVICE_POOL_TARGET = 1.0  # evsim service / raw SimPy (issue 15)


def mark(met: bool) -> str:
    return "met" if met else "MISSED"


def summary_block(speed: dict, requests: dict, mem: dict, machine: str) -> str:
    import memory  # the sibling script (light: it imports evsim only in its children)

    lines = ["", "=" * 78, "SUMMARY", machine]
    rates = speed["median_events_per_s"]
    lines.append(
        "events/s (median): " + ", ".join(f"{name} {rate:,.0f}" for name, rate in rates.items())
    )
    for label, target in SPEED_TARGETS.items():
        ratio = speed["ratios"].get(label)
        if ratio is None:
            lines.append(f"{label}: not measured (target >= {target:.1f}x)")
        else:
            verdict = mark(ratio >= target)
            cpu, paired = speed["cpu_ratios"][label], speed["paired_ratios"][label]
            lines.append(
                f"{label}: {ratio:.2f}x  (target >= {target:.1f}x: {verdict})"
                f"   [by CPU time {cpu:.2f}x, paired {paired:.2f}x]"
            )
    pool, flow = requests["service_pool"], requests["order_flow"]
    lines.append(
        f"service pool, evsim service/simpy: {pool['ratio']:.2f}x  (target >= "
        f"{SERVICE_POOL_TARGET:.1f}x: {mark(pool['ratio'] >= SERVICE_POOL_TARGET)})"
        f"   [paired {pool['paired']:.2f}x]"
    )
    lines.append(
        f"order flow, 600 s at 50 orders/s: {flow['seconds_per_horizon']:.2f} s wall  "
        f"(target < {flow['target']:.0f} s: {mark(flow['seconds_per_horizon'] < flow['target'])})"
    )
    table = requests["compare"]
    lines.append(
        f"ev.compare, default knobs, table and chart: {table['median_seconds']:.2f} s wall  "
        f"(target < {table['target']:.0f} s: {mark(table['median_seconds'] < table['target'])})"
    )
    w = speed["theory_w"]
    lines.append(
        f"mean time in system vs M/M/4 theory {w:.4f} s: "
        + ", ".join(f"{name} {(v - w) / w:+.1%}" for name, v in speed["mean_w"].items())
    )
    lines.append(
        f"peak memory, {mem['full_events']:,} events fully recorded ({mem['full_workload']}): "
        f"{mem['full_net_mb']:.1f} MB net  (target < {mem['full_target_mb']:.0f} MB: "
        f"{mark(mem['full_met'])})"
    )
    events = tuple(mem["summary_events"])
    lines += [f"peak memory, {memory.flat_line(n, e, events)}" for n, e in mem["summary"].items()]
    lines.append("=" * 78)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--events", type=int, default=None, help="mm4.py --events")
    parser.add_argument("--rounds", type=int, default=None, help="mm4.py --rounds")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    args = parser.parse_args(argv)

    import compare  # the sibling scripts: this one runs from benchmarks/, which is on sys.path
    import mm4
    import order_flow
    import service_pool

    started = datetime.now(UTC)
    t0 = time.perf_counter()

    speed_argv = ["--quick"] if args.quick else []
    if args.events is not None:
        speed_argv += ["--events", str(args.events)]
    if args.rounds is not None:
        speed_argv += ["--rounds", str(args.rounds)]
    print("## speed: benchmarks/mm4.py", *speed_argv)
    speed = mm4.main(speed_argv)
    print("\n## request side: benchmarks/service_pool.py, order_flow.py, compare.py", *speed_argv)
    requests = {
        "service_pool": service_pool.main(speed_argv),
        "order_flow": {**order_flow.main(["--quick"] if args.quick else []),
                       "target": order_flow.TARGET_SECONDS},
        "compare": compare.main(["--quick"] if args.quick else []),
    }  # fmt: skip

    # memory.py runs in a process of its own: its cases are its subprocesses, and on Linux
    # a child's ru_maxrss starts from its parent's peak, which is large in this process now.
    memory_argv = ["--quick"] if args.quick else []
    print("\n## memory: benchmarks/memory.py", *memory_argv, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "memory.json"
        command = [sys.executable, str(_HERE / "memory.py"), *memory_argv, "--json", str(out)]
        subprocess.run(command, check=True)
        mem = json.loads(out.read_text())

    print(summary_block(speed, requests, mem, mm4.machine_report(speed["machine"])))
    print(f"(started {started:%Y-%m-%d %H:%M} UTC, took {time.perf_counter() - t0:.0f} s)")
    if args.json:
        payload = {"started": started.isoformat(), "speed": speed, "requests": requests,
                   "memory": mem}  # fmt: skip
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
