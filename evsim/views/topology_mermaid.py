"""The Mermaid text of a topology, for Markdown (:func:`to_mermaid`).

Nodes are listed in the layout's order (:mod:`evsim.views.topology_layout`), each with a
valid, unique id (a kind prefix and the name's word characters); text that Mermaid would
read as syntax is quoted, with entity codes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from evsim.views.topology import (
    BUS,
    BUS_KINDS,
    CONSUMER,
    DEAD_LETTER_EDGE,
    PRODUCER,
    SERVICE,
    graph_of,
    node_kinds,
)
from evsim.views.topology_layout import layout

if TYPE_CHECKING:
    import networkx as nx

MERMAID_LINKS = {
    "publish": f"stroke:{BUS},stroke-width:2.5px,stroke-dasharray:6,6",
    "subscribe": f"stroke:{CONSUMER},stroke-width:2.5px,stroke-dasharray:4,4",
    "dead_letter": f"stroke:{DEAD_LETTER_EDGE},stroke-width:2px",
}
MERMAID_VERBS = {"publish": "Publishes", "subscribe": "Subscribes", "dead_letter": "Dead letter"}


def to_mermaid(sim_or_result_or_graph: Any) -> str:
    """The topology as a Mermaid ``graph TD``, in the seed's style, for Markdown.

    Subgraphs Producers, Event Bus and Consumers; classes ``producer``, ``eventbus`` and
    ``consumer`` with the seed's colours; publish links dashed, subscribe links dotted.
    """
    graph = graph_of(sim_or_result_or_graph)
    ids = _mermaid_ids(graph)
    sections: dict[str, list[str]] = {"producers": [], "bus": [], "consumers": []}
    classes: dict[str, list[str]] = {"producer": [], "eventbus": [], "consumer": []}
    pos = layout(graph)
    rank = {node: (x, -y) for node, (x, y) in pos.items()}  # left to right, top to bottom
    for node, kind in sorted(node_kinds(graph), key=lambda item: rank[item[0]]):
        side = "producers" if kind == "producer" else "bus" if kind in BUS_KINDS else "consumers"
        sections[side].append(f"        {ids[node]}{_mermaid_text('[', node, ']')}")
        css = {"producers": "producer", "bus": "eventbus"}.get(side, "consumer")
        classes.setdefault("service" if kind == "service" else css, []).append(ids[node])
    lines = ["graph TD"]
    titles = {"producers": "Producers", "bus": "Event Bus", "consumers": "Consumers"}
    for side, members in sections.items():
        if members:
            lines += [f"    subgraph {side} [{titles[side]}]", *members, "    end"]
    styles = []
    edges = sorted(graph.edges(data=True), key=lambda e: (rank[e[0]], rank[e[1]]))
    for index, (u, v, data) in enumerate(edges):
        kind = data.get("kind", "")
        verb = MERMAID_VERBS.get(kind, kind.replace("_", " ").capitalize())
        text = _mermaid_text("|", f"{verb}: {data.get('label', '')}", "|")
        lines.append(f"    {ids[u]} -->{text} {ids[v]}")
        if kind in MERMAID_LINKS:
            styles.append(f"    linkStyle {index} {MERMAID_LINKS[kind]}")
    lines += [
        f"    classDef producer fill:{PRODUCER},stroke:{PRODUCER},stroke-width:2px,rx:5,ry:5;",
        f"    classDef eventbus fill:{BUS},stroke:{BUS},stroke-width:2px,rx:10,ry:10;",
        f"    classDef consumer fill:{CONSUMER},stroke:{CONSUMER},stroke-width:2px,rx:5,ry:5,"
        "color:#fff;",
    ]
    if classes.get("service"):
        lines.append(f"    classDef service fill:{SERVICE},stroke:{SERVICE},color:#fff;")
    lines += [f"    class {','.join(m)} {name};" for name, m in classes.items() if m]
    return "\n".join([*lines, *styles]) + "\n"


def _mermaid_ids(graph: nx.DiGraph[str]) -> dict[str, str]:
    """A valid, unique Mermaid id per node: a kind prefix and the name's word characters
    (the prefix keeps ids clear of keywords such as ``end`` and of ``o``/``x`` edge ends)."""
    prefixes = {"producer": "p", "topic": "t", "queue": "q", "fanout": "f", "service": "s"}
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node, kind in node_kinds(graph):
        base = f"{prefixes.get(kind, 'g')}_{re.sub(r'[^A-Za-z0-9_]', '_', str(node))}"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        ids[node] = candidate
    return ids


def _mermaid_text(opening: str, text: str, closing: str) -> str:
    """``text`` between Mermaid delimiters, quoted (with entity codes) unless plain."""
    if re.fullmatch(r"[A-Za-z0-9_][\w .,:-]*", text):
        return f"{opening}{text}{closing}"
    escaped = "".join(_MERMAID_ENTITIES.get(c, c) for c in text.replace("\n", " "))
    return f'{opening}"{escaped}"{closing}'


_MERMAID_ENTITIES = {'"': "#quot;", "|": "#124;", "<": "#lt;", ">": "#gt;", "#": "#35;"}
