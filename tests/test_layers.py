"""The layers of ARCHITECTURE.md, held against the code: imports point down only, and no
module imports itself back through others (no cycle), at any depth of the code: imports
inside functions and under ``TYPE_CHECKING`` count as much as those at the top.

Run it as a script to see every module's layer and the imports that cross layers:
``python tests/test_layers.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "evsim"

# the layer of each module or subpackage, bottom (0) to top; a module imports only from
# its own layer or below (siblings in one layer: no cycle among them)
LAYERS = {
    "evsim.errors": 0, "evsim._check": 0, "evsim.limits": 0, "evsim._version": 0,
    "evsim.component_config": 0,
    "evsim.engine": 1, "evsim.plain_engine": 1, "evsim.workload": 1,
    "evsim.records": 2,
    "evsim.brokers": 3,
    "evsim.actors": 4,
    "evsim.run_record": 5, "evsim.utilisation": 5, "evsim.tables": 5, "evsim.result": 5,
    "evsim.request_tables": 5, "evsim.request_accounting": 5, "evsim.request_summary": 5,
    "evsim.request_builders": 5,
    "evsim.run_budget": 5, "evsim.broker_builders": 5, "evsim.simulation": 5,
    "evsim.analysis": 6, "evsim.scenario": 6, "evsim.views": 6,
    "evsim.cli_usage": 7, "evsim.cli_output": 7, "evsim.cli_run": 7, "evsim.cli_sweep": 7,
    "evsim.cli_lessons": 7, "evsim.cli": 7, "evsim": 7,
}  # fmt: skip
EXEMPT = "# layer-exempt:"  # on an import line: a documented forward up, listed by the test


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def layer(module: str) -> int:
    """The layer of ``module``: that of its longest listed prefix."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"{module}: no layer; add it (or its package) to LAYERS")


def imports(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(module imported, line, exempt) for each evsim import in ``path``, wherever it is."""
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from evsim.records import full" imports the submodule, not the package
            targets = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names
            ]
        for target in targets:
            if target == "evsim" or target.startswith("evsim."):
                exempt = EXEMPT in lines[node.lineno - 1]
                found.append((target, node.lineno, exempt))
    return found


def graph() -> tuple[nx.DiGraph, list[str], list[str]]:
    """The import graph, the upward imports, and the exempt ones (as readable lines)."""
    found = modules()
    known = set(found)
    arrows = nx.DiGraph()
    arrows.add_nodes_from(known)
    upward, exempt = [], []
    for module, path in found.items():
        for target, line, is_exempt in imports(path, known):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}: {module} -> {target}"
            if is_exempt:
                exempt.append(where)
                continue
            arrows.add_edge(module, target)
            if module != "evsim" and layer(target) > layer(module):
                upward.append(f"{where} (layer {layer(module)} imports layer {layer(target)})")
    return arrows, upward, exempt


def test_every_module_has_a_layer():
    for module in modules():
        layer(module)


def test_no_import_points_up_a_layer():
    _, upward, _ = graph()
    assert not upward, "imports pointing up:\n" + "\n".join(upward)


def test_no_import_cycle():
    arrows, _, _ = graph()
    arrows.remove_node("evsim")  # the public API imports everything; nothing imports it
    cycles = [" -> ".join([*cycle, cycle[0]]) for cycle in nx.simple_cycles(arrows)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_exempt_forwards_are_the_one_documented_forward():
    _, _, exempt = graph()
    assert [line.split(": ", 1)[1] for line in exempt] == [
        "evsim.result -> evsim.views.prometheus"  # Result.to_prometheus, kept for old code
    ]


def test_the_package_does_not_import_itself_from_below():
    """No module below the top layer imports ``evsim`` itself (it imports everything)."""
    arrows, _, _ = graph()
    top = LAYERS["evsim"]
    assert [m for m in arrows.predecessors("evsim") if layer(m) < top] == []


if __name__ == "__main__":
    arrows, upward, exempt = graph()
    for module in sorted(modules(), key=lambda m: (layer(m), m)):
        print(f"layer {layer(module)}  {module}")
    print(f"\n{arrows.number_of_edges()} imports among {arrows.number_of_nodes()} modules")
    arrows.remove_node("evsim")
    cycles = list(nx.simple_cycles(arrows))
    print(f"upward imports: {len(upward)}", *upward, sep="\n  ")
    print(f"cycles: {len(cycles)}", *(" -> ".join(c) for c in cycles), sep="\n  ")
    print(f"exempt forwards: {len(exempt)}", *exempt, sep="\n  ")
    sys.exit(1 if upward or cycles else 0)
