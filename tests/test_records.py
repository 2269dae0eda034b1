"""Records: the columnar logs a run writes, read back by value and as numpy columns."""

import math

import numpy as np
import pytest

import evsim as ev
from evsim.records.codes import NOT_YET, Interner
from evsim.records.columns import PaddedColumn, SparseColumn
from evsim.records.full import AttemptLog, EventLog, GaugeLog, OutcomeLog
from evsim.records.summary import SparseEventLog


def test_an_event_row_reads_back_its_fields_and_the_defaults_it_left():
    log = EventLog(Interner())
    plain = log.add(1, None, 2, 3, 0.5, None, 1, -1, None)
    rich = log.add(1, "k", 2, 3, 0.75, {"x": 1}, 2, plain, {"a": "b"}, original=plain)
    assert (plain, rich) == (0, 1)
    assert log.payload[plain] is None and log.payload[rich] == {"x": 1}
    assert (log.schema_version[plain], log.schema_version[rich]) == (1, 2)
    assert (log.cause[plain], log.cause[rich]) == (-1, plain)
    assert (log.original[plain], log.original[rich]) == (-1, plain)
    assert log.attributes[plain] is None and log.attributes[rich] == {"a": "b"}
    assert log.key[rich] == "k" and math.isnan(log.appended_at[plain])
    assert list(log.numpy("schema_version")) == [1, 2]
    assert list(log.numpy("cause")) == [-1, plain]
    assert list(log.numpy("payload")) == [None, {"x": 1}]
    assert len(log) == 2


def test_the_summary_modes_live_events_read_back_what_the_full_log_does():
    logs = EventLog(Interner()), SparseEventLog(Interner())
    for log in logs:
        first = log.add(1, None, 2, 3, 0.5, None, 1, -1, None)
        log.add(4, "k", 5, 6, 0.75, {"x": 1}, 2, first, {"a": "b"}, original=first)
    fields = ("event_type", "key", "producer", "target", "published_at", "payload",
              "schema_version", "cause", "original", "attributes")  # fmt: skip
    full, live = ([[getattr(log, f)[i] for f in fields] for i in (0, 1)] for log in logs)
    assert full == live
    assert full[0] == [1, None, 2, 3, 0.5, None, 1, -1, -1, None]
    assert full[1] == [4, "k", 5, 6, 0.75, {"x": 1}, 2, 0, 0, {"a": "b"}]


def test_placing_events_out_of_order_pads_the_unplaced_ones():
    log = EventLog(Interner())
    ids = [log.add(0, None, 0, 0, float(i), None, 1, -1, None) for i in range(4)]
    log.place(ids[2], partition=5, offset=7, time=9.0)
    assert log.partition[ids[0]] == NOT_YET and log.partition[ids[3]] == NOT_YET
    assert (log.partition[ids[2]], log.offset[ids[2]], log.appended_at[ids[2]]) == (5, 7, 9.0)
    log.place(ids[0], partition=1, offset=0, time=1.0)
    assert list(log.numpy("partition")) == [1, NOT_YET, 5, NOT_YET]
    assert list(log.numpy("offset")) == [0, NOT_YET, 7, NOT_YET]


def test_an_event_row_becomes_an_event_object():
    names = Interner()
    log = EventLog(names)
    event_id = log.add(names.code("OrderPlaced"), "o-1", names.code("shop"), names.code("t"),
                       1.5, {"total": 3}, 1, -1, None)  # fmt: skip
    event = log.event(event_id)
    assert (event.event_type, event.key, event.producer, event.target) == (
        "OrderPlaced", "o-1", "shop", "t",
    )  # fmt: skip
    assert event.partition is None and event.cause_id is None
    assert dict(event.attributes) == {"eventType": "OrderPlaced"}


def test_attempt_errors_are_kept_only_for_the_rows_that_have_one():
    log = AttemptLog()
    log.add(0, 1, 2, 1, 0.0, 1.0, 0)
    log.add(0, 1, 2, 2, 1.0, 2.0, 1, "TransientError: attempt 2 failed")
    assert log.error[0] is None and log.error[1].startswith("TransientError")
    assert list(log.numpy("error")) == [None, "TransientError: attempt 2 failed"]
    assert list(log.numpy("attempt")) == [1, 2] and len(log) == 2


def test_outcome_and_gauge_rows_land_in_their_columns():
    outcomes = OutcomeLog()
    outcomes.add(7, 1, 2, 0, 1, 0.5, 1.5)
    assert {c: outcomes.numpy(c)[0] for c in OutcomeLog.FIELDS} == {
        "event": 7, "group": 1, "consumer": 2, "outcome": 0, "attempts": 1,
        "first_attempt_at": 0.5, "completed_at": 1.5,
    }  # fmt: skip
    gauges = GaugeLog()
    gauges.add(1.0, 3, 4, 5.0)
    assert [gauges.numpy(c)[0] for c in ("time", "metric", "entity", "value")] == [1, 3, 4, 5]


@pytest.mark.parametrize(
    ("column", "default"), [(SparseColumn("d", 0.5), 0.5), (PaddedColumn("d", -1.0), -1.0)]
)
def test_a_column_reads_its_default_where_nothing_was_written(column, default):
    column[3] = 2.0
    assert column[0] == default and column[3] == 2.0 and column[10] == default
    assert list(column.numpy(5)) == [default, default, default, 2.0, default]


def test_an_empty_log_gives_empty_typed_columns():
    log = EventLog(Interner())
    assert log.numpy("published_at").dtype == np.float64 and len(log.numpy("payload")) == 0
    assert len(log.numpy("partition")) == 0


def test_result_names_match_the_categoricals_pandas_would_build():
    sim = ev.Simulation(seed=3)
    sim.topic("orders", partitions=2)
    sim.producer("shop", "orders", ev.Poisson(rate=5), event_type="OrderPlaced")
    sim.producer("app", "orders", ev.Poisson(rate=2), event_type="CartUpdated")
    sim.consumer_group("billing", "orders", consumers=2, service_time=0.1)
    result = sim.run(until=20)
    events = result.events
    assert list(events["event_type"].cat.categories) == ["CartUpdated", "OrderPlaced"]
    assert set(events["producer"].astype(str)) == {"app", "shop"}
    deliveries = result.deliveries
    assert list(deliveries["group"].cat.categories) == ["billing"]
    assert set(deliveries["consumer"].astype(str)) <= {"billing-0", "billing-1", ""}
