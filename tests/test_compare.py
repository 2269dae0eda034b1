"""ev.compare: the seed's order flow built event-driven and request-response, measured
on the seed's comparison table; its claims checked on the default knobs, and the chart."""

from __future__ import annotations

import inspect
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import evsim as ev
from evsim.analysis import compare_measures, compare_models
from evsim.analysis.compare_table import ASPECTS, COLUMNS

ED, RR = "event_driven", "request_response"
SMALL = {"duration": 40.0, "outage": (10.0, 20.0), "spike": (10.0, 20.0, 10.0),
         "rates": (25.0, 50.0), "slowest": (1.0, 2.0), "executor": "serial"}  # fmt: skip


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return ev.compare()


def value(table: pd.DataFrame, architecture: str, measure: str, condition: str = "") -> float:
    """The one value of ``measure`` for ``architecture`` whose condition contains
    ``condition``."""
    rows = table[
        (table["architecture"] == architecture)
        & (table["measure"] == measure)
        & table["condition"].str.contains(condition, regex=False)
    ]
    assert len(rows) == 1, f"{architecture} {measure} {condition!r}: {len(rows)} rows"
    return float(rows["value"].iloc[0])


def values(table: pd.DataFrame, architecture: str, measure: str) -> list[float]:
    rows = table[(table["architecture"] == architecture) & (table["measure"] == measure)]
    return rows["value"].tolist()


# --- the table's shape ---------------------------------------------------------------------


def test_one_row_per_architecture_aspect_measure_and_condition(table):
    assert list(table.columns) == COLUMNS
    assert not table.duplicated(["architecture", "aspect", "measure", "condition"]).any()
    assert list(dict.fromkeys(table["architecture"])) == [ED, RR]
    for side in (ED, RR):
        assert list(dict.fromkeys(table.loc[table["architecture"] == side, "aspect"])) == list(
            ASPECTS
        )
    rows = ["aspect", "measure", "condition", "unit"]
    ed = table[table["architecture"] == ED][rows].reset_index(drop=True)
    rr = table[table["architecture"] == RR][rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(ed, rr)  # the same figures, measured on both sides
    assert table["unit"].notna().all() and table["claim"].str.len().gt(0).all()
    assert table["value"].dtype == float


def test_the_claims_are_the_seeds_table(table):
    claim = table.set_index(["architecture", "aspect"])["claim"]
    assert claim[(ED, "coupling")].iloc[0] == "Loose, asynchronous"
    assert claim[(RR, "coupling")].iloc[0] == "Tight, synchronous"
    assert claim[(RR, "resilience")].iloc[0] == "Vulnerable to cascading failures"
    assert claim[(ED, "complexity")].iloc[0] == "Higher, event management"


# --- the claims, measured with the default knobs ---------------------------------------------


def test_coupling_the_entry_stays_available_while_inventory_is_down(table):
    assert value(table, ED, "entry_availability") > 0.99
    assert value(table, RR, "entry_availability") < 0.1
    assert value(table, ED, "healthy_work_done") > 0.99  # payment, notification go on
    assert value(table, RR, "healthy_work_done") < 0.1  # notification is never reached
    assert value(table, ED, "sync_dependencies") == 0
    assert value(table, RR, "sync_dependencies") == len(compare_models.DOWNSTREAMS)


def test_latency_event_driven_acknowledges_fast_and_completes_later(table):
    ed_ack, rr_ack = value(table, ED, "ack_p99"), value(table, RR, "ack_p99")
    assert ed_ack < rr_ack / 5
    assert value(table, ED, "ack_p50") < value(table, RR, "ack_p50") / 5
    assert value(table, ED, "complete_p50") > 5 * value(table, ED, "ack_p50")
    assert value(table, ED, "complete_p99") > ed_ack
    # request-response answers once everything is done: acknowledged = completed
    assert value(table, RR, "complete_p99") == pytest.approx(rr_ack, abs=0.01)


def test_resilience_errors_and_cascades_stay_with_request_response(table):
    for fault in ("down", "slower"):
        assert value(table, ED, "error_rate", fault) < 0.01
        assert value(table, RR, "error_rate", fault) > 0.5
        assert value(table, ED, "cascaded_components", fault) == 0
        assert value(table, RR, "cascaded_components", fault) == 2  # the entry, notification
        assert value(table, ED, "recovery_time", fault) == 0  # acknowledged throughout
        assert value(table, ED, "completion_recovery_time", fault) > 0  # the backlog drains
    # the spike leaves inventory a queue of work its callers gave up on: slow recovery
    assert value(table, RR, "recovery_time", "slower") > value(table, ED, "recovery_time", "slower")


def test_scalability_request_response_is_held_back_by_the_slowest_downstream(table):
    ed, rr = values(table, ED, "max_rate_ack"), values(table, RR, "max_rate_ack")
    assert len(ed) == len(rr) == 3  # payment 1x, 2x, 4x
    assert all(e >= r for e, r in zip(ed, rr, strict=True))
    assert rr[0] > rr[1] > rr[2] > 0
    assert ed == [ed[0]] * 3  # the acknowledgement does not wait for payment
    assert value(table, ED, "max_rate_ratio") == 1.0 > value(table, RR, "max_rate_ratio")
    # completion is still bounded by payment's capacity in both
    assert values(table, ED, "max_rate_complete")[0] > values(table, ED, "max_rate_complete")[-1]


def test_complexity_counts_what_each_design_must_handle(table):
    assert value(table, ED, "components") > value(table, RR, "components")
    assert value(table, ED, "duplicates") > 0  # redelivered after the outage's crash
    assert value(table, ED, "stale_reads") > 0 and value(table, RR, "stale_reads") == 0
    assert value(table, RR, "partial_orders") > 0  # paid, then failed at inventory
    assert value(table, ED, "partial_orders") == 0  # the backlog drained before the end
    assert value(table, ED, "dead_lettered") >= 0 and math.isnan(value(table, RR, "dead_lettered"))
    modes = ["duplicates", "reordered", "dead_lettered", "stale_reads", "partial_orders"]
    for side in (ED, RR):
        happened = sum(value(table, side, mode) > 0 for mode in modes)
        assert value(table, side, "failure_modes") == happened


# --- common random numbers and determinism ---------------------------------------------------


def test_both_architectures_see_the_same_orders(table):
    assert value(table, ED, "orders") == value(table, RR, "orders") > 5_000
    flow = compare_models.OrderFlow(rate=50, timeout=0.5, client_timeout=2, retries=2,
                                    breaker=False, errors=0.01)  # fmt: skip
    sent = {}
    for side in (ED, RR):
        requests = compare_models.build(side, flow, seed=3).run(until=20).requests
        sent[side] = requests[["request_id", "key", "sent_at"]]
    pd.testing.assert_frame_equal(sent[ED], sent[RR])  # arrivals and customers, draw for draw


def test_the_same_seed_gives_the_same_table_on_any_executor():
    once = ev.compare(**SMALL)
    pd.testing.assert_frame_equal(once, ev.compare(**{**SMALL, "executor": None}))
    other = ev.compare(**{**SMALL, "seed": 2})
    assert not np.allclose(once["value"].fillna(-1), other["value"].fillna(-1))


def test_a_breaker_shortens_request_response_recovery_from_the_spike():
    knobs = {**SMALL, "duration": 60.0, "outage": (20.0, 35.0), "spike": (20.0, 35.0, 10.0),
             "rates": (50.0,), "slowest": (1.0,)}  # fmt: skip
    without, breaker = ev.compare(**knobs), ev.compare(**knobs, breaker=True)
    assert value(breaker, RR, "recovery_time", "slower") < value(
        without, RR, "recovery_time", "slower"
    )
    # the event-driven side has no calls to break: the same table
    pd.testing.assert_frame_equal(
        without[without["architecture"] == ED], breaker[breaker["architecture"] == ED]
    )


# --- bad knobs -------------------------------------------------------------------------------

BAD = [
    ({"rate": 0}, ev.ConfigError, "rate", "must be > 0"),
    ({"duration": -1}, ev.ConfigError, "duration", "must be > 0"),
    ({"outage": 40}, ev.ConfigTypeError, "outage", "expected (start, end), start and end in s"),
    ({"outage": (70, 40)}, ev.ConfigError, "outage", "expected 0 <= start < end"),
    ({"outage": (40, 118)}, ev.ConfigError, "outage", "expected 0 <= start < end <= duration"),
    ({"outage": (40, "x")}, ev.ConfigTypeError, "outage end", "expected a number"),
    ({"spike": (40, 70)}, ev.ConfigTypeError, "spike", "expected (start, end, factor)"),
    ({"spike": (40, 70, 0)}, ev.ConfigError, "spike factor", "must be > 0"),
    ({"timeout": 0}, ev.ConfigError, "timeout", "must be > 0"),
    ({"client_timeout": "2"}, ev.ConfigTypeError, "client_timeout", "expected a number"),
    ({"retries": -1}, ev.ConfigError, "retries", "must be >= 0"),
    ({"retries": 1.5}, ev.ConfigTypeError, "retries", "expected a whole number"),
    ({"breaker": "yes"}, ev.ConfigTypeError, "breaker", "expected True or False"),
    ({"errors": 2}, ev.ConfigError, "errors", "must be between 0 and 1"),
    ({"slo": 0}, ev.ConfigError, "slo", "must be > 0"),
    ({"read_after": -1}, ev.ConfigError, "read_after", "must be >= 0"),
    ({"rates": []}, ev.ConfigError, "rates", "expected at least one number"),
    ({"rates": "fast"}, ev.ConfigTypeError, "rates", "expected a list of numbers"),
    ({"slowest": [1, 0]}, ev.ConfigError, "slowest", "must be > 0"),
    ({"seed": -1}, ev.ConfigError, "seed", "must be >= 0"),
    ({"replications": 0}, ev.ConfigError, "replications", "must be >= 1"),
    ({"progress": 1}, ev.ConfigTypeError, "progress", "expected True or False"),
    ({"executor": "fast"}, ev.ConfigError, "executor", "expected an Executor"),
]  # fmt: skip


@pytest.mark.parametrize(("knobs", "error", "argument", "expected"), BAD)
def test_bad_knobs_are_refused_naming_them(knobs, error, argument, expected, bad_argument):
    with bad_argument(error, argument, expected):
        ev.compare(**knobs)


# --- the chart -------------------------------------------------------------------------------


def test_a_panel_per_aspect_with_both_architectures(table, tmp_path):
    axes = ev.compare_chart(table)
    assert len(axes) == 6
    titles = [ax.get_title().split("\n")[0] for ax in axes]
    for aspect in ASPECTS:
        assert any(title.lower().startswith(aspect) for title in titles), aspect
    assert "Loose, asynchronous" in axes[0].get_title()
    coupling = axes[0]
    labels = [text.get_text() for text in coupling.get_legend().get_texts()]
    assert labels == ["event-driven", "request-response"]
    heights = [bar.get_height() for bar in coupling.patches]  # ED's two bars, then RR's
    expected = [value(table, side, m) for side in (ED, RR)
                for m in ("entry_availability", "healthy_work_done")]  # fmt: skip
    np.testing.assert_allclose(heights, expected)
    lines = {line.get_label(): line for line in axes[1].get_lines()}
    np.testing.assert_allclose(
        lines["request-response, acknowledged"].get_ydata(), values(table, RR, "max_rate_ack")
    )
    path = tmp_path / "compare.png"
    axes[0].figure.savefig(path)
    assert path.stat().st_size > 50_000


def test_the_chart_refuses_other_tables_and_axes(table, bad_argument):
    with bad_argument(ev.ConfigError, "table", "expected an ev.compare table"):
        ev.compare_chart(table.drop(columns="claim"))
    _, ax = plt.subplots()
    with bad_argument(ev.ConfigTypeError, "axes", "expected 6 matplotlib Axes"):
        ev.compare_chart(table, axes=[ax])


def test_one_panel_draws_what_the_chart_draws_in_its_place(table):
    axes = ev.compare_chart(table)
    for index, panel in enumerate(("coupling", "scalability", "errors", "recovery", "latency",
                                   "complexity")):  # fmt: skip
        alone = ev.compare_panel(table, panel)
        assert alone.get_title() == axes[index].get_title()
        heights = [bar.get_height() for bar in alone.patches]
        assert heights == [bar.get_height() for bar in axes[index].patches]
    _, ax = plt.subplots()
    assert ev.compare_panel(table, "errors", ax=ax) is ax
    with pytest.raises(ev.ConfigError, match="panel: expected one of 'coupling'"):
        ev.compare_panel(table, "speed")
    with pytest.raises(ev.ConfigError, match="panel: expected one of"):
        ev.compare_panel(table, ["errors"])
    with pytest.raises(ev.ConfigError, match=r"table: expected an ev\.compare table"):
        ev.compare_panel(table.drop(columns="value"), "errors")


# --- the two systems, to run by hand ---------------------------------------------------------


def test_the_systems_are_the_ones_compare_measured():
    systems = ev.compare_systems(outage=(10.0, 20.0), seed=4)
    assert set(systems) == {ED, RR}
    knobs = {**SMALL, "seed": 4, "replications": 1}
    measured = ev.compare(**knobs)
    for side, sim in systems.items():
        orders = sim.run(until=40.0).requests
        counted = orders[orders["sent_at"] < 40.0 - compare_measures.TAIL]
        assert len(counted) == value(measured, side, "orders")  # the same arrivals
        window = orders[orders["sent_at"].between(10.0, 20.0, inclusive="left")]
        available = (window["outcome"] == "ok").mean()
        assert available == value(measured, side, "entry_availability")  # the same run
    assert ev.compare_systems(seed=4)[RR].services["payment"].config.workers == 8


def test_the_systems_take_compares_knobs_with_its_defaults():
    shared = inspect.signature(ev.compare).parameters
    for name, parameter in inspect.signature(ev.compare_systems).parameters.items():
        if name not in ("outage", "spike", "slowest"):  # one window or factor, or none
            assert parameter.default == shared[name].default, name


@pytest.mark.parametrize(
    ("knobs", "error", "argument", "expected"),
    [
        ({"outage": (20, 10)}, ev.ConfigError, "outage", "expected 0 <= start < end, got"),
        ({"spike": (10, 20)}, ev.ConfigTypeError, "spike", "expected (start, end, factor)"),
        ({"slowest": 0}, ev.ConfigError, "slowest", "must be > 0"),
        ({"retries": -1}, ev.ConfigError, "retries", "must be >= 0"),
        ({"seed": "one"}, ev.ConfigTypeError, "seed", "expected a whole number"),
    ],
)
def test_the_systems_refuse_bad_knobs_naming_them(knobs, error, argument, expected, bad_argument):
    with bad_argument(error, argument, expected):
        ev.compare_systems(**knobs)
