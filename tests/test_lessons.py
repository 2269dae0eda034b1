"""Every lesson notebook (``notebooks/[0-9][0-9]_*.ipynb``, so lessons still to come too) is
held to the house style, and its solutions notebook to the rules that apply to it.

Each rule is a function returning a list of problems (empty: the notebook follows it), so a
test can feed it a bad notebook and see it fail:

- :func:`structure_problems` (lessons): a ``# `` title in the first cell; learning
  objectives ("By the end of this lesson you can" or a "Learning objectives" heading); a
  "Predict first" heading; a heading with "Exercise" followed, in its section, by a code
  cell that calls a ``check...`` function (the self-check); a "Key points" heading;
  ``metadata.evsim.teaches``.
- :func:`checks_cell_problems` (lessons and solutions): every code cell containing
  ``assert`` is tagged ``checks``, hidden (``metadata.jupyter.source_hidden``) and opens
  with a comment label ``# Checks ...``; every cell tagged ``checks`` is hidden and
  labelled too; a section (a ``## `` heading) has at most one; a label that names
  "section N" sits in the section headed ``## N.``.
- :func:`seed_problems` (both): every ``Simulation(...)`` call passes ``seed=`` (a
  lesson-level ``SEED`` constant is fine).
- :func:`logic_problems` (both): no ``class``; a ``def`` must be a small wrapper, which
  this heuristic recognises as one that (a) builds or runs a simulation: its body calls
  ``Simulation(``, ``.run(``, ``replicate(``, ``sweep(`` or ``compare(`` (``ev.compare``
  runs its own), or a function of the notebook
  that does; (b) is a handler: a parameter named ``ctx``; or (c) checks answers or
  predictions: its name starts with ``check``. Anything else (a formula, a table
  transformation, a chart helper) is library logic and belongs in evsim
  (``ev.theory``, ``ev.plot``, ``Result``).
- :func:`output_problems` (both): executed and stored: every code cell has an
  ``execution_count`` and no error output.
- :func:`solutions_problems` (lessons): ``notebooks/solutions/NN_*.ipynb`` exists for
  lesson NN, and defines every ``check...`` function of the lesson with the same source
  (so what the solutions verify about the self-check is what the learner runs).

And ``notebooks/INSTRUCTORS.md`` quotes lesson 01's numbers only as the executed notebooks
show them: every number written as a code span in its lesson-01 section appears in the
stored outputs of the lesson or its solutions.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
INSTRUCTORS = NOTEBOOKS / "INSTRUCTORS.md"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
ALL_NOTEBOOKS = LESSONS + sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
RUNS = {"Simulation", "run", "replicate", "sweep", "compare"}  # calls that run simulations


# --- reading a notebook -------------------------------------------------------------------


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def code_cells(notebook: dict) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code"]


def headings(notebook: dict) -> list[tuple[int, int, str]]:
    """(cell index, level, text) of every markdown heading, in order."""
    found = []
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        in_fence = False
        for line in source(cell).splitlines():
            if line.startswith("```"):
                in_fence = not in_fence
            match = re.match(r"(#+) (.*)", line)
            if match and not in_fence:
                found.append((i, len(match[1]), match[2].strip()))
    return found


def section_of(notebook: dict, index: int) -> str | None:
    """The ``## `` heading the cell at ``index`` sits under (None: before the first)."""
    current = None
    for i, level, text in headings(notebook):
        if i > index:
            break
        if level == 2:
            current = text
    return current


def parse(cell: dict) -> ast.Module | None:
    """The cell's code as Python (IPython magics and shell lines left out), or None."""
    lines = [
        "" if line.lstrip().startswith(("%", "!")) else line for line in source(cell).splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def called(node: ast.AST) -> set[str]:
    """The names of the functions and methods ``node`` calls."""
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                names.add(call.func.id)
            elif isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
    return names


def is_checks(cell: dict) -> bool:
    return "checks" in cell.get("metadata", {}).get("tags", [])


# --- the rules ------------------------------------------------------------------------------


def structure_problems(notebook: dict) -> list[str]:
    problems = []
    cells = notebook["cells"]
    first = source(cells[0]) if cells else ""
    if not cells or cells[0]["cell_type"] != "markdown" or not first.startswith("# "):
        problems.append("no title: the first cell should be markdown starting with '# '")
    marks = headings(notebook)
    markdown = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    has_objectives = "by the end of this lesson you can" in markdown.lower() or any(
        "learning objectives" in text.lower() for _, _, text in marks
    )
    if not has_objectives:
        problems.append("no learning objectives ('By the end of this lesson you can ...')")
    if not any("predict first" in text.lower() for _, _, text in marks):
        problems.append("no 'Predict first' section")
    if not any("key points" in text.lower() for _, _, text in marks):
        problems.append("no 'Key points' section")
    if not _exercise_with_self_check(notebook, marks):
        problems.append("no exercise with a self-check (a code cell calling check...())")
    if not notebook.get("metadata", {}).get("evsim", {}).get("teaches"):
        problems.append("metadata.evsim.teaches is missing")
    return problems


def _exercise_with_self_check(notebook: dict, marks: list[tuple[int, int, str]]) -> bool:
    for n, (start, level, text) in enumerate(marks):
        if "exercise" not in text.lower():
            continue
        end = next((i for i, lv, _ in marks[n + 1 :] if lv <= level), len(notebook["cells"]))
        for i, cell in code_cells(notebook):
            tree = parse(cell) if start < i < end else None
            if tree is not None and any(name.startswith("check") for name in called(tree)):
                return True
    return False


def checks_cell_problems(notebook: dict) -> list[str]:
    problems = []
    per_section: dict[str | None, list[int]] = {}
    for i, cell in code_cells(notebook):
        text = source(cell)
        tree = parse(cell)
        asserts = tree is not None and any(isinstance(n, ast.Assert) for n in ast.walk(tree))
        asserts = asserts or (tree is None and re.search(r"^\s*assert\b", text, re.M))
        if asserts and not is_checks(cell):
            problems.append(f"cell {i}: asserts outside a cell tagged 'checks'")
        if not (asserts or is_checks(cell)):
            continue
        if not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            problems.append(f"cell {i}: a checks cell must be collapsed (jupyter.source_hidden)")
        label = text.lstrip("\n").splitlines()[0] if text.strip() else ""
        if not label.startswith("# Checks"):
            problems.append(f"cell {i}: a checks cell's first line must be a '# Checks ...' label")
        section = section_of(notebook, i)
        per_section.setdefault(section, []).append(i)
        named = re.match(r"# Checks for section (\d+)\b", label)
        if named and not (section or "").startswith(f"{named[1]}."):
            problems.append(f"cell {i}: labelled section {named[1]} but sits under {section!r}")
    for section, cells in per_section.items():
        if len(cells) > 1:
            problems.append(f"section {section!r}: {len(cells)} checks cells {cells}, not one")
    return problems


def seed_problems(notebook: dict) -> list[str]:
    problems = []
    for i, cell in code_cells(notebook):
        tree = parse(cell)
        if tree is None:
            if re.search(r"Simulation\((?![^)]*seed=)", source(cell)):
                problems.append(f"cell {i}: Simulation(...) without seed=")
            continue
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "Simulation" and not any(k.arg == "seed" for k in call.keywords):
                problems.append(f"cell {i}, line {call.lineno}: Simulation(...) without seed=")
    return problems


def logic_problems(notebook: dict) -> list[str]:
    problems = []
    functions: dict[str, tuple[int, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for i, cell in code_cells(notebook):
        tree = parse(cell)
        if tree is None:
            problems.append(f"cell {i}: does not parse as Python")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                problems.append(f"cell {i}: class {node.name}: classes belong in evsim")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions[node.name] = (i, node)
    allowed = {
        name
        for name, (_, node) in functions.items()
        if name.startswith("check")
        or "ctx" in [a.arg for a in node.args.args + node.args.kwonlyargs]
        or called(node) & RUNS
    }
    grown = True
    while grown:  # functions that call an allowed one build or run a simulation too
        more = {
            n for n, (_, node) in functions.items() if n not in allowed and called(node) & allowed
        }
        allowed |= more
        grown = bool(more)
    for name, (i, _) in functions.items():
        if name not in allowed:
            problems.append(
                f"cell {i}: def {name}: neither builds or runs a simulation, nor is a handler, "
                "nor checks answers; library logic belongs in evsim"
            )
    return problems


def output_problems(notebook: dict) -> list[str]:
    problems = []
    for i, cell in code_cells(notebook):
        if cell.get("execution_count") is None:
            problems.append(f"cell {i}: not executed (no execution_count): outputs not stored")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {i}: stored output is an error ({output.get('ename')})")
    return problems


def solutions_problems(lesson: Path, solutions_dir: Path = SOLUTIONS) -> list[str]:
    number = lesson.name[:2]
    found = sorted(solutions_dir.glob(f"{number}_*.ipynb"))
    if not found:
        return [f"no solutions notebook {solutions_dir.name}/{number}_*.ipynb"]
    mine, theirs = check_functions(load(lesson)), check_functions(load(found[0]))
    return [
        f"{name}: the solutions define it differently (or not at all)"
        for name, text in mine.items()
        if theirs.get(name) != text
    ]


def check_functions(notebook: dict) -> dict[str, str]:
    """The source of every ``check...`` function the notebook defines, by name."""
    found = {}
    for _, cell in code_cells(notebook):
        tree = parse(cell)
        for node in tree.body if tree else []:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("check"):
                found[node.name] = ast.unparse(node)
    return found


def problems(notebook: dict, lesson: bool = True) -> list[str]:
    """Every rule's problems (``lesson=False``: a solutions notebook, no structure rule)."""
    rules = [checks_cell_problems, seed_problems, logic_problems, output_problems]
    if lesson:
        rules.insert(0, structure_problems)
    return [problem for rule in rules for problem in rule(notebook)]


# --- the lessons ----------------------------------------------------------------------------


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(NOTEBOOKS)) for p in paths]


def test_there_is_at_least_one_lesson():
    assert LESSONS, "no notebooks/[0-9][0-9]_*.ipynb"


@pytest.mark.parametrize("path", LESSONS, ids=ids(LESSONS))
def test_a_lesson_has_the_house_structure(path):
    assert structure_problems(load(path)) == []


@pytest.mark.parametrize("path", LESSONS, ids=ids(LESSONS))
def test_a_lesson_has_a_solutions_notebook_with_the_same_self_check(path):
    assert solutions_problems(path) == []


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_asserts_live_in_one_labelled_collapsed_checks_cell_per_section(path):
    assert checks_cell_problems(load(path)) == []


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_every_run_is_seeded(path):
    assert seed_problems(load(path)) == []


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_lessons_define_no_simulation_logic(path):
    assert logic_problems(load(path)) == []


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_executed_outputs_are_stored(path):
    assert output_problems(load(path)) == []


# --- the checker fails on real violations -------------------------------------------------


def notebook(*cells: dict, teaches: str | None = "one line") -> dict:
    metadata = {"evsim": {"teaches": teaches}} if teaches else {}
    return {"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str, executed: bool = True, checks: bool = False, hidden: bool = False) -> dict:
    metadata: dict = {}
    if checks:
        metadata["tags"] = ["checks"]
    if hidden:
        metadata["jupyter"] = {"source_hidden": True}
    return {
        "cell_type": "code",
        "execution_count": 1 if executed else None,
        "metadata": metadata,
        "outputs": [],
        "source": text,
    }


GOOD = [
    markdown("# Lesson 9 — A title\n\n**By the end of this lesson you can:**\n\n- run it"),
    markdown("## Predict first\n\n1. What will happen?"),
    code("my_predictions = {'p95': None}"),
    markdown("## 1. Run it"),
    code(
        "import evsim as ev\n\nSEED = 1\n\n\ndef build(seed=SEED):\n"
        "    return ev.Simulation(seed=seed)\n\n\ndef pay(event, ctx):\n    ctx.publish('t', 'E')\n"
    ),
    code("result = build().run(until=10)"),
    code("# Checks for section 1: the numbers above\nassert result", checks=True, hidden=True),
    markdown("## 2. Exercise: how many?"),
    code("answer = None"),
    code("def check_answer(answer):\n    print('set answer')\n\n\ncheck_answer(answer)"),
    markdown("## Key points\n\n- one"),
]


def test_the_checker_passes_a_notebook_that_follows_the_rules():
    assert problems(notebook(*GOOD)) == []


def test_the_checker_reports_each_violation_of_a_bad_notebook():
    bad = notebook(
        markdown("Some text, but no title, no objectives and no predict-first section"),
        code("import evsim as ev\nsim = ev.Simulation()\nassert sim"),  # unseeded, bare assert
        code("# a note\nassert 1 + 1 == 2", checks=True),  # tagged, not hidden nor labelled
        markdown("## 1. Two checks cells"),
        code("# Checks for section 1\nassert True", checks=True, hidden=True),
        code("# Checks for section 2: misplaced\nassert True", checks=True, hidden=True),
        code(
            "class Queue:\n    pass\n\n\ndef utilisation(rate, mean, c):\n"
            "    return rate * mean / c"
        ),
        code("result = None", executed=False),
        teaches=None,
    )
    found = "\n".join(problems(bad))
    for expected in [
        "no title",
        "no learning objectives",
        "no 'Predict first' section",
        "no 'Key points' section",
        "no exercise with a self-check",
        "metadata.evsim.teaches is missing",
        "cell 1: asserts outside a cell tagged 'checks'",
        "cell 2: a checks cell must be collapsed",
        "cell 2: a checks cell's first line must be a '# Checks ...' label",
        "section '1. Two checks cells': 2 checks cells [4, 5], not one",
        "cell 5: labelled section 2 but sits under '1. Two checks cells'",
        "cell 1, line 2: Simulation(...) without seed=",
        "cell 6: class Queue",
        "cell 6: def utilisation: neither builds or runs a simulation",
        "cell 7: not executed",
    ]:
        assert expected in found, f"not reported: {expected}\n{found}"


def test_a_lesson_without_solutions_or_with_a_different_self_check_is_reported(tmp_path):
    lesson = tmp_path / "09_thing.ipynb"
    lesson.write_text(json.dumps(notebook(*GOOD)))
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    assert solutions_problems(lesson, solutions) == ["no solutions notebook solutions/09_*.ipynb"]
    changed = [*GOOD[:-2], code("def check_answer(answer):\n    print('other')"), GOOD[-1]]
    (solutions / "09_thing_solutions.ipynb").write_text(json.dumps(notebook(*changed)))
    assert solutions_problems(lesson, solutions) == [
        "check_answer: the solutions define it differently (or not at all)"
    ]


# --- INSTRUCTORS.md -------------------------------------------------------------------------

NUMBER_SPAN = re.compile(r"`(\d[\d,]*(?:\.\d+)?)`")


def instructors_section(lesson: str) -> str:
    """The part of INSTRUCTORS.md under the ``## Lesson NN`` heading, to the next ``## ``."""
    text = INSTRUCTORS.read_text()
    match = re.search(rf"^## Lesson {lesson}\b.*?(?=^## |\Z)", text, re.M | re.S)
    assert match, f"INSTRUCTORS.md: no '## Lesson {lesson}' section"
    return match[0]


def output_text(path: Path) -> str:
    """Every stored text output of a notebook (streams and text/plain), joined."""
    parts = []
    for _, cell in code_cells(load(path)):
        for output in cell.get("outputs", []):
            if "text" in output:
                parts.append("".join(output["text"]))
            plain = output.get("data", {}).get("text/plain")
            if plain:
                parts.append("".join(plain))
    return "\n".join(parts)


def quoted_numbers_missing(section: str, outputs: str) -> list[str]:
    """Numbers written as code spans in ``section`` that ``outputs`` does not show."""
    return [
        number
        for number in NUMBER_SPAN.findall(section)
        if not re.search(rf"(?<![\d.]){re.escape(number)}(?!\.?\d)", outputs)
    ]


def test_the_numbers_instructors_md_quotes_for_lesson_01_are_the_executed_notebooks():
    section = instructors_section("01")
    outputs = output_text(NOTEBOOKS / "01_event_flow.ipynb")
    outputs += output_text(SOLUTIONS / "01_event_flow_solutions.ipynb")
    assert len(NUMBER_SPAN.findall(section)) >= 10  # it quotes the run's numbers ...
    assert quoted_numbers_missing(section, outputs) == []  # ... as the run shows them


def test_a_number_the_run_does_not_show_is_reported():
    outputs = "p95 0.2374 s; 14884 payments; 2.45"
    assert quoted_numbers_missing("`0.2374`, `2.45` and `14884`", outputs) == []
    assert quoted_numbers_missing("`0.237`, `2.4` and `1488`", outputs) == ["0.237", "2.4", "1488"]


def test_the_readme_lessons_section_links_the_instructors_guide():
    readme = (ROOT / "README.md").read_text()
    lessons = readme.split("## Lessons", 1)[1].split("\n## ", 1)[0]
    outside_table = re.sub(
        r"<!-- lessons:start -->.*?<!-- lessons:end -->", "", lessons, flags=re.S
    )
    assert "(notebooks/INSTRUCTORS.md)" in outside_table
