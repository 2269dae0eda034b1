"""The README's table of lessons, with run times measured, not typed by hand.

    python tools/lesson_table.py            # run every lesson, rewrite the README's table
    python tools/lesson_table.py --check    # the table lists exactly the lessons (no run)

Each lesson under ``notebooks/`` (not ``solutions/``) is executed top to bottom in a fresh
kernel, as nbval runs it in CI, and timed (wall-clock seconds, on the machine that runs
this script: the README names it). The row's text is the lesson's title (its first
heading) and the one line it says it teaches (``metadata.evsim.teaches``). The table
lives between ``<!-- lessons:start -->`` and ``<!-- lessons:end -->`` in README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOTEBOOKS = ROOT / "notebooks"
START, END = "<!-- lessons:start -->", "<!-- lessons:end -->"
BUDGET = 60.0  # seconds a lesson may take on the 2-core reference machine
ROW = re.compile(
    r"^\| \[`(?P<file>[^`]+)`\]\([^)]*\) \| (?P<title>[^|]+) \| (?P<teaches>[^|]+) \| "
)


@dataclass(frozen=True)
class Lesson:
    path: Path
    title: str
    teaches: str


def lessons() -> list[Lesson]:
    """Every lesson notebook, in file order, with its title and what it teaches."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(path.read_text())
        teaches = notebook.get("metadata", {}).get("evsim", {}).get("teaches")
        if not teaches:
            raise SystemExit(f"{path.name}: metadata.evsim.teaches is missing (one line)")
        found.append(Lesson(path, _title(notebook, path), teaches))
    return found


def _title(notebook: dict, path: Path) -> str:
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise SystemExit(f"{path.name}: no '# ' title in its markdown")


def run_time(path: Path) -> float:
    """Seconds to execute the notebook top to bottom in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def table(rows: list[tuple[Lesson, float]]) -> str:
    machine = f"{platform.python_implementation()} {platform.python_version()}, "
    machine += f"{_cores()} cores"
    lines = [
        START,
        "| lesson | title | what it teaches | run time |",
        "|---|---|---|---|",
    ]
    for lesson, seconds in rows:
        name = lesson.path.name
        lines.append(
            f"| [`{name}`](notebooks/{name}) | {lesson.title} | {lesson.teaches} | "
            f"{seconds:.0f} s |"
        )
    lines += [
        "",
        f"Run times: `python tools/lesson_table.py` executed each lesson top to bottom in a "
        f"fresh kernel ({machine}); each must stay under {BUDGET:.0f} s.",
        END,
    ]
    return "\n".join(lines)


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def rewrite(text: str, new_table: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md: no {START} ... {END} block to rewrite")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + new_table + tail


def check() -> list[str]:
    """Problems with the README's table: lessons missing, extra or out of date."""
    text = README.read_text()
    block = text.split(START, 1)[-1].split(END, 1)[0] if START in text else ""
    listed = {m["file"]: m for m in map(ROW.match, block.splitlines()) if m}
    problems = []
    for lesson in lessons():
        row = listed.pop(lesson.path.name, None)
        if row is None:
            problems.append(f"{lesson.path.name}: not in the README's table")
        elif (row["title"].strip(), row["teaches"].strip()) != (lesson.title, lesson.teaches):
            problems.append(f"{lesson.path.name}: its row is out of date")
    problems += [f"{name}: in the README's table but not a lesson" for name in listed]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not run")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        print("\n".join(problems) or "the README's table lists every lesson")
        return 1 if problems else 0
    rows = []
    for lesson in lessons():
        seconds = run_time(lesson.path)
        print(f"{lesson.path.name}: {seconds:.1f} s", flush=True)
        rows.append((lesson, seconds))
    README.write_text(rewrite(README.read_text(), table(rows)))
    slow = [lesson.path.name for lesson, seconds in rows if seconds > BUDGET]
    if slow:
        print(f"over {BUDGET:.0f} s: {', '.join(slow)}", file=sys.stderr)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
