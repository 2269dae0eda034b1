"""Peak memory of evsim runs, each case in a fresh Python process so peaks do not mix.

The workloads are those of ``workloads.py``: the M/M/4 ``queue`` of ``mm4.py``, a ``topic``
read by two groups, and a ``faulty`` system (crashes, transient and poison errors, retry
topics, a dead-letter topic and a queue with a DLQ). Each publishes about ``events``
events; ``result.summary()`` is read at the end of every case.

Cases (each a subprocess of this script with ``--child``):

- ``baseline``: only imports the workloads (evsim, NumPy, pandas, SimPy, Ciw);
- ``full``: the queue workload, 1,000,000 events with full recording (the default);
- ``summary``: every workload with ``record="summary"``, 1,000,000 and 10,000,000 events.

A child reads its peak resident set size when it is done; the figure reported is that peak
minus the baseline's, i.e. what the run itself added on top of the imports. The peak is
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux, bytes on macOS), except that on
Linux the child reports ``VmHWM`` from ``/proc/self/status`` when it is lower: Linux carries
the *parent's* peak over into ``ru_maxrss`` across ``exec``, so a child started from a
process that has already used 300 MB reports at least 300 MB. (``run.py`` therefore starts
this script in its own lean process too.) Targets: under 600 MB for 1M events fully recorded;
in summary mode, for every workload, 10M events within about 10% of 1M (flat: memory does
not grow with the length of the run).

    python benchmarks/memory.py            # 1M full; 1M and 10M summary, each workload
    python benchmarks/memory.py --quick    # 100k full; 100k and 300k summary
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

FULL_LIMIT_MB = 600.0
FLAT_TOLERANCE = 0.10  # summary mode: the long run's net peak within 10% of the short one's
FLAT_SLACK_MB = 2.0  # ... or within this many MB, when the net peaks are too small for 10%
MB = 1_000_000  # bytes; peaks are reported in MB (10^6 bytes)
WORKLOAD_NAMES = ("queue", "topic", "faulty")  # workloads.WORKLOADS, without importing evsim

FULL_WORKLOAD = "queue"  # the one full recording is measured on (the M/M/4 of mm4.py)


def maxrss_bytes() -> int:
    """``ru_maxrss`` of this process, in bytes (it may include the parent's peak)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if platform.system() == "Darwin" else peak * 1024


def hwm_bytes() -> int | None:
    """Linux's peak resident set size of this process's own memory (VmHWM), in bytes."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def peak_bytes() -> dict[str, int]:
    """The peak to report, and both readings it was chosen from."""
    maxrss, hwm = maxrss_bytes(), hwm_bytes()
    peak = maxrss if hwm is None else min(maxrss, hwm)
    return {"maxrss_bytes": peak, "ru_maxrss_bytes": maxrss, "vmhwm_bytes": hwm or 0}


# --- the child side -----------------------------------------------------------------


def child(case: str, workload: str, events: int, seed: int) -> dict:
    """Run one case in this (fresh) process and report its peak."""
    import workloads  # imports evsim and mm4: the baseline imports it too, so it cancels

    start = time.perf_counter()
    out: dict = {"case": case, "workload": workload, "events": events}
    if case != "baseline":
        run = workloads.WORKLOADS[workload]
        out["processed"], out["latency_mean"] = run(events, seed, case)
    out["wall_s"] = time.perf_counter() - start
    out.update(peak_bytes())
    return out


# --- the parent side ----------------------------------------------------------------


def run_case(case: str, workload: str, events: int, seed: int = 1) -> dict:
    """Run ``case`` in a fresh interpreter; its report (a dict)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case]
    command += ["--workload", workload, "--events", str(events), "--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"memory case {case} {workload} ({events:,} events) failed with exit code "
            f"{done.returncode}:\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    full_events: int, summary_events: tuple[int, int], workloads: list[str], seed: int = 1,
    log=print,
) -> dict:  # fmt: skip
    """Baseline, full recording and the summary-mode runs; peaks net of the baseline."""
    base = run_case("baseline", FULL_WORKLOAD, 0, seed)["maxrss_bytes"]
    log(f"  baseline (imports only): peak {base / MB:.1f} MB")
    plan = [("full", FULL_WORKLOAD, full_events)]
    plan += [("summary", name, n) for name in workloads for n in summary_events]
    cases = []
    for case, workload, events in plan:
        out = run_case(case, workload, events, seed)
        out["net_bytes"] = out["maxrss_bytes"] - base
        log(
            f"  {case:<7} {workload:<6} {events:>11,} events: peak "
            f"{out['maxrss_bytes'] / MB:8.1f} MB, net {out['net_bytes'] / MB:8.1f} MB  "
            f"({out['processed']:,} processed, {out['wall_s']:.1f} s)"
        )
        cases.append(out)
    return {"baseline_bytes": base, "cases": cases, **verdicts(cases)}


def verdicts(cases: list[dict]) -> dict:
    """The targets: full recording under 600 MB net; summary mode flat for each workload."""
    (full,) = [c for c in cases if c["case"] == "full"]
    flat = {}
    for name in dict.fromkeys(c["workload"] for c in cases if c["case"] == "summary"):
        runs = [c for c in cases if c["case"] == "summary" and c["workload"] == name]
        short, long = sorted(runs, key=lambda c: c["events"])
        a, b = short["net_bytes"] / MB, long["net_bytes"] / MB
        flat[name] = {
            "short_mb": a,
            "long_mb": b,
            "growth": (b - a) / a if a > 0 else None,
            "met": b <= max(a * (1 + FLAT_TOLERANCE), a + FLAT_SLACK_MB),
        }
    return {
        "full_workload": FULL_WORKLOAD,
        "full_target_mb": FULL_LIMIT_MB,
        "full_net_mb": full["net_bytes"] / MB,
        "full_met": full["net_bytes"] / MB < FULL_LIMIT_MB,
        "summary": flat,
        "flat_met": all(entry["met"] for entry in flat.values()),
    }


def flat_line(name: str, entry: dict, summary_events: tuple[int, int]) -> str:
    """One workload's summary-mode verdict, as report() and run.py print it."""
    growth = f"{entry['long_mb'] - entry['short_mb']:+.1f} MB"
    if entry["growth"] is not None:
        growth += f", {entry['growth']:+.1%}"
    return (
        f"record='summary', {name}: {summary_events[0]:,} events {entry['short_mb']:.1f} MB, "
        f"{summary_events[1]:,} events {entry['long_mb']:.1f} MB ({growth}; flat: "
        f"{'met' if entry['met'] else 'MISSED'})"
    )


def report(results: dict, full_events: int, summary_events: tuple[int, int]) -> str:
    lines = [
        "peak memory (net of the imports); workloads: benchmarks/workloads.py",
        f"  full recording, {results['full_workload']}, {full_events:,} events: "
        f"{results['full_net_mb']:.1f} MB (target < {FULL_LIMIT_MB:.0f} MB: "
        f"{'met' if results['full_met'] else 'MISSED'})",
    ]
    lines += [f"  {flat_line(n, e, summary_events)}" for n, e in results["summary"].items()]
    lines.append(
        f"  (flat: the long run within {FLAT_TOLERANCE:.0%} or {FLAT_SLACK_MB:.0f} MB of the short)"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k full, 100k and 300k summary")
    parser.add_argument("--full-events", type=int, default=None)
    parser.add_argument("--summary-events", type=int, nargs=2, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--workload", action="append", choices=WORKLOAD_NAMES, default=None,
        help="summary-mode workloads to measure (repeat; default: all)",
    )  # fmt: skip
    parser.add_argument("--child", choices=["baseline", "full", "summary"], help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.workload = args.workload or list(WORKLOAD_NAMES)
    if args.full_events is None:
        args.full_events = 100_000 if args.quick else 1_000_000
    if args.summary_events is None:
        args.summary_events = (100_000, 300_000) if args.quick else (1_000_000, 10_000_000)
    return args


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.workload[0], args.events, args.seed)))
        return None
    summary_events = tuple(args.summary_events)
    print(f"memory: each case in a fresh process ({sys.executable})")
    results = measure(args.full_events, summary_events, args.workload, seed=args.seed)
    results["full_events"], results["summary_events"] = args.full_events, summary_events
    print(report(results, args.full_events, summary_events))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
