"""Speed of ``ev.compare``: the default table and its chart, wall-clock seconds.

``ev.compare()`` with its default knobs runs 36 simulations (the order flow built
event-driven and request-response: a baseline, an inventory outage and a latency spike
of 120 s each, and a scalability sweep of 5 rates x 3 payment slowdowns of 30 s each),
on a process pool of one worker per core; then ``ev.compare_chart`` draws the six panels
and the figure is saved as a PNG. The target (issue 16): both in under 30 s on the
machine of README.md. The script prints each round's time and the median.

    python benchmarks/compare.py              # 3 rounds (seeds 1-3)
    python benchmarks/compare.py --quick      # 1 round
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import evsim as ev

TARGET_SECONDS = 30.0  # wall-clock seconds for the default table and chart


def run(seed: int) -> tuple[float, int]:
    """One round: wall-clock seconds for the table and the saved chart, and its rows."""
    start = time.perf_counter()
    table = ev.compare(seed=seed)
    axes = ev.compare_chart(table)
    with tempfile.TemporaryDirectory() as folder:
        axes[0].figure.savefig(Path(folder) / "compare.png")
    plt.close("all")
    return time.perf_counter() - start, len(table)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round")
    args = parser.parse_args(argv)
    walls = []
    for seed in range(1, (1 if args.quick else args.rounds) + 1):
        wall, rows = run(seed)
        walls.append(wall)
        print(f"  seed {seed}: {wall:.2f} s wall, {rows} rows")
    median = statistics.median(walls)
    verdict = "met" if median < TARGET_SECONDS else "MISSED"
    print(
        f"ev.compare, default knobs, table and chart: median {median:.2f} s wall "
        f"(target < {TARGET_SECONDS:g} s: {verdict})"
    )
    return {"median_seconds": median, "target": TARGET_SECONDS}


if __name__ == "__main__":
    main()
