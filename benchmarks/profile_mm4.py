"""Profile the evsim side of the M/M/4 benchmark and write a text report.

Runs ``mm4.run_evsim`` (a queue, 4 consumers, full recording, summary read) under
pyinstrument (a sampling profiler: low overhead, a call tree plus a flat list of functions by
their own time) and under cProfile (deterministic: exact call counts, but its per-call
overhead inflates small functions), and writes both to one text file. Without pyinstrument
(the ``bench`` extra not installed) only cProfile runs.

    python benchmarks/profile_mm4.py                       # 200,000 events -> build/profile-mm4.txt
    python benchmarks/profile_mm4.py --events 50000 --out /tmp/p.txt --tool pyinstrument
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from pathlib import Path

import mm4  # the sibling script: this one runs from benchmarks/, which is on sys.path

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "build" / "profile-mm4.txt"


def with_pyinstrument(run, events: int, seed: int, limit: int) -> str:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    start = time.perf_counter()
    completed, mean_w = run(events, seed)
    wall = time.perf_counter() - start
    profiler.stop()
    head = f"{completed:,} customers in {wall:.2f} s under pyinstrument (W = {mean_w:.4f} s)\n"
    tree = profiler.output_text(unicode=True, color=False, show_all=False)
    return (
        head
        + "\n--- pyinstrument: functions by own (self) time ---\n"
        + own_time_table(profiler.last_session.root_frame(), limit)
        + "\n--- pyinstrument: call tree ---\n"
        + tree
    )


def own_time_table(root, limit: int) -> str:
    """Functions by own time (a frame's time minus its children's), summed over call sites.

    Computed from the raw sample tree: pyinstrument's own flat view lumps the synthetic
    "[self]" frames of different files together.
    """
    own: dict[tuple[str, str, int], float] = {}
    stack = [root]
    while stack:
        frame = stack.pop()
        children = frame.children
        stack.extend(children)
        if frame.is_synthetic:  # a "[self]"/"[await]" leaf: its time is its parent's own
            continue
        self_time = frame.time - sum(c.time for c in children if not c.is_synthetic)
        name = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
        key = (name, frame.file_path_short or "", frame.line_no or 0)
        own[key] = own.get(key, 0.0) + self_time
    total = root.time or 1.0
    rows = sorted(own.items(), key=lambda item: item[1], reverse=True)[:limit]
    lines = [f"{'own s':>8} {'share':>7}  function"]
    for (function, path, line), seconds in rows:
        lines.append(f"{seconds:8.3f} {seconds / total:7.1%}  {function}  {path}:{line}")
    return "\n".join(lines) + "\n"


def with_cprofile(run, events: int, seed: int, limit: int) -> str:
    profiler = cProfile.Profile()
    start = time.perf_counter()
    completed, mean_w = profiler.runcall(run, events, seed)
    wall = time.perf_counter() - start
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    out.write(f"{completed:,} customers in {wall:.2f} s under cProfile (W = {mean_w:.4f} s)\n")
    out.write("\n--- cProfile: by own time (tottime) ---\n")
    stats.sort_stats("tottime").print_stats(limit)
    out.write("\n--- cProfile: by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="arrivals (default 200000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--tool", choices=["both", "pyinstrument", "cprofile"], default="both")
    parser.add_argument("--limit", type=int, default=30, help="rows of each table (default 30)")
    args = parser.parse_args(argv)

    print(mm4.machine_report(mm4.machine()))
    parts = [
        f"evsim M/M/4 profile: {args.events:,} events, seed {args.seed}\n"
        + mm4.machine_report(mm4.machine())
        + "\n"
    ]
    tools = ["pyinstrument", "cprofile"] if args.tool == "both" else [args.tool]
    if "pyinstrument" in tools:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            print("pyinstrument is not installed (pip install -e '.[bench]'): cProfile only")
            tools = ["cprofile"]
    for tool in tools:
        print(f"profiling with {tool} ...")
        if tool == "pyinstrument":
            parts.append(with_pyinstrument(mm4.run_evsim, args.events, args.seed, args.limit))
        else:
            parts.append(with_cprofile(mm4.run_evsim, args.events, args.seed, args.limit))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n\n".join(parts))
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
