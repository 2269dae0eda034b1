"""A/B: the M/M/4 workload on two evsim source trees, alternating within one process.

On a shared VM the speed drifts by 10-30 % over seconds, more than most single changes
gain, so two separate benchmark runs cannot tell a 4 % change apart. This imports both
trees into one process (each under the name ``evsim``, swapping ``sys.modules`` before
each run), runs short ``mm4.py``-like workloads A, B, B, A, ... back to back, and prints
the median of the paired ratios B/A with their quartiles. An A/A run shows the noise
floor (quartiles about +-5 % with 40 pairs of 20,000 events on the VM of README.md).

    git worktree add /tmp/before HEAD~1
    python benchmarks/ab.py /tmp/before .            # B/A > 1: the working tree is faster
    python benchmarks/ab.py . . --pairs 10           # A/A: the noise floor
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

import mm4  # the sibling script: the workload is its run_evsim


def load(tree: Path) -> dict[str, ModuleType]:
    """Import the evsim package of source tree ``tree``; its modules by name."""
    for name in [n for n in sys.modules if n == "evsim" or n.startswith("evsim.")]:
        del sys.modules[name]
    sys.path.insert(0, str(tree))
    try:
        package = importlib.import_module("evsim")
        for module in pkgutil.iter_modules(package.__path__, "evsim."):
            importlib.import_module(module.name)  # also those the package imports lazily
    finally:
        sys.path.pop(0)
    return {n: m for n, m in sys.modules.items() if n == "evsim" or n.startswith("evsim.")}


def events_per_second(modules: dict[str, ModuleType], events: int, seed: int) -> float:
    """One ``mm4.run_evsim`` run with the evsim of ``modules``."""
    sys.modules.update(modules)
    mm4.ev = modules["evsim"]
    started = time.perf_counter()
    processed, _ = mm4.run_evsim(events, seed)
    return processed / (time.perf_counter() - started)


def compare(a: Path, b: Path, pairs: int, events: int) -> list[float]:
    """The ratio B/A of events per second for each pair (alternating which runs first).

    The evsim modules imported before the call are back in ``sys.modules`` after it.
    """
    before = {n: m for n, m in sys.modules.items() if n == "evsim" or n.startswith("evsim.")}
    try:
        trees = {"A": load(a), "B": load(b)}
        ratios = []
        for pair in range(pairs):
            gc.collect()
            order = ("A", "B") if pair % 2 == 0 else ("B", "A")
            rate = {name: events_per_second(trees[name], events, pair) for name in order}
            ratios.append(rate["B"] / rate["A"])
        return ratios
    finally:
        for name in [n for n in sys.modules if n == "evsim" or n.startswith("evsim.")]:
            del sys.modules[name]
        sys.modules.update(before)
        mm4.ev = before.get("evsim", mm4.ev)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="source tree A (contains evsim/)")
    parser.add_argument("b", type=Path, help="source tree B")
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    for tree in (args.a, args.b):
        if not (tree / "evsim" / "__init__.py").is_file():
            parser.error(f"{tree}: no evsim/__init__.py there (give a source tree's root)")
    ratios = compare(args.a.resolve(), args.b.resolve(), args.pairs, args.events)
    low, median, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    print(f"B/A events per second, median of {len(ratios)} pairs: {median:.3f} "
          f"(quartiles {low:.3f}-{high:.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
