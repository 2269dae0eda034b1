"""The tables of a run: tidy pandas DataFrames, built from the columnar records when read.

=================  ==========================================  =================================
table              one row per                                 main columns
=================  ==========================================  =================================
``events``         published event                             event_id, event_type, key,
                                                               producer, target, partition,
                                                               offset, published_at
``deliveries``     event × consumer group that should get it   event_id, group, consumer,
                                                               outcome, attempts, latency
``attempts``       processing attempt                          event_id, group, consumer,
                                                               attempt, started_at, status
``timeseries``     sample of a gauge                           time, metric, entity, value
=================  ==========================================  =================================

Times are seconds; latency = completed_at − published_at. Each function builds one table
from a run's records (``record="full"``); :class:`~evsim.result.Result` reads them once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from evsim.records import NOT_YET, OUTCOMES, STATUSES, FullLogs
from evsim.records.full import OutcomeLog
from evsim.run_record import RunRecord


def events(records: FullLogs) -> pd.DataFrame:
    """One row per published event."""
    log = records.events
    partition = log.numpy("partition")
    placed = partition != NOT_YET
    cause = log.numpy("cause")
    original = log.numpy("original")
    return pd.DataFrame(
        {
            "event_id": np.arange(len(log), dtype=np.int64),
            "event_type": names(records, log.numpy("event_type")),
            "key": log.numpy("key"),
            "producer": names(records, log.numpy("producer")),
            "target": names(records, log.numpy("target")),
            "partition": _nullable(partition, placed),
            "offset": _nullable(log.numpy("offset"), placed),
            "published_at": log.numpy("published_at"),
            "appended_at": log.numpy("appended_at"),
            "schema_version": log.numpy("schema_version"),
            "cause_id": _nullable(cause, cause >= 0),
            "original_id": _nullable(original, original >= 0),
            "payload": log.numpy("payload"),
            "attributes": _attributes(records),
        }
    )


def attempts(records: FullLogs, groups: list[str]) -> pd.DataFrame:
    """One row per processing attempt (``groups``: the group names, in order)."""
    log = records.attempts
    return pd.DataFrame(
        {
            "event_id": log.numpy("event"),
            "group": names(records, log.numpy("group"), groups),
            "consumer": names(records, log.numpy("consumer")),
            "attempt": log.numpy("attempt"),
            "started_at": log.numpy("started_at"),
            "finished_at": log.numpy("finished_at"),
            "status": coded(log.numpy("status"), STATUSES),
            "error": log.numpy("error"),
        }
    )


def deliveries(
    record: RunRecord, groups: list[str], attempts: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """One row per event and consumer group that should get it, with its outcome: those
    that ended, then those without an outcome at the stop. ``attempts`` gives the attempts
    table, read only if some outcome counts an attempt still running at the stop."""
    records = record.records.full_logs()
    finished = _outcome_frame(records, records.outcomes, groups)
    if record.uncounted:
        finished = _without_unfinished_attempts(records, finished, record.uncounted, attempts())
    frame = pd.concat([finished, _unfinished_frame(record, groups)], ignore_index=True)
    published = records.events.numpy("published_at")
    frame["latency"] = frame["completed_at"] - published[frame["event_id"].to_numpy()]
    frame = frame.sort_values(["group", "event_id"], kind="stable", ignore_index=True)
    return frame


def timeseries(records: FullLogs) -> pd.DataFrame:
    """One row per sample of a gauge (lag, consumers_up, in_system, queue_depth,
    dlq_depth)."""
    log = records.gauges
    return pd.DataFrame(
        {
            "time": log.numpy("time"),
            "metric": names(records, log.numpy("metric")),
            "entity": names(records, log.numpy("entity")),
            "value": log.numpy("value"),
        }
    )


def names(
    records: FullLogs, codes: np.ndarray, categories: list[str] | None = None
) -> pd.Categorical[str]:
    """Interned codes as a Categorical of names (code -1 reads as ""); without
    ``categories``, the names present, sorted (as pandas would infer them).

    Built from integer codes: no per-row string objects, so it costs little per row.
    """
    interned = [*records.names.names, ""]  # code -1 indexes the last entry
    if categories is None:
        categories = sorted({interned[code] for code in np.unique(codes)})
    position = {name: i for i, name in enumerate(categories)}
    lookup = np.array([position.get(name, -1) for name in interned], dtype=np.int64)
    return coded(lookup[codes], categories)


def coded(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical[str]:
    """A Categorical from integer codes into ``categories`` (-1: missing)."""
    return pd.Categorical.from_codes(
        codes.astype(np.int64, copy=False), categories=pd.Index(list(categories))
    )


def _attributes(records: FullLogs) -> np.ndarray:
    """Each event's attributes as a dict, ``eventType`` first (built on read)."""
    log = records.events
    interned = records.names.names
    out = np.empty(len(log), dtype=object)
    for i, (code, extra) in enumerate(zip(log.event_type, log.numpy("attributes"), strict=True)):
        out[i] = {"eventType": interned[code], **extra} if extra else {"eventType": interned[code]}
    return out


def _outcome_frame(records: FullLogs, log: OutcomeLog, groups: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": log.numpy("event"),
            "group": names(records, log.numpy("group"), groups),
            "consumer": names(records, log.numpy("consumer")),
            "outcome": coded(log.numpy("outcome"), OUTCOMES),
            "attempts": log.numpy("attempts").astype(np.int64),
            "first_attempt_at": log.numpy("first_attempt_at"),
            "completed_at": log.numpy("completed_at"),
        }
    )


def _without_unfinished_attempts(
    records: FullLogs,
    finished: pd.DataFrame,
    uncounted: tuple[tuple[int, int], ...],
    attempts: pd.DataFrame,
) -> pd.DataFrame:
    """Outcomes whose count includes an attempt still running at the stop (begun
    before the outcome, by another holder of the event) count only the attempts with
    a row: those numbered up to the recorded count."""
    interned = records.names.names
    for group_code, event_id in set(uncounted):
        row = (finished["event_id"] == event_id) & (finished["group"] == interned[group_code])
        [index] = finished.index[row]
        counted = finished.at[index, "attempts"]
        rows = attempts[
            (attempts["event_id"] == event_id)
            & (attempts["group"] == interned[group_code])
            & (attempts["attempt"] <= counted)
        ]
        finished.at[index, "attempts"] = len(rows)
        finished.at[index, "first_attempt_at"] = rows["started_at"].min()
    return finished


def _unfinished_frame(record: RunRecord, groups: list[str]) -> pd.DataFrame:
    records, unfinished = record.records.full_logs(), record.unfinished
    frame = _outcome_frame(records, unfinished, groups)
    if frame.empty:
        return frame
    # each unfinished (group, event): its attempts so far and the first one's start
    attempts = records.attempts
    width = len(records.events) + 1
    wanted = _pair_keys(unfinished.numpy("group"), unfinished.numpy("event"), width)
    keys = _pair_keys(attempts.numpy("group"), attempts.numpy("event"), width)
    hit = np.isin(keys, wanted)
    tried = (
        pd.Series(attempts.numpy("started_at")[hit], index=keys[hit])
        .groupby(level=0)
        .agg(["size", "min"])
        .reindex(wanted)
    )
    frame["attempts"] = tried["size"].fillna(0).to_numpy(dtype=np.int64)
    frame["first_attempt_at"] = tried["min"].to_numpy(dtype=float)
    return frame


def _nullable(values: np.ndarray, valid: np.ndarray) -> pd.arrays.IntegerArray:
    """Integers with <NA> where ``valid`` is False (e.g. the offset of an event in transit)."""
    return pd.arrays.IntegerArray(values.astype(np.int64), ~valid)


def _pair_keys(groups: np.ndarray, events: np.ndarray, width: int) -> np.ndarray:
    """One integer per (group code, event id) pair."""
    return groups.astype(np.int64) * width + events.astype(np.int64)
