"""Topology: the graph of a system, its drawing in the seed's style, and its Mermaid text."""

from __future__ import annotations

import itertools
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
import pytest

import evsim as ev
from evsim.views.topology_layout import layout

CORAL, YELLOW, BLUE = "#ff6f61", "#ffeb3b", "#405de6"


@pytest.fixture
def order_flow(order_flow_core) -> ev.Simulation:
    """The seed's diagram: Orders publishes OrderCreated, Payment publishes
    PaymentProcessed, Notification reads both, Inventory reads OrderCreated."""
    sim = order_flow_core(seed=1)
    sim.consumer_group(
        "notification-service", "order-events", consumers=2,
        event_types=["OrderCreated", "PaymentProcessed"], service_time=ev.Exponential(0.01),
    )  # fmt: skip
    sim.consumer_group(
        "inventory-service", "order-events", event_types=["OrderCreated"],
        service_time=ev.Exponential(0.01), faults=[ev.TransientErrors(p=0.2)],
        dead_letter="order-events-dlt",
    )  # fmt: skip
    return sim


@pytest.fixture
def fanout_flow(fanout_flow_core) -> ev.Simulation:
    """The seed's SNS/SQS configuration: a fan-out, filtered queue subscriptions, a DLQ."""
    sim, sns = fanout_flow_core(seed=1, max_receive_count=3, failure_p=0.3)
    sim.queue("AuditQueue")
    sim.queue("BigOrders")
    sns.subscribe("AuditQueue")
    sns.subscribe("BigOrders", filter_policy={"amount": [{"numeric": [">=", 100]}]})
    sim.producer("payment-service", "OrderEvents", ev.Poisson(rate=5), "PaymentProcessed")
    sim.consumer_group("auditor", "AuditQueue", service_time=0.01)
    return sim


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def edge(graph: nx.DiGraph, u: str, v: str) -> tuple[str, str]:
    data = graph.edges[u, v]
    return data["kind"], data["label"]


# --- the graph ----------------------------------------------------------------------------


def test_order_flow_graph_has_a_node_per_component_with_its_kind(order_flow):
    graph = ev.topology(order_flow)
    assert isinstance(graph, nx.DiGraph)
    assert dict(graph.nodes(data="kind")) == {
        "orders-service": "producer",
        "order-events": "topic",
        "order-events-dlt": "topic",
        "payment-service": "consumer_group",
        "notification-service": "consumer_group",
        "inventory-service": "consumer_group",
    }
    assert graph.nodes["order-events"]["detail"] == "3 partitions"
    assert graph.nodes["notification-service"]["detail"] == "2 consumers"


def test_publish_subscribe_and_dead_letter_edges_are_labelled_with_event_types(order_flow):
    graph = ev.topology(order_flow)
    assert edge(graph, "orders-service", "order-events") == ("publish", "OrderCreated")
    assert edge(graph, "order-events", "payment-service") == ("subscribe", "OrderCreated")
    assert edge(graph, "order-events", "notification-service") == (
        "subscribe",
        "OrderCreated, PaymentProcessed",
    )
    assert graph.edges["order-events", "notification-service"]["event_types"] == [
        "OrderCreated",
        "PaymentProcessed",
    ]
    assert edge(graph, "inventory-service", "order-events-dlt") == (
        "dead_letter",
        "after 1 attempt",
    )
    # from the configuration alone, nothing says what the handler publishes
    assert not graph.has_edge("payment-service", "order-events")


def test_a_result_adds_what_handlers_published_but_not_dead_letter_copies(order_flow):
    result = order_flow.run(until=20)
    graph = ev.topology(result)
    assert edge(graph, "payment-service", "order-events") == ("publish", "PaymentProcessed")
    assert graph.edges["payment-service", "order-events"]["event_types"] == ["PaymentProcessed"]
    # the DLT copies are events whose producer is the group, but they stay dead letters
    events = result.events
    copies = events[(events["producer"] == "inventory-service") & events["original_id"].notna()]
    assert len(copies) > 0
    assert edge(graph, "inventory-service", "order-events-dlt")[0] == "dead_letter"
    assert graph.number_of_edges() == 6


def test_fanout_subscriptions_show_filter_policies_and_queues_their_dlq(fanout_flow):
    graph = ev.topology(fanout_flow)
    kinds = dict(graph.nodes(data="kind"))
    assert kinds["OrderEvents"] == "fanout"
    assert kinds["NotificationDLQ"] == kinds["NotificationQueue"] == "queue"
    assert edge(graph, "OrderEvents", "NotificationQueue") == ("subscribe", "OrderCreated")
    assert edge(graph, "OrderEvents", "AuditQueue") == ("subscribe", "all")
    assert edge(graph, "OrderEvents", "BigOrders") == ("subscribe", "filter: amount")
    assert edge(graph, "NotificationQueue", "NotificationDLQ") == (
        "dead_letter",
        "after 3 receives",
    )
    assert edge(graph, "NotificationQueue", "notifier") == ("subscribe", "all")
    assert edge(graph, "payment-service", "OrderEvents") == ("publish", "PaymentProcessed")


def test_non_blocking_retry_topics_are_read_and_written_by_their_group():
    sim = ev.Simulation(seed=1)
    sim.topic("orders")
    sim.producer("shop", "orders", ev.Poisson(rate=5), "OrderCreated")
    sim.consumer_group(
        "billing", "orders", retry=ev.Retry(max_attempts=3, backoff=ev.Backoff(base=1),
                                            blocking=False),
    )  # fmt: skip
    graph = ev.topology(sim)
    retry_topics = [n for n in graph if "-retry-" in n]
    assert len(retry_topics) == 2
    for topic in retry_topics:
        assert edge(graph, "billing", topic) == ("publish", "retry")
        assert edge(graph, topic, "billing") == ("subscribe", "retry")
    assert edge(graph, "billing", "orders-dlt") == ("dead_letter", "after 3 attempts")


def test_topology_refuses_anything_but_a_simulation_or_result():
    with pytest.raises(ev.ConfigTypeError, match="sim_or_result"):
        ev.topology("order-events")


# --- layout and drawing -------------------------------------------------------------------


def test_layout_puts_producers_left_bus_centre_consumers_right_dead_letters_below(fanout_flow):
    graph = ev.topology(fanout_flow)
    pos = layout(graph)
    x = {kind: {pos[n][0] for n, k in graph.nodes(data="kind") if k == kind} for kind in
         ("producer", "fanout", "consumer_group")}  # fmt: skip
    queues = ["NotificationQueue", "AuditQueue", "BigOrders"]
    assert x["producer"] == {0.0}
    assert x["fanout"] == {1.0}
    assert {pos[q][0] for q in queues} == {2.0}
    assert x["consumer_group"] == {3.0}
    assert pos["NotificationDLQ"][1] < min(y for n, (_, y) in pos.items() if n != "NotificationDLQ")
    assert 2.0 < pos["NotificationDLQ"][0] < 3.0  # between its queue and the consumers
    for column in {p[0] for p in pos.values()}:  # evenly spread, centred
        ys = sorted(y for n, (x0, y) in pos.items() if x0 == column and n != "NotificationDLQ")
        assert sum(ys) == pytest.approx(0)
        assert all(b - a == pytest.approx(1) for a, b in itertools.pairwise(ys))


def test_layout_puts_what_groups_dead_letter_or_retry_to_right_of_the_consumers(order_flow):
    pos = layout(ev.topology(order_flow))
    assert pos["order-events-dlt"][0] == pos["inventory-service"][0] + 1
    assert pos["order-events-dlt"][1] == pos["inventory-service"][1]  # beside its group
    sim = ev.Simulation(seed=1)
    sim.topic("orders")
    sim.producer("shop", "orders", ev.Poisson(rate=5), "OrderCreated")
    retry = ev.Retry(max_attempts=3, backoff=ev.Backoff(base=1), blocking=False)
    sim.consumer_group("billing", "orders", retry=retry)
    pos = layout(ev.topology(sim))
    assert pos["orders"][0] == 1 and pos["billing"][0] == 2
    assert {x for n, (x, _) in pos.items() if n.startswith("orders-")} == {3.0}


def test_draw_topology_uses_the_seeds_colours_and_line_styles(order_flow):
    result = order_flow.run(until=10)
    ax = ev.draw_topology(result)
    nodes = {t.get_gid()[5:]: t for t in ax.texts if (t.get_gid() or "").startswith("node:")}
    assert set(nodes) == set(ev.topology(result))
    colour = {name: matplotlib.colors.to_hex(t.get_bbox_patch().get_facecolor())
              for name, t in nodes.items()}  # fmt: skip
    assert colour["orders-service"] == CORAL
    assert colour["order-events"] == colour["order-events-dlt"] == YELLOW
    assert colour["inventory-service"] == BLUE
    assert "3 partitions" in nodes["order-events"].get_text()
    edges = {p.get_gid()[5:]: p for p in ax.patches if (p.get_gid() or "").startswith("edge:")}
    assert len(edges) == 6
    assert edges["orders-service->order-events"].get_linestyle() == "--"
    assert edges["payment-service->order-events"].get_linestyle() == "--"
    assert edges["order-events->inventory-service"].get_linestyle() == ":"
    assert edges["inventory-service->order-events-dlt"].get_linestyle() == "-"
    labels = {t.get_gid()[6:]: t.get_text() for t in ax.texts
              if (t.get_gid() or "").startswith("label:")}  # fmt: skip
    assert labels["orders-service->order-events"] == "OrderCreated"
    assert labels["order-events->notification-service"] == "OrderCreated\nPaymentProcessed"
    x = {name: t.get_position()[0] for name, t in nodes.items()}
    assert x["orders-service"] < x["order-events"] < x["payment-service"]


def test_draw_topology_draws_on_a_given_axes_and_accepts_a_graph(fanout_flow, tmp_path):
    graph = ev.topology(fanout_flow)
    figure, ax = plt.subplots()
    assert ev.draw_topology(graph, ax=ax) is ax
    figure.savefig(tmp_path / "topology.png")  # draws (edges clip to the node boxes)
    assert (tmp_path / "topology.png").stat().st_size > 0


# --- Mermaid ------------------------------------------------------------------------------


def test_mermaid_text_follows_the_seeds_diagram(order_flow):
    text = ev.to_mermaid(order_flow.run(until=10))
    lines = text.splitlines()
    assert lines[0] == "graph TD"
    assert "    p_orders_service -->|Publishes: OrderCreated| t_order_events" in lines
    assert "    g_payment_service -->|Publishes: PaymentProcessed| t_order_events" in lines
    assert (
        "    t_order_events -->|Subscribes: OrderCreated, PaymentProcessed| "
        "g_notification_service" in lines
    )
    for title in ("Producers", "Event Bus", "Consumers"):
        assert any(line.strip().startswith("subgraph") and f"[{title}]" in line for line in lines)
    assert "fill:#ff6f61,stroke:#ff6f61" in text and "classDef producer" in text
    assert "classDef eventbus fill:#ffeb3b,stroke:#ffeb3b" in text
    assert "classDef consumer fill:#405de6,stroke:#405de6" in text
    assert "    class p_orders_service producer;" in lines
    links = [line for line in lines if "-->" in line]
    styles = [line for line in lines if line.strip().startswith("linkStyle")]
    assert len(styles) == len(links) == 6
    for index, link in enumerate(links):
        style = styles[index]
        assert style.startswith(f"    linkStyle {index} ")
        if "Publishes" in link:
            assert "stroke-dasharray:6,6" in style
        if "Subscribes" in link:
            assert "stroke-dasharray:4,4" in style
    assert links[0].startswith("    p_orders_service")  # publishes first, as in the seed


def test_mermaid_ids_are_valid_and_unique_and_labels_escaped():
    sim = ev.Simulation(seed=1)
    sim.topic("a-b")
    sim.topic("a_b")
    sim.topic("end")
    sim.producer('odd "one" | <x>', "a-b", ev.Periodic(interval=1), "Created")
    sim.consumer_group("orders/eu", ["a-b", "a_b", "end"])
    text = ev.to_mermaid(sim)
    ids = re.findall(r"^\s+(\w+)[\[]", text, flags=re.MULTILINE)
    assert len(ids) == len(set(ids)) == 5
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", i) for i in ids)
    assert {"t_a_b", "t_a_b_2", "t_end"} <= set(ids)
    assert 'p_odd__one_____x_["odd #quot;one#quot; #124; #lt;x#gt;"]' in text
    assert 'g_orders_eu["orders/eu"]' in text
