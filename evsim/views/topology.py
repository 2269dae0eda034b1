"""The shape of a system: a graph of who publishes where and who reads what.

:func:`topology` builds a ``networkx.DiGraph`` from a :class:`~evsim.Simulation` or a
:class:`~evsim.Result`; :func:`draw_topology` draws it on a matplotlib Axes in the style of
the seed's diagram (producers coral on the left, the event bus yellow in the centre,
consumers blue on the right; publish edges dashed, subscribe edges dotted);
:func:`to_mermaid` writes it as a Mermaid ``graph TD`` for Markdown.

Nodes are named after their components and carry ``kind`` (``producer``, ``topic``,
``queue``, ``fanout``, ``consumer_group``; ``service`` once services exist) and ``detail``
(a short description). Edges carry ``kind`` (``publish``, ``subscribe``, ``dead_letter``),
``event_types`` (a list, empty for "every type") and ``label``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from evsim.errors import ConfigTypeError, SimulationStateError

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.axes import Axes

PRODUCER, BUS, CONSUMER = "#ff6f61", "#ffeb3b", "#405de6"  # the seed's diagram colours
SERVICE, DEAD_LETTER_EDGE = "#8e63ce", "#d32f2f"
BUS_KINDS = ("topic", "queue", "fanout")
RETRY = "retry"  # the label of the edges to and from non-blocking retry topics
NODE_COLOURS = {"producer": PRODUCER, "consumer_group": CONSUMER, "service": SERVICE}
TEXT_COLOURS = {"consumer_group": "white", "service": "white"}
EDGE_STYLES = {  # kind -> (matplotlib line style, colour)
    "publish": ("--", "#e0a800"),  # the seed's yellow, darkened to show on white
    "subscribe": (":", CONSUMER),
    "dead_letter": ("-", DEAD_LETTER_EDGE),
}
MERMAID_LINKS = {
    "publish": f"stroke:{BUS},stroke-width:2.5px,stroke-dasharray:6,6",
    "subscribe": f"stroke:{CONSUMER},stroke-width:2.5px,stroke-dasharray:4,4",
    "dead_letter": f"stroke:{DEAD_LETTER_EDGE},stroke-width:2px",
}
MERMAID_VERBS = {"publish": "Publishes", "subscribe": "Subscribes", "dead_letter": "Dead letter"}


# --- the graph ----------------------------------------------------------------------------


def topology(sim_or_result: Any) -> nx.DiGraph:
    """The system as a directed graph: a node per component, an edge per flow of events.

    Given a :class:`~evsim.Result`, it also adds an edge from a consumer group to every
    target its handler published to during the run (``ctx.publish``), labelled with the
    event types published: that is how a service that both consumes and produces (the
    seed's Payment service publishing ``PaymentProcessed``) appears. (A run recorded with
    ``record="summary"`` keeps no events, so it shows only what the configuration says.)
    """
    import networkx as nx

    sim, result = _sim_and_result(sim_or_result)
    graph = nx.DiGraph()
    for producer in sim.producers.values():
        graph.add_node(producer.name, kind="producer", detail="producer")
    for fanout in sim.fanouts.values():
        graph.add_node(
            fanout.name, kind="fanout", detail="FIFO fan-out" if fanout.fifo else "fan-out"
        )
    for topic in sim.topics.values():
        graph.add_node(topic.name, kind="topic", detail=_plural(topic.partitions, "partition"))
    for queue in sim.queues.values():
        graph.add_node(queue.name, kind="queue", detail="FIFO queue" if queue.fifo else "queue")
    for group in sim.groups.values():
        graph.add_node(
            group.name, kind="consumer_group", detail=_plural(len(group.members), "consumer")
        )
    for producer in sim.producers.values():
        _link(graph, producer.name, producer.target.name, "publish", [producer.event_type])
    _add_services(graph, sim)
    for fanout in sim.fanouts.values():
        for subscription in fanout.subscriptions:
            types, label = _policy_types(subscription.filter_policy, subscription.on_body)
            _link(graph, fanout.name, subscription.queue.name, "subscribe", types, label)
    for queue in sim.queues.values():
        if queue.dead_letter is not None:
            label = f"after {_plural(queue.max_receive_count, 'receive')}"
            _link(graph, queue.name, queue.dead_letter.name, "dead_letter", [], label)
    for group in sim.groups.values():
        _add_group_edges(graph, group)
    if result is not None:
        _add_handler_publishes(graph, result)
    return graph


def _sim_and_result(value: Any) -> tuple[Any, Any]:
    from evsim.result import Result
    from evsim.simulation import Simulation

    if isinstance(value, Simulation):
        return value, None
    if isinstance(value, Result):
        return value.record.components, value
    raise ConfigTypeError(
        f"sim_or_result: expected an ev.Simulation or an ev.Result, got {type(value).__name__}"
    )


def _add_group_edges(graph: nx.DiGraph, group: Any) -> None:
    feed = group.feed
    types = list(group.event_types or [])
    sources = list(feed.topics) if hasattr(feed, "topics") else [feed.queue]
    for source in sources:
        _link(graph, source.name, group.name, "subscribe", types)
    for chain in getattr(feed, "retry_topics", []):  # non-blocking retries (Kafka topics)
        for topic in chain:
            _link(graph, group.name, topic.name, "publish", [], RETRY)
            _link(graph, topic.name, group.name, "subscribe", [], RETRY)
    if group.dead_letter is not None:
        label = f"after {_plural(group.retry.max_attempts, 'attempt')}"
        _link(graph, group.name, group.dead_letter.name, "dead_letter", [], label)


def _add_services(graph: nx.DiGraph, sim: Any) -> None:
    """Hook for request-response services (not modelled yet): a node each, and call edges
    from ``service.calls`` (names of what it calls) when a service has them."""
    for service in getattr(sim, "services", {}).values():
        graph.add_node(service.name, kind="service", detail="service")
    for service in getattr(sim, "services", {}).values():
        for callee in getattr(service, "calls", ()):
            graph.add_edge(service.name, callee, kind="call", event_types=[], label="calls")


def _add_handler_publishes(graph: nx.DiGraph, result: Any) -> None:
    try:
        events = result.events
    except SimulationStateError:  # record="summary" keeps no events
        return
    groups = set(result.groups)
    chained = events[
        events["cause_id"].notna()
        & events["original_id"].isna()  # not a copy into a retry topic or a DLQ
        & events["producer"].astype(str).isin(groups)
    ]
    pairs = chained.groupby(
        [chained["producer"].astype(str), chained["target"].astype(str)], sort=False
    )["event_type"]
    for (group, target), types in pairs:
        _link(graph, group, target, "publish", sorted(set(types.astype(str))))


def _link(
    graph: nx.DiGraph, u: str, v: str, kind: str, types: list[str], label: str | None = None
) -> None:
    """Add an edge, merging the event types of an edge of the same kind already there."""
    if graph.has_edge(u, v):
        data = graph.edges[u, v]
        if data["kind"] == kind and data["event_types"] and types:
            data["event_types"] = sorted(set(data["event_types"]) | set(types))
            data["label"] = ", ".join(data["event_types"])
        return
    label = label or (", ".join(types) if types else "all")
    graph.add_edge(u, v, kind=kind, event_types=list(types), label=label)


def _policy_types(policy: dict | None, on_body: bool = False) -> tuple[list[str], str]:
    """The event types an SNS filter policy lets through, and the edge's label (a policy
    on the message body names body keys: no event types)."""
    if policy is None:
        return [], "all"
    if on_body:
        return [], "body filter: " + ", ".join(policy)
    if "eventType" not in policy:
        return [], "filter: " + ", ".join(policy)
    shown = [  # names, or matchers such as {"prefix": "Order"} shown as "prefix: Order"
        ", ".join(f"{k}: {w}" for k, w in v.items()) if isinstance(v, dict) else str(v)
        for v in policy["eventType"]
    ]
    return shown, ", ".join(shown)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _graph(value: Any) -> nx.DiGraph:
    import networkx as nx

    return value if isinstance(value, nx.DiGraph) else topology(value)


# --- layout -------------------------------------------------------------------------------


def layout(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Layered positions: x by layer (producers 0, the bus 1.., consumers next), y spread
    evenly in each layer (top to bottom), ordered to keep edges from crossing.

    The failure path stays off the normal flow: the retry and dead-letter topics consumer
    groups write to get a column right of the consumers; a queue's dead-letter queue sits
    in a lane below everything, half a column right of its queue.
    """
    lane, outside = _failure_targets(graph)
    columns = _columns(graph, lane, outside)
    layers: dict[int, list[str]] = defaultdict(list)
    for node in columns:  # insertion order first
        layers[columns[node]].append(node)
    order = {node: i for nodes in layers.values() for i, node in enumerate(nodes)}
    for sweep in range(4):  # barycentre ordering, alternately left→right and right→left
        for x in sorted(layers, reverse=bool(sweep % 2)):
            ranks = {}
            for node in layers[x]:
                seen = [order[m] for m in _neighbours(graph, node) if columns.get(m, x) != x]
                ranks[node] = sum(seen) / len(seen) if seen else order[node]
            layers[x].sort(key=lambda n, r=ranks: (r[n], order[n]))
            order.update({node: i for i, node in enumerate(layers[x])})
    positions = {}
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


def _neighbours(graph: nx.DiGraph, node: str) -> list[str]:
    return [*graph.predecessors(node), *graph.successors(node)]


def _failure_targets(graph: nx.DiGraph) -> tuple[set[str], set[str]]:
    """Bus nodes reached only as dead-letter or retry targets: (those a queue feeds,
    those consumer groups feed)."""
    failing = {
        n for n, kind in graph.nodes(data="kind")
        if kind in BUS_KINDS and graph.in_degree(n) and all(
            d["kind"] == "dead_letter" or d["label"] == RETRY
            for _, _, d in graph.in_edges(n, data=True)
        )
    }  # fmt: skip
    kinds = graph.nodes(data="kind")
    lane = {n for n in failing if any(kinds[u] in BUS_KINDS for u in graph.predecessors(n))}
    return lane, failing - lane


def _columns(graph: nx.DiGraph, lane: set[str], outside: set[str]) -> dict[str, int]:
    """Producers in column 0, the bus in 1.. (a fan-out before its queues), consumers
    after the bus, ``outside`` after the consumers; ``lane`` is left out."""
    kinds = [(n, kind) for n, kind in graph.nodes(data="kind") if n not in lane]
    depth = {n: 0 for n, kind in kinds if kind in BUS_KINDS and n not in outside}
    for _ in depth:  # longest path along bus → bus edges (fan-out → queue)
        for u, v in graph.edges:
            if u in depth and v in depth and depth[v] < depth[u] + 1 <= len(depth):
                depth[v] = depth[u] + 1
    consumers = max(depth.values(), default=0) + 2
    return {
        node: 0 if kind == "producer" else 1 + depth[node] if node in depth
        else consumers + 1 if node in outside else consumers
        for node, kind in kinds
    }  # fmt: skip


# --- drawing ------------------------------------------------------------------------------


def draw_topology(sim_or_result_or_graph: Any, ax: Axes | None = None) -> Axes:
    """Draw the topology on ``ax`` (a new figure if None) and return the Axes.

    Producers are coral boxes on the left, the event bus (topics, queues, fan-outs) yellow
    in the centre, consumer groups blue on the right; publish edges are dashed, subscribe
    edges dotted, dead-letter edges solid red; edges are labelled with their event types.
    Each node's text has gid ``node:<name>`` and each edge patch ``edge:<u>-><v>``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Patch

    graph = _graph(sim_or_result_or_graph)
    pos = layout(graph)
    lane = _failure_targets(graph)[0]
    xs, ys = [x for x, _ in pos.values()] or [0.0], [y for _, y in pos.values()] or [0.0]
    if ax is None:
        import matplotlib.pyplot as plt

        width, height = max(xs) - min(xs) + 1, max(ys) - min(ys) + 1
        _, ax = plt.subplots(figsize=(max(6.0, 3.8 * width), max(3.5, 1.1 * height + 1.2)))
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    ax.set_title("Topology: producers → event bus → consumers")
    boxes = {}
    for node, data in graph.nodes(data=True):
        kind = data.get("kind", "")
        text = ax.text(
            *pos[node], f"{node}\n{data.get('detail', kind)}", ha="center", va="center",
            fontsize=9, color=TEXT_COLOURS.get(kind, "#222222"), zorder=3, gid=f"node:{node}",
            bbox={"boxstyle": "round,pad=0.5", "facecolor": NODE_COLOURS.get(kind, BUS),
                  "edgecolor": NODE_COLOURS.get(kind, BUS), "linewidth": 2},
        )  # fmt: skip
        boxes[node] = text.get_bbox_patch()
    for u, v, data in graph.edges(data=True):
        style, colour = EDGE_STYLES.get(data.get("kind"), ("-.", "grey"))
        (x0, y0), (x1, y1) = pos[u], pos[v]
        rad = 0.0 if x1 > x0 else 0.3  # backward or same-layer edges curve away
        arrow = FancyArrowPatch(
            (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, linestyle=style,
            linewidth=1.8, color=colour, connectionstyle=f"arc3,rad={rad}",
            patchA=boxes[u], patchB=boxes[v], shrinkA=2, shrinkB=2, zorder=4,
            gid=f"edge:{u}->{v}",
        )  # fmt: skip
        ax.add_patch(arrow)
        text = data.get("label", "")
        if rad and graph.has_edge(v, u) and graph.edges[v, u].get("label") == text:
            text = ""  # a round trip (retry topics) is labelled once, on its straight edge
        along = 0.7 if v in lane else 0.5  # the lane's labels clear of the main flow
        lx, ly = _label_point(ax, (x0, y0), (x1, y1), rad, along)
        ax.text(
            lx, ly, text.replace(", ", "\n"), ha="center", va="center",
            fontsize=7.5, zorder=5, color="#333333", gid=f"label:{u}->{v}",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                  "alpha": 0.85},
        )  # fmt: skip
    handles = [
        Patch(facecolor=PRODUCER, label="producer"),
        Patch(facecolor=BUS, label="event bus"),
        Patch(facecolor=CONSUMER, label="consumer group"),
        *(Line2D([], [], linestyle=s, color=c, label=k.replace("_", " "))
          for k, (s, c) in EDGE_STYLES.items()),
    ]  # fmt: skip
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=6,
              frameon=False, fontsize=8)  # fmt: skip
    return ax


def _label_point(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], rad: float, along: float
) -> tuple[float, float]:
    """Where an edge's label goes, in data coordinates: ``along`` the way on a straight
    edge, the middle of a curved one."""
    if rad == 0:
        return start[0] + along * (end[0] - start[0]), start[1] + along * (end[1] - start[1])
    to_display = ax.transData
    (ax0, ay0), (ax1, ay1) = to_display.transform([start, end])
    dx, dy = ax1 - ax0, ay1 - ay0  # arc3's control point is mid + rad·(dy, −dx)
    middle = ((ax0 + ax1) / 2 + rad * dy / 2, (ay0 + ay1) / 2 - rad * dx / 2)
    x, y = to_display.inverted().transform(middle)
    return float(x), float(y)


# --- Mermaid ------------------------------------------------------------------------------


def to_mermaid(sim_or_result_or_graph: Any) -> str:
    """The topology as a Mermaid ``graph TD``, in the seed's style, for Markdown.

    Subgraphs Producers, Event Bus and Consumers; classes ``producer``, ``eventbus`` and
    ``consumer`` with the seed's colours; publish links dashed, subscribe links dotted.
    """
    graph = _graph(sim_or_result_or_graph)
    ids = _mermaid_ids(graph)
    sections = {"producers": [], "bus": [], "consumers": []}
    classes: dict[str, list[str]] = {"producer": [], "eventbus": [], "consumer": []}
    pos = layout(graph)
    rank = {node: (x, -y) for node, (x, y) in pos.items()}  # left to right, top to bottom
    for node, kind in sorted(graph.nodes(data="kind"), key=lambda item: rank[item[0]]):
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


def _mermaid_ids(graph: nx.DiGraph) -> dict[str, str]:
    """A valid, unique Mermaid id per node: a kind prefix and the name's word characters
    (the prefix keeps ids clear of keywords such as ``end`` and of ``o``/``x`` edge ends)."""
    prefixes = {"producer": "p", "topic": "t", "queue": "q", "fanout": "f", "service": "s"}
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node, kind in graph.nodes(data="kind"):
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
