"""The result of a run: tidy pandas tables, built from the columnar records when read.

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

Times are seconds; latency = completed_at − published_at.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from evsim import utilisation
from evsim.errors import EvsimError, SimulationStateError
from evsim.records import NOT_YET, OK, OUTCOMES, STATUSES
from evsim.records.full import OutcomeLog
from evsim.run_record import RunRecord

SUMMARY_COLUMNS = [
    "routed", "processed", "dead_lettered", "expired", "lost", "pending", "duplicates",
    "throughput", "latency_mean", "latency_p50", "latency_p95", "latency_p99", "max_lag",
    "utilisation",
]  # fmt: skip


class AccountingError(EvsimError, AssertionError):
    """An event routed to a group did not end in exactly one outcome."""


class Result:
    """What happened in one run (``until`` seconds, statistics after ``warmup``), read
    from the run's frozen :class:`~evsim.run_record.RunRecord` (``record``)."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self._records = record.records
        self.until = record.until
        self.warmup = record.warmup
        self.config: dict[str, Any] = dict(record.config)
        self.groups = [group.name for group in record.groups]
        self._unfinished = record.unfinished
        self._uncounted = record.uncounted
        self._codes = {group.name: group.code for group in record.groups}
        self._routed = {group.name: group.routed for group in record.groups}

    # --- the four tables ----------------------------------------------------------------

    def _need_rows(self, table: str) -> None:
        if not self._records.full:
            raise SimulationStateError(
                f"{table}: this run used record='summary', which keeps aggregates only; "
                "use summary(), accounting() and check(), or run with record='full'"
            )

    @cached_property
    def events(self) -> pd.DataFrame:
        """One row per published event."""
        self._need_rows("events")
        log = self._records.events
        partition = log.numpy("partition")
        placed = partition != NOT_YET
        cause = log.numpy("cause")
        original = log.numpy("original")
        return pd.DataFrame(
            {
                "event_id": np.arange(len(log), dtype=np.int64),
                "event_type": self._names(log.numpy("event_type")),
                "key": log.numpy("key"),
                "producer": self._names(log.numpy("producer")),
                "target": self._names(log.numpy("target")),
                "partition": _nullable(partition, placed),
                "offset": _nullable(log.numpy("offset"), placed),
                "published_at": log.numpy("published_at"),
                "appended_at": log.numpy("appended_at"),
                "schema_version": log.numpy("schema_version"),
                "cause_id": _nullable(cause, cause >= 0),
                "original_id": _nullable(original, original >= 0),
                "payload": log.numpy("payload"),
                "attributes": self._attributes(),
            }
        )

    @cached_property
    def attempts(self) -> pd.DataFrame:
        """One row per processing attempt."""
        self._need_rows("attempts")
        log = self._records.attempts
        return pd.DataFrame(
            {
                "event_id": log.numpy("event"),
                "group": self._names(log.numpy("group"), self.groups),
                "consumer": self._names(log.numpy("consumer")),
                "attempt": log.numpy("attempt"),
                "started_at": log.numpy("started_at"),
                "finished_at": log.numpy("finished_at"),
                "status": pd.Categorical.from_codes(log.numpy("status"), categories=STATUSES),
                "error": log.numpy("error"),
            }
        )

    @cached_property
    def deliveries(self) -> pd.DataFrame:
        """One row per event and consumer group that should get it, with its outcome."""
        self._need_rows("deliveries")
        finished = self._without_unfinished_attempts(self._outcome_frame(self._records.outcomes))
        frame = pd.concat([finished, self._unfinished_frame()], ignore_index=True)
        published = self._records.events.numpy("published_at")
        frame["latency"] = frame["completed_at"] - published[frame["event_id"].to_numpy()]
        frame = frame.sort_values(["group", "event_id"], kind="stable", ignore_index=True)
        return frame

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """One row per sample of a gauge (lag, consumers_up, in_system, queue_depth,
        dlq_depth)."""
        self._need_rows("timeseries")
        log = self._records.gauges
        return pd.DataFrame(
            {
                "time": log.numpy("time"),
                "metric": self._names(log.numpy("metric")),
                "entity": self._names(log.numpy("entity")),
                "value": log.numpy("value"),
            }
        )

    # --- summaries ----------------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """One row per consumer group, indexed by its name. Counts are events, times
        seconds.

        ``routed``
            events routed to the group (as :meth:`accounting` counts them): each ends in
            exactly one of the next five columns, so ``routed = processed + dead_lettered +
            expired + lost + pending``.
        ``processed``, ``dead_lettered``, ``expired``, ``lost``
            the events that ended so: handled; sent to the dead-letter target after their
            attempts; deleted by retention before a consumer handled them; dropped (no
            dead-letter target, or committed before processing and then crashed).
        ``pending``
            events still waiting or in service when the run stopped (not yet an outcome).
        ``duplicates``
            events whose effect was applied more than once (more than one successful
            attempt: at-least-once delivery redelivered them after a crash or a visibility
            timeout; an ``idempotent`` group skips them within its window). A run with
            ``record="summary"`` keeps no per-event rows, so there it is the successful
            attempts beyond one per processed event: the same when each duplicated event
            was applied twice, more when some were applied three times or more.
        ``throughput``
            processed events per second, counting events published after the warmup,
            over ``until − warmup``.
        ``latency_mean``, ``latency_p50``, ``latency_p95``, ``latency_p99``
            seconds from publish to processed (of events published after the warmup).
        ``max_lag``
            the largest total consumer lag (log-end offset − committed offset, summed over
            the group's partitions, in records) at one sample. NaN for a group reading a
            queue (lag is a Kafka notion: a queue has no offsets) and for a group that was
            never sampled (it joined after the last sample).
        ``utilisation``
            offered load per parallel slot, ρ = λ·E[S] / c (:mod:`evsim.utilisation`):
            events routed per second × measured mean attempt duration / the events the
            group can work on at once. At 1 or more the group cannot keep up (the run
            warns); NaN for a group that never joined.
        """
        if not self._records.full:
            return self._summary_from_tallies()
        deliveries = self.deliveries
        counts = self._outcome_counts(deliveries)
        published = self._records.events.numpy("published_at")
        measured = deliveries[
            (deliveries["outcome"] == "processed")
            & (published[deliveries["event_id"].to_numpy()] >= self.warmup)
        ]
        latency = measured.groupby("group", observed=False)["latency"]
        quantiles = latency.quantile([0.5, 0.95, 0.99]).unstack()
        summary = self._counts_frame(counts)
        summary["duplicates"] = self._duplicates()
        summary["throughput"] = latency.size() / (self.until - self.warmup)
        summary["latency_mean"] = latency.mean()
        summary["latency_p50"] = quantiles.get(0.5)
        summary["latency_p95"] = quantiles.get(0.95)
        summary["latency_p99"] = quantiles.get(0.99)
        summary["max_lag"] = self._max_lag()
        summary["utilisation"] = self._utilisation()
        return summary[SUMMARY_COLUMNS]

    def accounting(self) -> pd.DataFrame:
        """Per group: events routed to it against the sum of their outcomes."""
        counts = self._outcome_counts(self.deliveries) if self._records.full else self._tallied()
        table = pd.DataFrame(index=pd.Index(self.groups, name="group"))
        table["routed"] = [len(self._routed[g]) for g in self.groups]
        for outcome in OUTCOMES:
            table[outcome] = counts[outcome]
        table["outcomes"] = counts.sum(axis=1)
        table["balanced"] = table["routed"] == table["outcomes"]
        return table

    def check(self) -> None:
        """Raise :class:`AccountingError` unless every routed event has exactly one outcome.

        With ``record="summary"`` only the counts can be compared.
        """
        if not self._records.full:
            table = self.accounting()
            unbalanced = table.index[~table["balanced"]].tolist()
            if unbalanced:
                raise AccountingError(f"accounting does not balance for {unbalanced}")
            return
        deliveries = self.deliveries
        problems = []
        for name in self.groups:
            routed = np.sort(self._routed[name])
            got = np.sort(deliveries.loc[deliveries["group"] == name, "event_id"].to_numpy())
            if len(np.unique(routed)) != len(routed):
                problems.append(f"{name}: an event was routed twice")
            if len(np.unique(got)) != len(got):
                problems.append(f"{name}: an event has more than one outcome")
            if not np.array_equal(np.unique(routed), np.unique(got)):
                missing = np.setdiff1d(routed, got)[:5].tolist()
                extra = np.setdiff1d(got, routed)[:5].tolist()
                problems.append(f"{name}: without outcome {missing}, not routed {extra}")
        if problems:
            raise AccountingError("accounting does not balance: " + "; ".join(problems))

    def to_prometheus(self) -> str:
        """The Prometheus text a scrape at the end of the run would see: a forward to
        :func:`evsim.to_prometheus` (``ev.to_prometheus(result)``), kept for existing code."""
        from evsim.views.prometheus import to_prometheus  # layer-exempt: the one forward up

        return to_prometheus(self)

    # --- summary mode ---------------------------------------------------------------------

    def _tallied(self) -> pd.DataFrame:
        """Outcome counts per group from the tallies and the unfinished snapshot."""
        tally = Counter(self._records.outcomes.counts)
        unfinished = self._unfinished
        groups, outcomes = unfinished.numpy("group").tolist(), unfinished.numpy("outcome").tolist()
        tally.update(zip(groups, outcomes, strict=True))
        counts = pd.DataFrame(0, index=self.groups, columns=list(OUTCOMES))
        codes = {code: name for name, code in self._codes.items()}
        for (group, outcome), n in tally.items():  # one cell per (group, outcome), not per event
            counts.loc[codes[group], OUTCOMES[outcome]] += n
        return counts

    def _summary_from_tallies(self) -> pd.DataFrame:
        counts = self._tallied()
        summary = self._counts_frame(counts)
        tallies = self._records
        rows = []
        for name in self.groups:
            code = self._codes[name]
            latency = tallies.outcomes.latency[code]
            rows.append(
                {
                    # no per-event rows: successful attempts beyond one per processed event
                    "duplicates": max(0, tallies.attempts.ok(code) - counts.loc[name, "processed"]),
                    "throughput": latency.n / (self.until - self.warmup),
                    "latency_mean": latency.mean(),
                    "latency_p50": latency.quantile(0.5),
                    "latency_p95": latency.quantile(0.95),
                    "latency_p99": latency.quantile(0.99),
                }
            )
        summary[list(rows[0]) if rows else []] = pd.DataFrame(rows, index=summary.index)
        summary["max_lag"] = self._max_lag()
        summary["utilisation"] = self._utilisation()
        return summary[SUMMARY_COLUMNS]

    # --- helpers --------------------------------------------------------------------------

    def _attributes(self) -> np.ndarray:
        """Each event's attributes as a dict, ``eventType`` first (built on read)."""
        log = self._records.events
        names = self._records.names.names
        out = np.empty(len(log), dtype=object)
        for i, (code, extra) in enumerate(
            zip(log.event_type, log.numpy("attributes"), strict=True)
        ):
            out[i] = {"eventType": names[code], **extra} if extra else {"eventType": names[code]}
        return out

    def _names(self, codes: np.ndarray, categories: list[str] | None = None) -> pd.Categorical:
        """Interned codes as a Categorical of names (code -1 reads as ""); without
        ``categories``, the names present, sorted (as pandas would infer them).

        Built from integer codes: no per-row string objects, so it costs little per row.
        """
        names = [*self._records.names.names, ""]  # code -1 indexes the last entry
        if categories is None:
            categories = sorted({names[code] for code in np.unique(codes)})
        position = {name: i for i, name in enumerate(categories)}
        lookup = np.array([position.get(name, -1) for name in names], dtype=np.int64)
        return pd.Categorical.from_codes(lookup[codes], categories=categories)

    def _outcome_frame(self, log: OutcomeLog) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "event_id": log.numpy("event"),
                "group": self._names(log.numpy("group"), self.groups),
                "consumer": self._names(log.numpy("consumer")),
                "outcome": pd.Categorical.from_codes(log.numpy("outcome"), categories=OUTCOMES),
                "attempts": log.numpy("attempts").astype(np.int64),
                "first_attempt_at": log.numpy("first_attempt_at"),
                "completed_at": log.numpy("completed_at"),
            }
        )

    def _without_unfinished_attempts(self, finished: pd.DataFrame) -> pd.DataFrame:
        """Outcomes whose count includes an attempt still running at the stop (begun
        before the outcome, by another holder of the event) count only the attempts with
        a row: those numbered up to the recorded count."""
        if not self._uncounted:
            return finished
        names = self._records.names.names
        attempts = self.attempts
        for group_code, event_id in set(self._uncounted):
            row = (finished["event_id"] == event_id) & (finished["group"] == names[group_code])
            [index] = finished.index[row]
            counted = finished.at[index, "attempts"]
            rows = attempts[
                (attempts["event_id"] == event_id)
                & (attempts["group"] == names[group_code])
                & (attempts["attempt"] <= counted)
            ]
            finished.at[index, "attempts"] = len(rows)
            finished.at[index, "first_attempt_at"] = rows["started_at"].min()
        return finished

    def _unfinished_frame(self) -> pd.DataFrame:
        unfinished = self._unfinished
        frame = self._outcome_frame(unfinished)
        if frame.empty:
            return frame
        # each unfinished (group, event): its attempts so far and the first one's start
        attempts = self._records.attempts
        width = len(self._records.events) + 1
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

    def _outcome_counts(self, deliveries: pd.DataFrame) -> pd.DataFrame:
        """Deliveries per group (rows, in ``self.groups`` order) and outcome (columns)."""
        # every delivery has a group and an outcome: no code is -1 (missing)
        groups = deliveries["group"].cat.set_categories(self.groups).cat.codes.to_numpy()
        outcomes = deliveries["outcome"].cat.codes.to_numpy()  # categories are OUTCOMES
        cells = np.bincount(
            groups.astype(np.int64) * len(OUTCOMES) + outcomes,
            minlength=len(self.groups) * len(OUTCOMES),
        )
        return pd.DataFrame(
            cells.reshape(len(self.groups), len(OUTCOMES)),
            index=pd.Index(self.groups, name="group"),
            columns=pd.Index(OUTCOMES, name="outcome"),
        )

    def _duplicates(self) -> pd.Series:
        """Per group, the events with more than one successful attempt."""
        log = self._records.attempts
        ok = log.numpy("status") == OK
        groups, events = log.numpy("group")[ok], log.numpy("event")[ok]
        counts = {}
        for name in self.groups:
            per_event = np.bincount(events[groups == self._codes[name]])
            counts[name] = int((per_event > 1).sum())
        return pd.Series(counts, index=self.groups, dtype=np.int64)

    def _counts_frame(self, counts: pd.DataFrame) -> pd.DataFrame:
        """The summary's first columns: events routed to each group (counted as they were
        routed, as :meth:`accounting` does, not as the sum of the outcomes: a difference
        would show), and how they ended."""
        summary = pd.DataFrame(index=pd.Index(self.groups, name="group"))
        summary["routed"] = [len(self._routed[g]) for g in self.groups]
        for outcome in OUTCOMES:
            summary[outcome] = counts[outcome]
        return summary

    def _max_lag(self) -> pd.Series:
        """Per group, the largest total lag over its partitions at one sample; NaN for a
        group whose lag was never sampled (it reads a queue, or joined too late)."""
        peak = self._records.gauges.peak_lag  # a defaultdict: .get, so as not to add keys
        codes = [self._codes[g] for g in self.groups]
        return pd.Series([float(peak.get(code, np.nan)) for code in codes], index=self.groups)

    @cached_property
    def loads(self) -> list[utilisation.Load]:
        """Each group's measured load per parallel slot (:mod:`evsim.utilisation`): what
        the summary's ``utilisation`` and the run's overload warning read."""
        return utilisation.loads(self.record)

    def _utilisation(self) -> pd.Series:
        """Per group, its offered load per parallel slot (:mod:`evsim.utilisation`)."""
        loads = {load.group: load.utilisation for load in self.loads}
        return pd.Series(loads, index=self.groups, dtype=float)

    def __repr__(self) -> str:
        return (
            f"<Result until={self.until:g}s events={len(self._records.events)} "
            f"groups={self.groups}>"
        )


def _nullable(values: np.ndarray, valid: np.ndarray) -> pd.arrays.IntegerArray:
    """Integers with <NA> where ``valid`` is False (e.g. the offset of an event in transit)."""
    return pd.arrays.IntegerArray(values.astype(np.int64), ~valid)


def _pair_keys(groups: np.ndarray, events: np.ndarray, width: int) -> np.ndarray:
    """One integer per (group code, event id) pair."""
    return groups.astype(np.int64) * width + events.astype(np.int64)
