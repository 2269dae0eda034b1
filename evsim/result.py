"""The result of a run: its tables, the summary per consumer group, and the accounting.

A :class:`Result` reads a run's frozen :class:`~evsim.run_record.RunRecord` alone. Its four
tables (``events``, ``deliveries``, ``attempts``, ``timeseries``: one row per thing that
happened) are built by :mod:`evsim.tables` when first read; ``summary()`` and
``accounting()`` come from them, or, with ``record="summary"``, from the tallies kept
during the run. Times are seconds.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from evsim import request_accounting, request_summary, request_tables, tables, utilisation
from evsim.errors import EvsimError, SimulationStateError
from evsim.records import CALL_STATUSES, OK, OUTCOMES
from evsim.run_record import RunRecord

SUMMARY_COLUMNS = [
    "routed", "processed", "dead_lettered", "expired", "lost", "pending", "duplicates",
    "throughput", "latency_mean", "latency_p50", "latency_p95", "latency_p99", "max_lag",
    "utilisation",
]  # fmt: skip
ALL_SUMMARY_COLUMNS = list(dict.fromkeys([*SUMMARY_COLUMNS, *request_summary.REQUEST_COLUMNS]))
"""The summary's columns when the run has request-response parts: the groups', then the
services' and clients'."""


def row_label(table: pd.DataFrame) -> str | None:
    """The column naming what a sweep row measures: ``"group"`` (a run with consumer
    groups only), ``"name"`` (one with services and clients too: the summary's index), or
    None."""
    return next((column for column in ("group", "name") if column in table.columns), None)


class AccountingError(EvsimError, AssertionError):
    """An event routed to a group, or a request a client sent, did not end in exactly one
    outcome."""


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
        self._codes = {group.name: group.code for group in record.groups}
        self._routed = {group.name: group.routed for group in record.groups}
        self.clients = [client.name for client in record.clients]

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
        return tables.events(self._records.full_logs())

    @cached_property
    def attempts(self) -> pd.DataFrame:
        """One row per processing attempt."""
        self._need_rows("attempts")
        return tables.attempts(self._records.full_logs(), self.groups)

    @cached_property
    def deliveries(self) -> pd.DataFrame:
        """One row per event and consumer group that should get it, with its outcome."""
        self._need_rows("deliveries")
        return tables.deliveries(self.record, self.groups, lambda: self.attempts)

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """One row per sample of a gauge (lag, consumers_up, in_system, queue_depth,
        dlq_depth)."""
        self._need_rows("timeseries")
        return tables.timeseries(self._records.full_logs())

    @cached_property
    def requests(self) -> pd.DataFrame:
        """One row per client request (:mod:`evsim.request_tables`)."""
        self._need_rows("requests")
        return request_tables.requests(self.record)

    @cached_property
    def calls(self) -> pd.DataFrame:
        """One row per call attempt on every edge (:mod:`evsim.request_tables`)."""
        self._need_rows("calls")
        return request_tables.calls(self._records.full_logs())

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

        A run with services or clients has a row for each after the groups', with the
        columns of :mod:`evsim.request_summary` (``requests``, ``ok``, ``errors``, ...,
        ``goodput``, ``amplification``) after these; a column that does not apply to a
        row is NaN.
        """
        summary = self._group_summary()
        if not self.record.services and not self.record.clients:
            return summary
        full = (self.requests, self.calls) if self._records.full else None
        rows = request_summary.rows(self.record, full)
        joined = pd.concat([summary, rows.drop(columns="utilisation")], axis=0).astype(float)
        joined.loc[rows.index, "utilisation"] = rows["utilisation"]
        joined.index.name = "name"
        return joined[ALL_SUMMARY_COLUMNS]

    def _group_summary(self) -> pd.DataFrame:
        if not self.groups:  # a request-response system only
            return pd.DataFrame(columns=SUMMARY_COLUMNS, index=pd.Index([], name="group"))
        if not self._records.full:
            return self._summary_from_tallies()
        deliveries = self.deliveries
        counts = self._outcome_counts(deliveries)
        published = self._records.full_logs().events.numpy("published_at")
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
        """Per group: events routed to it against the sum of their outcomes. A run with
        clients has a row per client too: its requests sent (``routed``) against their
        outcomes (``ok`` ... ``pending``), and the table is indexed by ``name``."""
        counts = self._outcome_counts(self.deliveries) if self._records.full else self._tallied()
        table = pd.DataFrame(index=pd.Index(self.groups, name="group"))
        table["routed"] = [len(self._routed[g]) for g in self.groups]
        for outcome in OUTCOMES:
            table[outcome] = counts[outcome]
        table["outcomes"] = counts.sum(axis=1)
        if self.clients:
            table = self._with_clients(table)
        table["balanced"] = table["routed"] == table["outcomes"]
        return table

    def _with_clients(self, groups: pd.DataFrame) -> pd.DataFrame:
        """The accounting's group rows, then a row per client (absent columns: 0)."""
        requests = request_accounting.counts(self.record)
        clients = requests[list(CALL_STATUSES)].copy()
        clients.insert(0, "routed", requests["sent"])
        clients["outcomes"] = requests[list(CALL_STATUSES)].sum(axis=1)
        columns = ["routed", *dict.fromkeys([*OUTCOMES, *CALL_STATUSES]), "outcomes"]
        table = pd.concat([groups, clients]).reindex(columns=columns).fillna(0)
        table.index.name = "name"
        return table.astype(np.int64)

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
        problems = request_accounting.problems(self.record, self.requests) if self.clients else []
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
        tally = Counter(self._records.summary_logs().outcomes.counts)
        unfinished = self._unfinished
        groups, outcomes = unfinished.numpy("group").tolist(), unfinished.numpy("outcome").tolist()
        tally.update(zip(groups, outcomes, strict=True))
        cells = np.zeros((len(self.groups), len(OUTCOMES)), dtype=np.int64)
        rows = {self._codes[name]: row for row, name in enumerate(self.groups)}
        for (group, outcome), n in tally.items():  # one cell per (group, outcome), not per event
            cells[rows[group], outcome] += n
        return pd.DataFrame(cells, index=self.groups, columns=list(OUTCOMES))

    def _summary_from_tallies(self) -> pd.DataFrame:
        counts = self._tallied()
        summary = self._counts_frame(counts)
        tallies = self._records.summary_logs()
        rows = []
        processed = counts["processed"].to_numpy()
        for row, name in enumerate(self.groups):
            code = self._codes[name]
            latency = tallies.outcomes.latency[code]
            rows.append(
                {
                    # no per-event rows: successful attempts beyond one per processed event
                    "duplicates": max(0, tallies.attempts.ok(code) - int(processed[row])),
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
        log = self._records.full_logs().attempts
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
