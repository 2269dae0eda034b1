"""The Mermaid text of a topology, for Markdown (:func:`to_mermaid`).

Nodes are listed in the layout's order (:mod:`evsim.views.topology_layout`), each with a
valid, unique id (a kind prefix and the name's word characters); text that Mermaid would
read as syntax is quoted, with entity codes. Every link is an arrow ``-->``, styled by its
kind in a ``linkStyle``: publish dashed and subscribe dotted (as the seed's diagram has
them), calls solid.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from evsim.views.topology import (
    BALANCER,
    BUS,
    BUS_KINDS,
    CACHE,
    CALL_EDGE,
    CALLEE_KINDS,
    CLIENT,
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
    "call": f"stroke:{CALL_EDGE},stroke-width:2px",  # solid: the caller waits for the answer
}
MERMAID_VERBS = {
    "publish": "Publishes", "subscribe": "Subscribes", "dead_letter": "Dead letter",
    "call": "Calls",
}  # fmt: skip
SECTIONS = {  # subgraph id -> its title, in the order they are written
    "producers": "Producers", "clients": "Clients", "bus": "Event Bus",
    "consumers": "Consumers", "services": "Services",
}  # fmt: skip
REQUEST_CLASSES = {  # kind -> (its class, the classDef's style, the node's shape)
    "client": ("client", f"fill:{CLIENT},stroke:{CLIENT}", ("([", "])")),
    "service": ("service", f"fill:{SERVICE},stroke:{SERVICE},color:#fff", ("[", "]")),
    "load_balancer": ("loadbalancer", f"fill:{BALANCER},stroke:{BALANCER},color:#fff",
                      ("{{", "}}")),
    "cache": ("cache", f"fill:{CACHE},stroke:{CACHE}", ("[(", ")]")),
}  # fmt: skip


def to_mermaid(sim_or_result_or_graph: Any) -> str:
    """The topology as a Mermaid ``graph TD``, in the seed's style, for Markdown.

    Subgraphs Producers, Event Bus and Consumers; classes ``producer``, ``eventbus`` and
    ``consumer`` with the seed's colours; publish links dashed, subscribe links dotted.
    The request-response side adds subgraphs Clients (stadium shapes) and Services
    (services as boxes, load balancers as hexagons, caches as cylinders), classes
    ``client``, ``service``, ``loadbalancer`` and ``cache``, and solid call links
    (``Calls: <label>``).
    """
    graph = graph_of(sim_or_result_or_graph)
    ids = _mermaid_ids(graph)
    sections: dict[str, list[str]] = {side: [] for side in SECTIONS}
    classes: dict[str, list[str]] = {"producer": [], "eventbus": [], "consumer": []}
    pos = layout(graph)
    rank = {node: (x, -y) for node, (x, y) in pos.items()}  # left to right, top to bottom
    for node, kind in sorted(node_kinds(graph), key=lambda item: rank[item[0]]):
        side, css = _place(kind)
        opening, closing = REQUEST_CLASSES[kind][2] if kind in REQUEST_CLASSES else ("[", "]")
        sections[side].append(f"        {ids[node]}{_mermaid_text(opening, node, closing)}")
        classes.setdefault(css, []).append(ids[node])
    lines = ["graph TD"]
    for side, members in sections.items():
        if members:
            lines += [f"    subgraph {side} [{SECTIONS[side]}]", *members, "    end"]
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
    lines += [f"    classDef {css} {style};" for css, style, _ in REQUEST_CLASSES.values()
              if classes.get(css)]  # fmt: skip
    lines += [f"    class {','.join(m)} {name};" for name, m in classes.items() if m]
    return "\n".join([*lines, *styles]) + "\n"


def _place(kind: str) -> tuple[str, str]:
    """The subgraph and the class of a node of ``kind``."""
    if kind == "producer":
        return "producers", "producer"
    if kind in BUS_KINDS:
        return "bus", "eventbus"
    if kind == "client":
        return "clients", "client"
    if kind in CALLEE_KINDS:
        return "services", REQUEST_CLASSES[kind][0]
    return "consumers", "consumer"


def _mermaid_ids(graph: nx.DiGraph[str]) -> dict[str, str]:
    """A valid, unique Mermaid id per node: a kind prefix and the name's word characters
    (the prefix keeps ids clear of keywords such as ``end`` and of ``o``/``x`` edge ends)."""
    prefixes = {
        "producer": "p", "topic": "t", "queue": "q", "fanout": "f",
        "client": "c", "service": "s", "load_balancer": "b", "cache": "k",
    }  # fmt: skip
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
