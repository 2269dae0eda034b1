"""The README's examples run and print what it shows (docs whose examples run)."""

from __future__ import annotations

import re
from pathlib import Path

from evsim.records import OUTCOMES

README = Path(__file__).resolve().parent.parent / "README.md"
# a python block, and the text block right after it if any: what it prints
EXAMPLE = re.compile(r"```python\n(.*?)```(?:\n\n```text\n(.*?)```)?", re.S)


def examples() -> list[tuple[str, str]]:
    return EXAMPLE.findall(README.read_text())


def test_the_readme_python_examples_run_and_print_what_it_shows(capsys):
    blocks = examples()
    assert len(blocks) >= 2
    namespace: dict = {}
    shown = 0
    for code, expected in blocks:
        exec(compile(code, str(README), "exec"), namespace)
        printed = capsys.readouterr().out
        assert "processed" in printed
        if expected:
            assert printed == expected
            shown += 1
    assert shown >= 1
    namespace["result"].check()


def test_the_failure_examples_table_adds_up_on_screen():
    (table,) = [shown for _, shown in examples() if shown]
    rows = dict(line.split() for line in table.strip().splitlines()[1:])  # after "group ..."
    counts = {name: int(value) for name, value in rows.items()}
    assert set(OUTCOMES) | {"routed"} <= set(counts)
    assert counts["routed"] == sum(counts[outcome] for outcome in OUTCOMES)
    text = " ".join(README.read_text().split())
    terms = " + ".join(str(counts[outcome]) for outcome in OUTCOMES)
    assert f"{terms} = {counts['routed']}" in text  # the sum the prose spells out
