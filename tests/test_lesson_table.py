"""The README's lesson table (tools/lesson_table.py) lists exactly the lessons, with the
title and the one line each says it teaches; its run times come from running them."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("lesson_table", ROOT / "tools" / "lesson_table.py")
assert SPEC is not None and SPEC.loader is not None
lesson_table = importlib.util.module_from_spec(SPEC)
sys.modules["lesson_table"] = lesson_table  # its dataclass looks its module up
SPEC.loader.exec_module(lesson_table)


def test_the_readme_table_lists_every_lesson_and_nothing_else():
    assert lesson_table.check() == []


def test_every_row_has_a_measured_run_time_under_the_budget():
    block = readme_block()
    times = re.findall(r"\| (\d+) s \|", block)
    assert len(times) == len(lesson_table.lessons())
    assert all(int(t) < lesson_table.BUDGET for t in times)
    assert "python tools/lesson_table.py" in block  # says how the times were measured


def test_a_missing_or_stale_row_is_reported(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    first = lesson_table.lessons()[0]
    readme.write_text(text.replace(first.teaches, "something else"))
    monkeypatch.setattr(lesson_table, "README", readme)
    assert lesson_table.check() == [f"{first.path.name}: its row is out of date"]


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(lesson_table.START, 1)[1].split(lesson_table.END, 1)[0]
