"""A topology drawn with matplotlib (:func:`draw_topology`).

Boxes at the layout's positions (:mod:`evsim.views.topology_layout`), coloured and shaped
by node kind, arrows styled by edge kind (the flow of events dashed and dotted, as the
seed's diagram draws it; calls, which wait for an answer, solid), labels placed clear of
the flow; each element has a ``gid`` to find it by.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from evsim.views.topology import (
    BALANCER,
    BUS,
    CACHE,
    CALL_EDGE,
    CLIENT,
    CONSUMER,
    DEAD_LETTER_EDGE,
    PRODUCER,
    SERVICE,
    graph_of,
    node_kinds,
)
from evsim.views.topology_layout import failure_targets, layout

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

NODE_COLOURS = {
    "producer": PRODUCER, "consumer_group": CONSUMER,
    "client": CLIENT, "service": SERVICE, "load_balancer": BALANCER, "cache": CACHE,
}  # fmt: skip
TEXT_COLOURS = {"consumer_group": "white", "service": "white", "load_balancer": "white"}
NODE_SHAPES = {  # kind -> matplotlib box style: the request side in square-cornered shapes
    "service": "square,pad=0.5", "load_balancer": "round4,pad=0.5",
    "cache": "roundtooth,pad=0.5",
}  # fmt: skip
# kind -> its legend entry
REQUEST_SIDE = {"client": "client", "service": "service", "load_balancer": "load balancer",
                "cache": "cache"}  # fmt: skip
LineStyle = Literal["-", "--", "-.", ":"]
EDGE_STYLES: dict[str, tuple[LineStyle, str]] = {  # kind -> (line style, colour)
    "publish": ("--", "#e0a800"),  # the seed's yellow, darkened to show on white
    "subscribe": (":", CONSUMER),
    "dead_letter": ("-", DEAD_LETTER_EDGE),
    "call": ("-", CALL_EDGE),  # solid: the caller waits for the answer
}


def draw_topology(sim_or_result_or_graph: Any, ax: Axes | None = None) -> Axes:
    """Draw the topology on ``ax`` (a new figure if None) and return the Axes.

    Producers are coral boxes on the left, the event bus (topics, queues, fan-outs) yellow
    in the centre, consumer groups blue on the right; publish edges are dashed, subscribe
    edges dotted, dead-letter edges solid red; edges are labelled with their event types.
    The request-response side: clients orange on the left, services purple squares, load
    balancers teal, caches green (toothed), each right of what calls it; call edges are
    solid purple, labelled with the call's timeout and retries. The legend lists the
    request-response kinds and call edges only when the system has them.
    Each node's text has gid ``node:<name>`` and each edge patch ``edge:<u>-><v>``.
    """
    from matplotlib.patches import FancyArrowPatch

    graph = graph_of(sim_or_result_or_graph)
    pos = layout(graph)
    lane = failure_targets(graph)[0]
    xs, ys = [x for x, _ in pos.values()] or [0.0], [y for _, y in pos.values()] or [0.0]
    if ax is None:
        import matplotlib.pyplot as plt

        width, height = max(xs) - min(xs) + 1, max(ys) - min(ys) + 1
        _, ax = plt.subplots(figsize=(max(6.0, 3.8 * width), max(3.5, 1.1 * height + 1.2)))
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    request_side = any(kind in REQUEST_SIDE for _, kind in node_kinds(graph))
    title = "Topology: producers → event bus → consumers"
    ax.set_title(f"{title}; clients → services" if request_side else title)
    boxes = {}
    for node, data in graph.nodes(data=True):
        kind = data.get("kind", "")
        text = ax.text(
            *pos[node], f"{node}\n{data.get('detail', kind)}", ha="center", va="center",
            fontsize=9, color=TEXT_COLOURS.get(kind, "#222222"), zorder=3, gid=f"node:{node}",
            bbox={"boxstyle": NODE_SHAPES.get(kind, "round,pad=0.5"),
                  "facecolor": NODE_COLOURS.get(kind, BUS),
                  "edgecolor": NODE_COLOURS.get(kind, BUS), "linewidth": 2},
        )  # fmt: skip
        boxes[node] = text.get_bbox_patch()
    for u, v, data in graph.edges(data=True):
        style, colour = EDGE_STYLES.get(str(data.get("kind", "")), ("-.", "grey"))
        (x0, y0), (x1, y1) = pos[u], pos[v]
        rad = 0.0 if x1 > x0 else 0.3  # backward or same-layer edges curve away
        arrow = FancyArrowPatch(
            (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, linestyle=style,
            linewidth=1.8, color=colour, connectionstyle=f"arc3,rad={rad}",
            patchA=boxes[u], patchB=boxes[v], shrinkA=2, shrinkB=2, zorder=4,
            gid=f"edge:{u}->{v}",
        )  # fmt: skip
        ax.add_patch(arrow)
        label = str(data.get("label", ""))
        if rad and graph.has_edge(v, u) and graph.edges[v, u].get("label") == label:
            label = ""  # a round trip (retry topics) is labelled once, on its straight edge
        # the lane's labels clear of the main flow; an edge spanning columns has its label
        # in the first gap, not on the boxes of the columns it passes
        along = 0.7 if v in lane else 0.5 / max(1.0, x1 - x0)
        lx, ly = _label_point(ax, (x0, y0), (x1, y1), rad, along)
        ax.text(
            lx, ly, label.replace(", ", "\n"), ha="center", va="center",
            fontsize=7.5, zorder=5, color="#333333", gid=f"label:{u}->{v}",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                  "alpha": 0.85},
        )  # fmt: skip
    ax.legend(handles=_legend(graph), loc="upper center", bbox_to_anchor=(0.5, 0.0),
              ncol=6, frameon=False, fontsize=8)  # fmt: skip
    return ax


def _legend(graph: nx.DiGraph[str]) -> list[Artist]:
    """The legend's entries: the event side's always (as the seed's diagram has them),
    the request-response kinds present and call edges only when there are some."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    present = {kind for _, kind in node_kinds(graph)}
    kinds = [("producer", "producer"), ("bus", "event bus"), ("consumer_group", "consumer group")]
    kinds += [(k, text) for k, text in REQUEST_SIDE.items() if k in present]
    calls = any(data.get("kind") == "call" for _, _, data in graph.edges(data=True))
    edges = [k for k in EDGE_STYLES if k != "call" or calls]
    return [
        *(Patch(facecolor=NODE_COLOURS.get(k, BUS), label=text) for k, text in kinds),
        *(Line2D([], [], linestyle=EDGE_STYLES[k][0], color=EDGE_STYLES[k][1],
                 label=k.replace("_", " ")) for k in edges),
    ]  # fmt: skip


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
