"""The shape of a system: a graph of who publishes where, who reads what, and who calls whom.

:func:`topology` builds a ``networkx.DiGraph`` from a :class:`~evsim.Simulation` or a
:class:`~evsim.Result`; :func:`~evsim.views.topology_draw.draw_topology` draws it on a
matplotlib Axes in the style of the seed's diagram (producers coral on the left, the event
bus yellow in the centre, consumers blue on the right; publish edges dashed, subscribe
edges dotted, call edges solid), at the positions :mod:`evsim.views.topology_layout` gives;
:func:`~evsim.views.topology_mermaid.to_mermaid` writes it as a Mermaid ``graph TD`` for
Markdown.

Nodes are named after their components and carry ``kind`` (``producer``, ``topic``,
``queue``, ``fanout``, ``consumer_group``; on the request-response side ``client``,
``service``, ``load_balancer``, ``cache``) and ``detail`` (a short description). Edges
carry ``kind`` (``publish``, ``subscribe``, ``dead_letter``, or ``call``: a synchronous
request that waits for its answer), ``event_types`` (a list, empty for "every type" and
for calls) and ``label``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evsim.errors import ConfigTypeError, SimulationStateError

if TYPE_CHECKING:
    import networkx as nx

PRODUCER, BUS, CONSUMER = "#ff6f61", "#ffeb3b", "#405de6"  # the seed's diagram colours
SERVICE, DEAD_LETTER_EDGE = "#8e63ce", "#d32f2f"
CLIENT, BALANCER, CACHE = "#f4a261", "#26a69a", "#7cb342"  # the request-response side
CALL_EDGE = "#5e35b1"  # a darker SERVICE: calls are solid lines in it
BUS_KINDS = ("topic", "queue", "fanout")
CALLEE_KINDS = ("service", "load_balancer", "cache")  # what a call may target
RETRY = "retry"  # the label of the edges to and from non-blocking retry topics


def topology(sim_or_result: Any) -> nx.DiGraph[str]:
    """The system as a directed graph: a node per component, an edge per flow of events.

    Call edges come from the configuration: a client to its target, a service to each
    of its ``calls``, a load balancer to each of its targets, a cache to the service it
    reads through (on a miss). Given a :class:`~evsim.Result`, it also adds an edge from
    a consumer group or a request-response service to every target its handler
    published to during the run (``ctx.publish``), labelled with the event types
    published: that is how a service that both consumes and produces (the seed's Payment
    service publishing ``PaymentProcessed``), or an HTTP entry that publishes an event and
    answers 202, appears; and a call edge for every caller → callee pair in
    ``result.calls`` the configuration does not name (a handler's ``ctx.call``, known
    only at run time). (A run recorded with ``record="summary"`` keeps no events or
    calls, so it shows only what the configuration says.)
    """
    import networkx as nx

    sim, result = _sim_and_result(sim_or_result)
    graph: nx.DiGraph[str] = nx.DiGraph()
    for producer in sim.producers.values():
        graph.add_node(producer.name, kind="producer", detail="producer")
    for client in sim.clients.values():
        graph.add_node(client.name, kind="client", detail=_client_detail(client.config))
    for fanout in sim.fanouts.values():
        graph.add_node(
            fanout.name, kind="fanout", detail="FIFO fan-out" if fanout.fifo else "fan-out"
        )
    for topic in sim.topics.values():
        graph.add_node(topic.name, kind="topic", detail=_plural(topic.partitions, "partition"))
    for queue in sim.queues.values():
        graph.add_node(queue.name, kind="queue", detail="FIFO queue" if queue.fifo else "queue")
    for group in sim.groups.values():
        detail = _plural(len(group.members), "consumer")
        if group.config.autoscale is not None:
            scale = group.config.autoscale
            detail = f"{detail}, autoscaled {scale.min_consumers}–{scale.max_replicas}"
        graph.add_node(group.name, kind="consumer_group", detail=detail)
    _add_callees(graph, sim)
    for producer in sim.producers.values():
        _link(graph, producer.name, producer.target.name, "publish", [producer.event_type])
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
    _add_calls(graph, sim)
    if result is not None:
        _add_handler_publishes(graph, result)
        _add_calls_seen(graph, result)
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


def _add_group_edges(graph: nx.DiGraph[str], group: Any) -> None:
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


def _add_callees(graph: nx.DiGraph[str], sim: Any) -> None:
    """A node per service, load balancer and cache."""
    for service in sim.services.values():
        config = service.config
        detail = _plural(config.workers, "worker")
        if config.queue_limit is not None:
            detail = f"{detail}, queue ≤ {config.queue_limit}"
        graph.add_node(service.name, kind="service", detail=detail)
    for balancer in sim.load_balancers.values():
        detail = balancer.strategy.replace("_", " ")
        graph.add_node(balancer.name, kind="load_balancer", detail=detail)
    for cache in sim.caches.values():
        detail = f"ttl {cache.ttl:g} s, {_plural(cache.capacity, 'entry', 'entries')}"
        graph.add_node(cache.name, kind="cache", detail=detail)


def _add_calls(graph: nx.DiGraph[str], sim: Any) -> None:
    """The call edges the configuration names: client → target, service → each call's
    target, load balancer → each target, cache → its target."""
    for client in sim.clients.values():
        config = client.config
        label = _call_label(config.timeout, config.retry, config.breaker, config.budget)
        _link(graph, client.name, config.target, "call", [], label)
    for service in sim.services.values():
        for call in service.config.call_list:
            label = _call_label(call.timeout, call.retry, call.breaker, call.budget)
            _link(graph, service.name, call.target, "call", [], label)
    for balancer in sim.load_balancers.values():
        for target in balancer.target_names:
            _link(graph, balancer.name, target, "call", [], "forwards")
    for cache in sim.caches.values():
        timeout = "" if cache.timeout is None else f", timeout {cache.timeout:g} s"
        _link(graph, cache.name, cache.target_name, "call", [], f"on a miss{timeout}")


def _add_calls_seen(graph: nx.DiGraph[str], result: Any) -> None:
    """A call edge per caller → callee pair in ``result.calls`` not there already (a
    consumer group handler's ``ctx.call``)."""
    try:
        calls = result.calls
    except SimulationStateError:  # record="summary" keeps no calls
        return
    pairs = calls[["caller", "callee"]].astype(str).drop_duplicates()
    for caller, callee in pairs.itertuples(index=False):
        _link(graph, caller, callee, "call", [], "ctx.call")


def _call_label(timeout: float | None, retry: Any, breaker: Any, budget: Any) -> str:
    """A call edge's label: its timeout ("no timeout": the caller waits for as long as
    it takes), attempts when it retries, and its breaker and retry budget if any."""
    parts = ["no timeout" if timeout is None else f"timeout {timeout:g} s"]
    if retry is not None and retry.max_attempts > 1:
        parts.append(f"{retry.max_attempts} attempts")
    if breaker is not None:
        parts.append("breaker")
    if budget is not None:
        parts.append("retry budget")
    return ", ".join(parts)


def _client_detail(config: Any) -> str:
    """A client's description: an open loop, or its users (a closed loop)."""
    if config.users is None:
        return "client"
    return f"client, {_plural(config.users, 'user')}"


def _add_handler_publishes(graph: nx.DiGraph[str], result: Any) -> None:
    try:
        events = result.events
    except SimulationStateError:  # record="summary" keeps no events
        return
    producer = events["producer"].astype(str)
    by_group = events["cause_id"].notna() & producer.isin(set(result.groups))
    by_service = producer.isin({service.name for service in result.record.services})
    chained = events[
        (by_group | by_service)
        & events["original_id"].isna()  # not a copy into a retry topic or a DLQ
    ]
    pairs = chained.groupby(
        [chained["producer"].astype(str), chained["target"].astype(str)], sort=False
    )["event_type"]
    for (group, target), types in pairs:
        _link(graph, group, target, "publish", sorted(set(types.astype(str))))


def _link(
    graph: nx.DiGraph[str], u: str, v: str, kind: str, types: list[str], label: str | None = None
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


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def node_kinds(graph: nx.DiGraph[str]) -> list[tuple[str, str]]:
    """(node, its kind; "" for none) for each node of a topology graph, in its order."""
    return [(node, str(data.get("kind", ""))) for node, data in graph.nodes(data=True)]


def graph_of(value: Any) -> nx.DiGraph[str]:
    """``value`` if it is a graph already, else the topology of a simulation or result."""
    import networkx as nx

    return value if isinstance(value, nx.DiGraph) else topology(value)
