"""Count the Python bytecodes each M/M/4 customer costs, per module: a noise-free measure.

Wall-clock ratios on a shared VM swing by ±15 % from run to run; the number of bytecodes
the interpreter executes does not. This traces a short run of the ``mm4.py`` workload (in
evsim, or in raw SimPy) with ``sys.settrace`` opcode events and prints bytecodes per
completed customer, by module and for the busiest functions. Tracing makes the run ~50
times slower, so keep ``--events`` small; the counts per customer hardly depend on it.

    python benchmarks/opcodes.py                 # evsim, 5,000 events
    python benchmarks/opcodes.py --simpy         # the raw SimPy model, for comparison
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path
from types import FrameType
from typing import Any


def _module(filename: str) -> str:
    """A code object's file, as ``brokers/queue.py`` inside evsim (several subpackages
    hold a module of the same name), else its bare name."""
    path = Path(filename)
    parts = path.parts
    if "evsim" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("evsim") :])
    return path.name


def count(run: Any, events: int, seed: int) -> tuple[int, collections.Counter]:
    """Run ``run(events, seed)`` under an opcode tracer: (customers, opcodes per function)."""
    counts: collections.Counter = collections.Counter()

    def tracer(frame: FrameType, event: str, _arg: Any) -> Any:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            code = frame.f_code
            counts[(_module(code.co_filename), code.co_name)] += 1
        return tracer

    sys.settrace(tracer)
    try:
        completed, _ = run(events, seed)
    finally:
        sys.settrace(None)
    return completed, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--simpy", action="store_true", help="count the raw SimPy model")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    args = parser.parse_args(argv)
    import mm4  # the sibling script: this one runs from benchmarks/, which is on sys.path

    run = mm4.run_simpy if args.simpy else mm4.run_evsim
    completed, counts = count(run, args.events, args.seed)
    total = sum(counts.values())
    by_module: collections.Counter = collections.Counter()
    for (module, _), n in counts.items():
        by_module[module] += n
    print(f"{'raw SimPy' if args.simpy else 'evsim'}: {completed:,} customers, "
          f"{total / completed:,.0f} bytecodes per customer")  # fmt: skip
    for module, n in by_module.most_common(12):
        print(f"  {module:<24} {n / completed:8.1f}")
    print("busiest functions:")
    for (module, function), n in counts.most_common(args.top):
        print(f"  {module:<20} {function:<28} {n / completed:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
