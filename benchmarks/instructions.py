"""Machine instructions per M/M/4 customer in evsim, raw SimPy and Ciw: noise-free ratios.

On a shared VM the wall-clock ratios of ``mm4.py`` move by 0.1-0.2 from one run to the
next. Valgrind's callgrind counts the instructions a run executes (the same count on a busy
or an idle machine) and simulates the caches and branch predictor. This runs each
implementation of the ``mm4.py`` workload under callgrind at two sizes and divides the
difference by the difference in events (arriving customers), so start-up (imports,
building the model) drops out. It prints, per customer:

- ``Ir``: instructions executed;
- ``cycles``: valgrind's cycle estimate, Ir + 10 x (L1 misses) + 100 x (last-level misses)
  + 15 x (mispredicted branches), the closest it gets to time;

and the ratio of each to evsim's, i.e. how many times more work the other needs per
customer (2.0 against Ciw is the speed target's ratio).

    python benchmarks/instructions.py                   # 2,000 and 8,000 events (~15 min)
    python benchmarks/instructions.py --only evsim simpy
    python benchmarks/instructions.py --no-cache-sim    # Ir only, about 3 times faster

It needs ``valgrind`` on the PATH (Debian: ``apt install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ("evsim", "simpy", "ciw")
# valgrind's own weights for its cycle estimate; branch mispredictions as cg_annotate's docs
L1_MISS, LL_MISS, MISPREDICT = 10, 100, 15
RUN_ONE = "import sys, mm4; print(mm4.IMPLEMENTATIONS[sys.argv[1]](int(sys.argv[2]), 1))"


def totals(callgrind_file: Path) -> dict[str, int]:
    """The event totals (Ir, D1mr, ...) from a callgrind output file's summary line."""
    names: list[str] = []
    for line in callgrind_file.read_text().splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("summary:"):
            return dict(zip(names, map(int, line.split()[1:]), strict=True))
    raise ValueError(f"{callgrind_file}: no summary line (did valgrind fail?)")


def measure(name: str, events: int, cache_sim: bool, workdir: Path) -> dict[str, int]:
    """Run one implementation for ``events`` customers under callgrind; its event totals."""
    out = workdir / f"{name}.{events}.callgrind"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        *(["--cache-sim=yes", "--branch-sim=yes"] if cache_sim else []),
        sys.executable, "-c", RUN_ONE, name, str(events),
    ]  # fmt: skip
    # string hashing is salted per process, and dict probing differs with the salt
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, cwd=HERE, env=environment, check=True, capture_output=True)
    return totals(out)


def per_customer(small: dict[str, int], large: dict[str, int], customers: int) -> dict[str, float]:
    """Marginal Ir and cycle estimate per customer between two runs."""
    delta = {key: (large[key] - small[key]) / customers for key in small}
    result = {"Ir": delta["Ir"]}
    if "D1mr" in delta:
        l1 = delta["I1mr"] + delta["D1mr"] + delta["D1mw"]
        ll = delta["ILmr"] + delta["DLmr"] + delta["DLmw"]
        mispredicted = delta["Bcm"] + delta["Bim"]
        result["cycles"] = delta["Ir"] + L1_MISS * l1 + LL_MISS * ll + MISPREDICT * mispredicted
    return result


def report(costs: dict[str, dict[str, float]]) -> str:
    """The per-customer costs and each one's ratio to evsim's."""
    measures = list(next(iter(costs.values())))
    lines = [f"{'implementation':<16}" + "".join(f"{m + '/customer':>18}" for m in measures)]
    for name, cost in costs.items():
        lines.append(f"{name:<16}" + "".join(f"{cost[m]:>18,.0f}" for m in measures))
    if "evsim" in costs:
        lines.append("work per customer relative to evsim (the speed ratio it implies):")
        for name, cost in costs.items():
            if name != "evsim":
                ratios = "".join(f"{cost[m] / costs['evsim'][m]:>17.2f}x" for m in measures)
                lines.append(f"{'evsim/' + name:<16}" + ratios)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--small", type=int, default=2000, help="events in the first run")
    parser.add_argument("--large", type=int, default=8000, help="events in the second run")
    parser.add_argument("--no-cache-sim", action="store_true", help="count instructions only")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt install valgrind)", file=sys.stderr)
        return 2
    if args.large <= args.small:
        parser.error("--large must be more events than --small")
    costs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.only:
            runs = [
                measure(name, n, not args.no_cache_sim, Path(workdir))
                for n in (args.small, args.large)
            ]
            costs[name] = per_customer(*runs, args.large - args.small)
            print(
                f"{name}: " + ", ".join(f"{k} {v:,.0f}" for k, v in costs[name].items()), flush=True
            )
    print(report(costs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
