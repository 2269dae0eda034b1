"""Charts (ev.plot): tested through the data they draw, not their pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import evsim as ev
from evsim.views import plot


@pytest.fixture(scope="module")
def order_flow(order_flow_core):
    """``order_flow(until=30.0, warmup=0.0, **simulation)``: the seed's order flow, run;
    notification's consumer 1 is down from 10 s to 20 s."""

    def run(until: float = 30.0, warmup: float = 0.0, **simulation) -> ev.Result:
        sim = order_flow_core(seed=1, **simulation)
        sim.consumer_group(
            "notification-service", "order-events", consumers=2,
            service_time=ev.Exponential(0.02),
            faults=[ev.Outage(10, 20, consumers=["notification-service-1"])],
        )  # fmt: skip
        return sim.run(until=until, warmup=warmup)

    return run


@pytest.fixture(scope="module")
def result(order_flow) -> ev.Result:
    return order_flow()


@pytest.fixture(scope="module")
def fanout(fanout_flow_core) -> ev.Result:
    sim, sns = fanout_flow_core(seed=1)
    sim.queue("AuditQueue")
    sns.subscribe("AuditQueue")
    sim.consumer_group("auditor", "AuditQueue", service_time=0.01)
    return sim.run(until=30)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


# --- latency ------------------------------------------------------------------------------


def test_latency_data_is_the_sample_summary_measures(order_flow):
    result = order_flow(warmup=5)
    data = plot.latency_data(result)
    summary = result.summary()
    counts = data.groupby("group")["latency"].size()
    for group in result.groups:
        sample = data.loc[data["group"] == group, "latency"]
        assert counts[group] == round(summary.loc[group, "throughput"] * 25)
        assert sample.mean() == pytest.approx(summary.loc[group, "latency_mean"])
        assert sample.quantile(0.99) == pytest.approx(summary.loc[group, "latency_p99"])
    only = plot.latency_data(result, groups=["payment-service"])
    assert set(only["group"]) == {"payment-service"}


def test_latency_ecdf_draws_each_groups_sorted_sample_with_percentile_markers(result):
    ax = plot.latency(result)
    lines = lines_by_label(ax)
    data = plot.latency_data(result)
    summary = result.summary()
    for group in result.groups:
        sample = np.sort(data.loc[data["group"] == group, "latency"].to_numpy())
        line = lines[group]
        np.testing.assert_allclose(line.get_xdata(), sample)
        np.testing.assert_allclose(line.get_ydata(), np.arange(1, len(sample) + 1) / len(sample))
        colour = line.get_color()
        marks = [m for m in ax.get_lines() if m.get_label() == "_nolegend_"
                 and m.get_color() == colour]  # fmt: skip
        xs = sorted(float(m.get_xdata()[0]) for m in marks)
        expected = summary.loc[group, ["latency_p50", "latency_p95", "latency_p99"]]
        np.testing.assert_allclose(xs, expected.to_numpy(dtype=float))
        assert sorted(float(m.get_ydata()[0]) for m in marks) == [0.5, 0.95, 0.99]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "latency (s)"
    assert "Latency" in ax.get_title()


def test_latency_histogram_and_linear_axis(result):
    ax = plot.latency(result, kind="hist", groups=["payment-service"], log=False)
    assert ax.get_xscale() == "linear"
    assert len(ax.patches) == 1  # one step histogram
    counts = ax.patches[0].get_path().vertices
    assert counts[:, 1].max() > 0
    p99 = result.summary().loc["payment-service", "latency_p99"]
    vertical = [ln for ln in ax.get_lines() if len(set(ln.get_xdata())) == 1]
    assert any(ln.get_xdata()[0] == pytest.approx(p99) for ln in vertical)
    assert ax.get_ylabel() == "events"
    with pytest.raises(ev.ConfigError, match="kind"):
        plot.latency(result, kind="violin")


def test_percentile_bars_are_summarys_percentiles(result):
    ax = plot.percentiles(result)
    summary = result.summary()
    bars = {c.get_label(): [b.get_height() for b in c] for c in ax.containers}
    for name in ("p50", "p95", "p99"):
        np.testing.assert_allclose(bars[name], summary[f"latency_{name}"].to_numpy(dtype=float))
    assert [t.get_text() for t in ax.get_xticklabels()] == result.groups
    # notification's outage: p99 ~10 s against p50 ~0.01 s; a linear axis flattens the p50s
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "latency (s, log scale)"
    healthy = plot.percentiles(many_groups(2))
    assert healthy.get_yscale() == "linear" and healthy.get_ylabel() == "latency (s)"


# --- over time ----------------------------------------------------------------------------


def test_throughput_counts_processed_events_per_second_by_completion_time(result):
    data = plot.throughput_data(result, bin=2.0)
    assert list(data.columns) == result.groups
    np.testing.assert_allclose(data.index, np.arange(0, 30, 2.0))
    deliveries = result.deliveries
    processed = deliveries[deliveries["outcome"] == "processed"]
    for group in result.groups:
        assert (data[group] * 2.0).sum() == pytest.approx((processed["group"] == group).sum())
    first = processed[(processed["group"] == "payment-service") & (processed["completed_at"] < 2)]
    assert data.loc[0.0, "payment-service"] == len(first) / 2.0
    ax = plot.throughput(result, bin=2.0)
    line = lines_by_label(ax)["notification-service"]
    np.testing.assert_allclose(line.get_ydata(), data["notification-service"])
    assert ax.get_ylabel() == "throughput (events/s)"
    assert ax.get_xlabel() == "time (s)"


def test_throughput_last_bin_is_divided_by_its_own_length(order_flow):
    result = order_flow(until=5.5)
    data = plot.throughput_data(result, bin=2.0)
    np.testing.assert_allclose(data.index, [0, 2, 4])
    done = result.deliveries
    late = done[(done["outcome"] == "processed") & (done["completed_at"] >= 4)
                & (done["group"] == "payment-service")]  # fmt: skip
    assert data.loc[4.0, "payment-service"] == pytest.approx(len(late) / 1.5)
    with pytest.raises(ev.ConfigError, match="bin"):
        plot.throughput_data(result, bin=0)


def test_lag_per_group_by_default_and_per_partition_on_request(result):
    series = result.timeseries
    lag = series[series["metric"] == "lag"]
    data = plot.lag_data(result, per_partition=True)
    assert set(data.columns) == set(lag["entity"].astype(str))
    entity = "payment-service/order-events-1"
    expected = lag[lag["entity"] == entity].set_index("time")["value"]
    np.testing.assert_allclose(data[entity].to_numpy(), expected.to_numpy())
    per_group = plot.lag_data(result)
    assert list(per_group.columns) == result.groups
    partitions = [f"notification-service/order-events-{p}" for p in range(3)]
    np.testing.assert_allclose(per_group["notification-service"], data[partitions].sum(axis=1))
    # the default chart: a line per group, summed as summary()'s max_lag is
    ax = plot.lag(result)
    assert set(lines_by_label(ax)) == set(result.groups)
    assert "per consumer group" in ax.get_title()
    peaks = {g: line.get_ydata().max() for g, line in lines_by_label(ax).items()}
    assert peaks == result.summary()["max_lag"].to_dict()
    ax = plot.lag(result, group="payment-service", per_partition=True)
    assert set(lines_by_label(ax)) == {f"payment-service/order-events-{p}" for p in range(3)}
    np.testing.assert_allclose(lines_by_label(ax)[entity].get_ydata(), expected.to_numpy())
    assert ax.get_ylabel() == "lag (events)"
    with pytest.raises(ev.ConfigError, match="group"):
        plot.lag_data(result, group="nobody")


def many_groups(groups: int, partitions: int = 6) -> ev.Result:
    sim = ev.Simulation(seed=2)
    sim.topic("t", partitions=partitions)
    sim.producer("p", "t", ev.Poisson(rate=50), keys=ev.UniformKeys(1000))
    for i in range(groups):
        sim.consumer_group(f"g{i}", "t", consumers=3, service_time=ev.Exponential(0.01))
    return sim.run(until=20)


def legend_labels(ax) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None, "no legend"
    return [text.get_text() for text in legend.get_texts()]


@pytest.mark.parametrize(("groups", "per_partition", "lines"), [(4, False, 4), (3, True, 18),
                                                                (5, True, 30)])  # fmt: skip
def test_lag_lines_have_distinct_colours_and_a_legend(groups, per_partition, lines):
    result = many_groups(groups)
    ax = plot.lag(result, per_partition=per_partition)
    drawn = ax.get_lines()
    assert len(drawn) == lines
    colours = {matplotlib.colors.to_hex(line.get_color()) for line in drawn}
    assert len(colours) == lines  # no colour used twice
    assert legend_labels(ax) == [line.get_label() for line in drawn]


def test_depth_shows_queues_and_dlqs_once_each(fanout):
    data = plot.depth_data(fanout)
    assert list(data.columns) == ["NotificationQueue", "AuditQueue", "NotificationDLQ (DLQ)"]
    series = fanout.timeseries
    dlq = series[(series["metric"] == "dlq_depth") & (series["entity"] == "NotificationDLQ")]
    np.testing.assert_allclose(data["NotificationDLQ (DLQ)"], dlq["value"])
    assert data["NotificationDLQ (DLQ)"].iloc[-1] > 0  # poison-ish failures reached the DLQ
    ax = plot.depth(fanout)
    lines = lines_by_label(ax)
    assert lines["NotificationDLQ (DLQ)"].get_linestyle() == "--"
    assert lines["AuditQueue"].get_linestyle() == "-"
    assert ax.get_ylabel() == "depth (messages)"
    assert ax.get_title() == "Queue and dead-letter queue depth"


def test_depth_names_dead_letter_queues_only_when_there_is_one():
    sim = ev.Simulation(seed=1)
    sim.queue("orders")
    sim.producer("shop", "orders", ev.Poisson(rate=2))
    sim.consumer_group("billing", "orders", service_time=0.1)
    assert plot.depth(sim.run(until=10)).get_title() == "Queue depth"


def test_consumers_up_changes_only_with_crashes_or_outages(result, fanout):
    assert plot.consumers_up_changes(result)  # notification's outage
    assert not plot.consumers_up_changes(fanout)
    assert not plot.consumers_up_changes(many_groups(2))


def test_consumers_up_dips_during_an_outage(result):
    data = plot.consumers_up_data(result)
    assert list(data.columns) == result.groups
    notification = data["notification-service"]
    assert notification.loc[5.0] == 2
    assert notification.loc[15.0] == 1
    assert notification.loc[25.0] == 2
    assert (data["payment-service"] == 1).all()
    ax = plot.consumers_up(result)
    np.testing.assert_allclose(lines_by_label(ax)["notification-service"].get_ydata(), notification)
    assert ax.get_ylabel() == "consumers up"
    ax.figure.canvas.draw()
    assert all(float(tick).is_integer() for tick in ax.get_yticks())  # whole consumers


# --- sweeps -------------------------------------------------------------------------------


def sweep_table() -> pd.DataFrame:
    rows = []
    for variant in ("range", "sticky"):
        for partitions in (1, 2, 4):
            for replication in range(3):
                value = partitions * (2 if variant == "sticky" else 1) + replication
                rows.append({"assignment": variant, "partitions": partitions,
                             "replication": replication, "seed": replication,
                             "group": "g", "max_lag": float(value)})  # fmt: skip
    return pd.DataFrame(rows)


def test_sweep_data_means_and_confidence_intervals_over_replications():
    table = sweep_table()
    data = plot.sweep_data(table, "partitions", "max_lag", by="assignment")
    assert list(data.columns) == ["assignment", "partitions", "mean", "low", "high", "n"]
    assert len(data) == 6
    row = data[(data["assignment"] == "sticky") & (data["partitions"] == 2)].iloc[0]
    ci = ev.confidence_interval([4.0, 5.0, 6.0])
    assert (row["mean"], row["low"], row["high"], row["n"]) == pytest.approx(
        (ci.mean, ci.low, ci.high, 3)
    )
    with pytest.raises(ev.ConfigError, match="assignment"):
        plot.sweep_data(table, "partitions", "max_lag")  # assignment varies too
    with pytest.raises(ev.ConfigError, match="metric"):
        plot.sweep_data(table, "partitions", "p99")


def test_sweep_comparison_draws_one_errorbar_line_per_variant():
    table = sweep_table()
    ax = plot.sweep_comparison(table, "partitions", "max_lag", by="assignment", level=0.9)
    data = plot.sweep_data(table, "partitions", "max_lag", by="assignment", level=0.9)
    assert len(ax.containers) == 2
    for container, (name, part) in zip(ax.containers, data.groupby("assignment"), strict=True):
        line, _, (bars,) = container
        np.testing.assert_allclose(np.asarray(line.get_xdata(), float), part["partitions"])
        np.testing.assert_allclose(np.asarray(line.get_ydata(), float), part["mean"])
        segments = bars.get_segments()
        np.testing.assert_allclose([s[0][1] for s in segments], part["low"])
        np.testing.assert_allclose([s[1][1] for s in segments], part["high"])
        assert container.get_label() == f"assignment = {name}"
    assert ax.get_ylabel() == "max_lag (events)"
    assert "90% confidence interval" in ax.get_title()


def test_sweep_comparison_on_a_real_sweep_uses_one_line_per_group():
    def run(seed, rate):
        sim = ev.Simulation(seed=seed)
        sim.topic("t", partitions=2)
        sim.producer("p", "t", ev.Poisson(rate=rate), "E")
        sim.consumer_group("fast", "t", service_time=ev.Exponential(0.005))
        sim.consumer_group("slow", "t", service_time=ev.Exponential(0.02))
        return sim.run(until=10)

    table = ev.sweep(run, {"rate": [5, 20]}, replications=2, executor="serial")
    data = plot.sweep_data(table, "rate", "throughput")
    assert set(data["group"]) == {"fast", "slow"} and (data["n"] == 2).all()
    ax = plot.sweep_comparison(table, "rate", "throughput")
    assert [c.get_label() for c in ax.containers] == ["group = fast", "group = slow"]
    assert ax.get_ylabel() == "throughput (events/s)"


@pytest.mark.parametrize(
    ("values", "order", "scale"),
    [
        (["1", "10", "1000", "2"], [1, 2, 10, 1000], "log"),  # YAML reads 1e3 as text
        ([1, 10, 1000, 2], [1, 2, 10, 1000], "log"),
        ([0.5, 20.0, 50.0], [0.5, 20.0, 50.0], "linear"),  # a span of exactly 100
        ([0, 10, 1000], [0, 10, 1000], "linear"),  # zero: no log axis
        (["range", "sticky"], ["range", "sticky"], "linear"),  # not numbers: as given
    ],
)
def test_sweep_places_values_in_numeric_order_on_a_log_axis_past_100x(values, order, scale):
    table = pd.DataFrame(
        [{"x": v, "replication": r, "seed": r, "group": "g", "throughput": float(i + r)}
         for i, v in enumerate(values) for r in range(2)]
    )  # fmt: skip
    data = plot.sweep_data(table, "x", "throughput")
    assert data["x"].tolist() == order
    ax = plot.sweep_comparison(table, "x", "throughput")
    line = ax.containers[0][0]
    assert list(line.get_xdata()) == order
    assert ax.get_xscale() == scale
    assert ax.get_xlabel() == ("x (log scale)" if scale == "log" else "x")


# --- the standard set ---------------------------------------------------------------------


def test_standard_charts_write_the_charts_that_have_data(result, fanout, tmp_path):
    written = plot.standard_charts(result, tmp_path / "flow")
    names = {p.stem for p in written}
    assert names == {"topology", "latency", "percentiles", "throughput", "lag", "consumers_up"}
    assert all(p.suffix == ".png" and p.stat().st_size > 1000 for p in written)
    names = {p.stem for p in plot.standard_charts(fanout, tmp_path / "fan")}
    assert "depth" in names and "lag" not in names  # queues, no topics
    assert "consumers_up" not in names  # no consumer went down: flat lines
    assert not plt.get_fignums()  # nothing left open


def test_standard_charts_of_a_summary_mode_run(order_flow, tmp_path):
    result = order_flow(until=10, record="summary")
    names = {p.stem for p in plot.standard_charts(result, tmp_path)}
    assert names == {"topology", "percentiles"}


def test_partition_lag_shows_the_hot_partition_as_the_tallest_bar():
    sim = ev.Simulation(seed=3)
    topic = sim.topic("t", partitions=4)
    sim.producer("p", "t", ev.Poisson(rate=30), keys=ev.ZipfKeys(100, s=2.0))
    sim.consumer_group("g", "t", consumers=4, service_time=ev.Exponential(0.05))
    result = sim.run(until=120, warmup=20)
    ax = ev.plot.partition_lag(result)
    heights = [bar.get_height() for bar in ax.patches]
    hot = topic.partition_for("key-0")  # the hottest key's partition
    assert len(heights) == 4 and max(heights) == heights[hot]
    assert "p95 latency" in ax.get_title()


def test_partition_lag_asks_which_group_when_there_are_several():
    sim = ev.Simulation(seed=3)
    sim.topic("t", partitions=2)
    sim.producer("p", "t", ev.Poisson(rate=5))
    sim.consumer_group("a", "t")
    sim.consumer_group("b", "t")
    result = sim.run(until=10)
    with pytest.raises(ev.ConfigError, match="group: the run has several topic groups"):
        ev.plot.partition_lag(result)
    assert len(ev.plot.partition_lag(result, group="b").patches) == 2


# --- order per key ------------------------------------------------------------------------


def retried_run(blocking: bool) -> ev.Result:
    sim = ev.Simulation(seed=3)
    sim.topic("orders", partitions=3)
    sim.producer("shop", "orders", ev.Poisson(rate=20), "OrderPlaced", ev.UniformKeys(20))
    sim.consumer_group(
        "billing", "orders", consumers=3, service_time=ev.Exponential(0.01),
        faults=[ev.TransientErrors(0.2)],
        retry=ev.Retry(3, ev.Backoff(0.2), blocking=blocking),
    )  # fmt: skip
    return sim.run(until=30)


def out_of_order_by_hand(result: ev.Result, group: str) -> dict:
    """The same count, one event at a time: processed after a later-published one."""
    events = result.events.set_index("event_id")
    done = result.deliveries.query("group == @group and outcome == 'processed'")
    done = done.sort_values(["completed_at", "event_id"])
    latest: dict = {}
    counts: dict = {}
    for event_id in done["event_id"]:
        key, published = events.at[event_id, "key"], events.at[event_id, "published_at"]
        counts[key] = counts.get(key, 0) + (published < latest.get(key, -np.inf))
        latest[key] = max(published, latest.get(key, -np.inf))
    return counts


def test_blocking_retries_keep_the_order_of_each_key():
    result = retried_run(blocking=True)
    table = plot.out_of_order_data(result, "billing")
    assert table["out_of_order"].sum() == 0
    assert table["processed"].sum() == result.summary().loc["billing", "processed"]


def test_retry_topics_reorder_keys_and_the_count_matches_one_done_by_hand():
    result = retried_run(blocking=False)
    table = plot.out_of_order_data(result, "billing")
    assert table["out_of_order"].sum() > 0
    assert table["out_of_order"].to_dict() == out_of_order_by_hand(result, "billing")
    assert table["processed"].sum() == result.summary().loc["billing", "processed"]
    assert list(table.columns) == ["processed", "out_of_order"]


def test_out_of_order_data_names_an_unknown_group(result):
    with pytest.raises(ev.ConfigError, match="no consumer group named 'nobody'"):
        plot.out_of_order_data(result, "nobody")
