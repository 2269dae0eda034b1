"""Peak memory of evsim runs, each case in a fresh Python process so peaks do not mix.

The workload is the M/M/4 queue of ``mm4.py`` (Poisson arrivals at 3.6/s into one queue,
4 consumers with exponential service of mean 1 s) run until ``events / 3.6`` simulated
seconds, so about ``events`` events are published and processed; ``result.summary()`` is
read at the end of every case.

Cases (each a subprocess of this script with ``--child``):

- ``baseline``: only imports the workload, ``mm4.py`` (evsim, NumPy, pandas, SimPy, Ciw);
- ``full``: 1,000,000 events with full recording (``record="full"``, the default);
- ``summary``: 1,000,000 and 10,000,000 events with ``record="summary"``.

A child reads its peak resident set size when it is done; the figure reported is that peak
minus the baseline's, i.e. what the run itself added on top of the imports. The peak is
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux, bytes on macOS), except that on
Linux the child reports ``VmHWM`` from ``/proc/self/status`` when it is lower: Linux carries
the *parent's* peak over into ``ru_maxrss`` across ``exec``, so a child started from a
process that has already used 300 MB reports at least 300 MB. (``run.py`` therefore starts
this script in its own lean process too.) Targets: under 600 MB for 1M events fully recorded;
in summary mode, 10M events within about 10% of 1M (flat: memory does not grow with the
length of the run).

    python benchmarks/memory.py            # 1M full, 1M and 10M summary
    python benchmarks/memory.py --quick    # 100k full, 100k and 300k summary
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

WORKLOAD = "M/M/4 queue: Poisson(3.6/s) into one queue, 4 consumers, Exponential(mean=1 s) service"


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


def child(case: str, events: int, seed: int) -> dict:
    """Run one case in this (fresh) process and report its peak."""
    import mm4  # the workload (it imports evsim): the baseline imports it too, so it cancels

    start = time.perf_counter()
    out: dict = {"case": case, "events": events}
    if case != "baseline":
        out["processed"], out["latency_mean"] = mm4.run_evsim(events, seed, record=case)
    out["wall_s"] = time.perf_counter() - start
    out.update(peak_bytes())
    return out


# --- the parent side ----------------------------------------------------------------


def run_case(case: str, events: int, seed: int = 1) -> dict:
    """Run ``case`` in a fresh interpreter; its report (a dict)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case]
    command += ["--events", str(events), "--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"memory case {case} ({events:,} events) failed with exit code "
            f"{done.returncode}:\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(full_events: int, summary_events: tuple[int, int], seed: int = 1, log=print) -> dict:
    """Baseline, full recording and the two summary-mode runs; peaks net of the baseline."""
    baseline = run_case("baseline", 0, seed)
    base = baseline["maxrss_bytes"]
    log(f"  baseline (imports only): peak {base / MB:.1f} MB")
    cases = []
    for case, events in [("full", full_events)] + [("summary", n) for n in summary_events]:
        out = run_case(case, events, seed)
        out["net_bytes"] = out["maxrss_bytes"] - base
        log(
            f"  {case:<7} {events:>11,} events: peak {out['maxrss_bytes'] / MB:8.1f} MB, "
            f"net {out['net_bytes'] / MB:8.1f} MB  ({out['processed']:,} processed, "
            f"{out['wall_s']:.1f} s)"
        )
        cases.append(out)
    return {"workload": WORKLOAD, "baseline_bytes": base, "cases": cases, **verdicts(cases)}


def verdicts(cases: list[dict]) -> dict:
    """The targets: full recording under 600 MB net; summary mode flat."""
    (full,) = [c for c in cases if c["case"] == "full"]
    short, long = sorted((c for c in cases if c["case"] == "summary"), key=lambda c: c["events"])
    a, b = short["net_bytes"] / MB, long["net_bytes"] / MB
    return {
        "full_target_mb": FULL_LIMIT_MB,
        "full_net_mb": full["net_bytes"] / MB,
        "full_met": full["net_bytes"] / MB < FULL_LIMIT_MB,
        "summary_short_mb": a,
        "summary_long_mb": b,
        "summary_growth": (b - a) / a if a > 0 else None,
        "flat_met": b <= max(a * (1 + FLAT_TOLERANCE), a + FLAT_SLACK_MB),
    }


def report(results: dict, full_events: int, summary_events: tuple[int, int]) -> str:
    change = results["summary_long_mb"] - results["summary_short_mb"]
    growth = f"{change:+.1f} MB"
    if results["summary_growth"] is not None:
        growth += f", {results['summary_growth']:+.1%}"
    lines = [
        f"peak memory (net of the imports), workload: {results['workload']}",
        f"  full recording, {full_events:,} events: {results['full_net_mb']:.1f} MB "
        f"(target < {FULL_LIMIT_MB:.0f} MB: {'met' if results['full_met'] else 'MISSED'})",
        f"  record='summary': {summary_events[0]:,} events {results['summary_short_mb']:.1f}"
        f" MB, {summary_events[1]:,} events {results['summary_long_mb']:.1f} MB "
        f"({growth}; target within {FLAT_TOLERANCE:.0%} "
        f"or {FLAT_SLACK_MB:.0f} MB: {'met' if results['flat_met'] else 'MISSED'})",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k full, 100k and 300k summary")
    parser.add_argument("--full-events", type=int, default=None)
    parser.add_argument("--summary-events", type=int, nargs=2, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--child", choices=["baseline", "full", "summary"], help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.full_events is None:
        args.full_events = 100_000 if args.quick else 1_000_000
    if args.summary_events is None:
        args.summary_events = (100_000, 300_000) if args.quick else (1_000_000, 10_000_000)
    return args


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.events, args.seed)))
        return None
    summary_events = tuple(args.summary_events)
    print(f"memory: each case in a fresh process ({sys.executable})")
    results = measure(args.full_events, summary_events, seed=args.seed)
    results["full_events"], results["summary_events"] = args.full_events, summary_events
    print(report(results, args.full_events, summary_events))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
