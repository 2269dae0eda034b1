"""Where each node of a topology goes: layered positions that keep edges from crossing.

Producers and clients on the left, the event bus in the middle (a fan-out before its
queues), consumer groups on the right; services, load balancers and caches a column right
of whatever calls them (a client's target next to it, a consumer group's after the
consumers); the failure path (retry and dead-letter targets) kept off the normal flow.
:func:`layout` gives the positions both the drawing (:mod:`evsim.views.topology_draw`) and
the Mermaid text (:mod:`evsim.views.topology_mermaid`) read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from evsim.views.topology import BUS_KINDS, CALLEE_KINDS, RETRY, node_kinds

if TYPE_CHECKING:
    import networkx as nx


def layout(graph: nx.DiGraph[str]) -> dict[str, tuple[float, float]]:
    """Layered positions: x by layer (producers and clients 0, the bus 1.., consumers
    next, each callee one right of its furthest caller), y spread evenly in each layer
    (top to bottom), ordered to keep edges from crossing.

    The failure path stays off the normal flow: the retry and dead-letter topics consumer
    groups write to get a column right of the consumers; a queue's dead-letter queue sits
    in a lane below everything, half a column right of its queue.
    """
    lane, outside = failure_targets(graph)
    columns = _columns(graph, lane, outside)
    layers: dict[int, list[str]] = defaultdict(list)
    for node in columns:  # insertion order first
        layers[columns[node]].append(node)
    order = {node: i for nodes in layers.values() for i, node in enumerate(nodes)}
    for sweep in range(4):  # barycentre ordering, alternately left→right and right→left
        for x in sorted(layers, reverse=bool(sweep % 2)):
            ranks: dict[str, float] = {}
            for node in layers[x]:
                seen = [order[m] for m in _neighbours(graph, node) if columns.get(m, x) != x]
                ranks[node] = sum(seen) / len(seen) if seen else order[node]
            layers[x].sort(key=_by_rank(ranks, order))
            order.update({node: i for i, node in enumerate(layers[x])})
    positions: dict[str, tuple[float, float]] = {}
    for x, nodes in sorted(layers.items()):
        centre = 0.0
        if nodes[0] in outside:  # beside the groups writing to them
            feeders = [positions[u][1] for n in nodes for u in graph.predecessors(n)
                       if u in positions]  # fmt: skip
            centre = sum(feeders) / max(len(feeders), 1)
        middle = (len(nodes) - 1) / 2
        for i, node in enumerate(nodes):
            positions[node] = (float(x), centre + middle - i)
    lane_y = min((y for _, y in positions.values()), default=0.0) - 1.0
    wanted = {}
    for node in lane:
        spots = [positions[u][0] + 0.5 for u in graph.predecessors(node) if u in positions]
        wanted[node] = sum(spots) / len(spots) if spots else 0.5
    right = -float("inf")
    for node in sorted(lane, key=lambda n: (wanted[n], n)):  # at least 0.8 apart
        right = max(wanted[node], right + 0.8)
        positions[node] = (right, lane_y)
    return positions


def _by_rank(ranks: dict[str, float], order: dict[str, int]) -> Callable[[str], tuple[float, int]]:
    """A sort key: a node's barycentre rank, then its place so far."""
    return lambda node: (ranks[node], order[node])


def _neighbours(graph: nx.DiGraph[str], node: str) -> list[str]:
    return [*graph.predecessors(node), *graph.successors(node)]


def failure_targets(graph: nx.DiGraph[str]) -> tuple[set[str], set[str]]:
    """Bus nodes reached only as dead-letter or retry targets: (those a queue feeds,
    those consumer groups feed)."""
    failing = {
        n for n, kind in node_kinds(graph)
        if kind in BUS_KINDS and graph.in_degree(n) and all(
            d["kind"] == "dead_letter" or d["label"] == RETRY
            for _, _, d in graph.in_edges(n, data=True)
        )
    }  # fmt: skip
    kinds = dict(node_kinds(graph))
    lane = {n for n in failing if any(kinds[u] in BUS_KINDS for u in graph.predecessors(n))}
    return lane, failing - lane


def _columns(graph: nx.DiGraph[str], lane: set[str], outside: set[str]) -> dict[str, int]:
    """Producers and clients in column 0, the bus in 1.. (a fan-out before its queues),
    consumers after the bus, ``outside`` after the consumers, callees after their callers;
    ``lane`` is left out."""
    kinds = [(n, kind) for n, kind in node_kinds(graph) if n not in lane]
    depth = {n: 0 for n, kind in kinds if kind in BUS_KINDS and n not in outside}
    _deepen(graph, depth)  # longest path along bus → bus edges (fan-out → queue)
    consumers = max(depth.values(), default=0) + 2
    columns = {
        node: 0 if kind in ("producer", "client") else 1 + depth[node] if node in depth
        else consumers + 1 if node in outside else consumers
        for node, kind in kinds if kind not in CALLEE_KINDS
    }  # fmt: skip
    callees = {n: 1 for n, kind in kinds if kind in CALLEE_KINDS}
    _deepen(graph, callees, columns)  # a column right of the furthest caller
    return {node: columns.get(node, callees.get(node, 0)) for node, _ in kinds}


def _deepen(
    graph: nx.DiGraph[str], depth: dict[str, int], fixed: dict[str, int] | None = None
) -> None:
    """Raise each node of ``depth`` to one past its deepest predecessor in ``depth`` or
    ``fixed``: the longest path, stopped after ``len(depth)`` steps (a cycle of calls
    cannot push its nodes right for ever)."""
    fixed = fixed or {}
    deepest = len(depth) + max(fixed.values(), default=0)
    for _ in depth:
        for u, v in graph.edges:
            start = depth.get(u, fixed.get(u))
            if v in depth and start is not None and depth[v] < start + 1 <= deepest:
                depth[v] = start + 1
