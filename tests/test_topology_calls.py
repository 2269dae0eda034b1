"""Topology of the request-response side: its nodes, call edges from the configuration
and from the run, their place in the layout, the drawing and the Mermaid text."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import pytest

import evsim as ev
from evsim.views.topology_layout import layout

CALL_PURPLE = "#5e35b1"
KIND_COLOURS = {"client": "#f4a261", "service": "#8e63ce", "load_balancer": "#26a69a",
                "cache": "#7cb342"}  # fmt: skip


def bill(event, ctx):
    yield ctx.call("payment-api", timeout=1.0)


def mixed(record: str = "full") -> ev.Simulation:
    """Orders on a topic, billed by a consumer group calling the payment API (ctx.call),
    which calls a fraud API; a web client behind a load balancer of two APIs reading
    customers through a cache; a mobile app calling the payment API."""
    sim = ev.Simulation(seed=1, record=record)
    sim.topic("orders", partitions=3)
    sim.producer("shop", "orders", ev.Poisson(rate=5), "OrderCreated")
    sim.consumer_group("billing", "orders", handler=bill)
    sim.service(
        "payment-api", workers=4, service_time=ev.Exponential(0.02), queue_limit=10,
        calls=[ev.Call("fraud-api", timeout=0.2, retry=ev.Retry(3), breaker=ev.CircuitBreaker())],
    )  # fmt: skip
    sim.service("fraud-api", workers=2, service_time=0.01, faults=[ev.TransientErrors(p=0.1)])
    for api in ("api-a", "api-b"):
        sim.service(api, workers=2, service_time=0.01, calls=[ev.Call("customer-cache")])
    sim.service("customer-db", workers=1, service_time=0.03)
    sim.cache("customer-cache", target="customer-db", ttl=5, capacity=100, timeout=0.5)
    sim.load_balancer("lb", targets=["api-a", "api-b"], strategy="least_connections")
    sim.client("web", "lb", arrivals=ev.Poisson(rate=20), timeout=1.0, keys=ev.UniformKeys(50))
    sim.client("mobile", "payment-api", users=3, think_time=0.2)
    return sim


CONFIGURED = {  # call edges the configuration names, and their labels
    ("web", "lb"): "timeout 1 s",
    ("mobile", "payment-api"): "no timeout",
    ("payment-api", "fraud-api"): "timeout 0.2 s, 3 attempts, breaker",
    ("lb", "api-a"): "forwards",
    ("lb", "api-b"): "forwards",
    ("api-a", "customer-cache"): "no timeout",
    ("api-b", "customer-cache"): "no timeout",
    ("customer-cache", "customer-db"): "on a miss, timeout 0.5 s",
}


@pytest.fixture(scope="module")
def result() -> ev.Result:
    return mixed().run(until=20)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def calls_of(graph: nx.DiGraph) -> dict[tuple[str, str], str]:
    return {(u, v): d["label"] for u, v, d in graph.edges(data=True) if d["kind"] == "call"}


# --- the graph ----------------------------------------------------------------------------


def test_request_response_nodes_carry_their_kind_and_detail():
    graph = ev.topology(mixed())
    nodes = dict(graph.nodes(data=True))
    assert {n: d["kind"] for n, d in nodes.items() if d["kind"] in KIND_COLOURS} == {
        "web": "client", "mobile": "client", "payment-api": "service", "fraud-api": "service",
        "api-a": "service", "api-b": "service", "customer-db": "service",
        "lb": "load_balancer", "customer-cache": "cache",
    }  # fmt: skip
    assert nodes["payment-api"]["detail"] == "4 workers, queue ≤ 10"
    assert nodes["customer-db"]["detail"] == "1 worker"
    assert nodes["lb"]["detail"] == "least connections"
    assert nodes["customer-cache"]["detail"] == "ttl 5 s, 100 entries"
    assert nodes["web"]["detail"] == "client"
    assert nodes["mobile"]["detail"] == "client, 3 users"


def test_a_simulation_has_the_call_edges_its_configuration_names():
    graph = ev.topology(mixed())
    assert calls_of(graph) == CONFIGURED  # the handler's ctx.call is not known yet
    assert all(graph.edges[e]["event_types"] == [] for e in CONFIGURED)
    assert graph.edges["shop", "orders"]["kind"] == "publish"
    assert graph.edges["orders", "billing"]["kind"] == "subscribe"


def test_a_result_adds_the_calls_made_at_run_time_and_keeps_the_rest(result):
    graph = ev.topology(result)
    assert calls_of(graph) == {**CONFIGURED, ("billing", "payment-api"): "ctx.call"}
    seen = set(result.calls[["caller", "callee"]].astype(str).itertuples(index=False, name=None))
    assert seen == set(calls_of(graph))  # every edge carried calls, and no call is missing
    assert nx.utils.graphs_equal(
        ev.topology(mixed()), nx.restricted_view(graph, [], [("billing", "payment-api")])
    )  # one code path: the same nodes and edges from the simulation and its result


def test_a_summary_mode_result_shows_what_the_configuration_says():
    graph = ev.topology(mixed(record="summary").run(until=5))
    assert calls_of(graph) == CONFIGURED


# --- layout -------------------------------------------------------------------------------


def test_clients_start_on_the_left_and_each_callee_is_right_of_its_callers(result):
    graph = ev.topology(result)
    pos = layout(graph)
    assert pos["web"][0] == pos["mobile"][0] == pos["shop"][0] == 0
    for u, v in calls_of(graph):
        assert pos[u][0] < pos[v][0], (u, v)
    assert pos["lb"][0] == 1 and pos["customer-db"][0] == 4
    assert pos["payment-api"][0] == pos["billing"][0] + 1  # after its furthest caller


def test_a_cycle_of_calls_still_gets_a_layout():
    sim = ev.Simulation(seed=1)
    sim.service("a", calls=[ev.Call("b")])
    sim.service("b", calls=[ev.Call("a")])
    sim.client("web", "a", arrivals=ev.Poisson(rate=1))
    pos = layout(ev.topology(sim))
    assert set(pos) == {"a", "b", "web"}
    assert all(0 <= x <= 4 for x, _ in pos.values())


# --- drawing ------------------------------------------------------------------------------


def test_call_edges_are_drawn_solid_beside_dashed_publish_and_dotted_subscribe(result, tmp_path):
    ax = ev.draw_topology(result)
    edges = {p.get_gid()[5:]: p for p in ax.patches if (p.get_gid() or "").startswith("edge:")}
    assert len(edges) == ev.topology(result).number_of_edges()
    for u, v in [*CONFIGURED, ("billing", "payment-api")]:
        arrow = edges[f"{u}->{v}"]
        assert arrow.get_linestyle() == "-"
        assert matplotlib.colors.to_hex(arrow.get_edgecolor()) == CALL_PURPLE
    assert edges["shop->orders"].get_linestyle() == "--"
    assert edges["orders->billing"].get_linestyle() == ":"
    nodes = {t.get_gid()[5:]: t for t in ax.texts if (t.get_gid() or "").startswith("node:")}
    graph = ev.topology(result)
    for name, text in nodes.items():
        kind = graph.nodes[name]["kind"]
        if kind in KIND_COLOURS:
            assert (
                matplotlib.colors.to_hex(text.get_bbox_patch().get_facecolor())
                == (KIND_COLOURS[kind])
            )
    shapes = {n: type(nodes[n].get_bbox_patch().get_boxstyle()).__name__
              for n in ("payment-api", "lb", "customer-cache", "web")}  # fmt: skip
    assert len(set(shapes.values())) == 4  # a shape per request-response kind
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"client", "service", "load balancer", "cache", "call"} <= set(legend)
    ax.get_figure().savefig(tmp_path / "mixed.png")
    assert (tmp_path / "mixed.png").stat().st_size > 0


def test_an_event_only_drawing_keeps_its_legend(order_flow_core):
    ax = ev.draw_topology(order_flow_core(seed=1))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["producer", "event bus", "consumer group", "publish", "subscribe",
                      "dead letter"]  # fmt: skip
    assert ax.get_title() == "Topology: producers → event bus → consumers"


# --- Mermaid ------------------------------------------------------------------------------


def test_mermaid_writes_calls_as_solid_arrows_and_pub_sub_dashed_and_dotted(result):
    text = ev.to_mermaid(result)
    lines = text.splitlines()
    assert "    c_web -->|Calls: timeout 1 s| b_lb" in lines
    assert "    g_billing -->|Calls: ctx.call| s_payment_api" in lines
    assert "    k_customer_cache -->|Calls: on a miss, timeout 0.5 s| s_customer_db" in lines
    links = [line for line in lines if "-->" in line]
    styles = {int(line.split()[1]): line for line in lines if line.strip().startswith("linkStyle")}
    assert len(links) == len(styles) == ev.topology(result).number_of_edges()
    for index, link in enumerate(links):
        if "|Calls: " in link:
            assert styles[index].endswith(f"stroke:{CALL_PURPLE},stroke-width:2px")
        else:
            assert "stroke-dasharray" in styles[index]  # publish dashed, subscribe dotted
    for shape in ("c_web([web])", "b_lb{{lb}}", "k_customer_cache[(customer-cache)]",
                  "s_payment_api[payment-api]"):  # fmt: skip
        assert f"        {shape}" in lines
    for title in ("Producers", "Clients", "Event Bus", "Consumers", "Services"):
        assert any(line.strip().startswith("subgraph") and f"[{title}]" in line for line in lines)
    for css, colour in (("client", "#f4a261"), ("loadbalancer", "#26a69a"), ("cache", "#7cb342")):
        assert f"classDef {css} fill:{colour},stroke:{colour}" in text
    assert (
        "    class c_mobile,c_web client;" in lines or "    class c_web,c_mobile client;" in lines
    )


def test_a_service_whose_handler_publishes_gets_a_publish_edge_from_the_run():
    """The event-driven order entry: an HTTP service that publishes and answers 202."""
    systems = ev.compare_systems(seed=2)
    sim = systems["event_driven"]
    assert not ev.topology(sim).has_edge("orders", "order-events")  # known only at run time
    graph = ev.topology(sim.run(until=3.0))
    edge = graph.edges["orders", "order-events"]
    assert edge["kind"] == "publish" and edge["label"] == "OrderCreated"
    assert not graph.has_edge("orders", "order-events-dlt")
