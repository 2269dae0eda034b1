"""The request-response tables of a run, built from its records when read.

=============  ==================================  ============================================
table          one row per                         columns
=============  ==================================  ============================================
``requests``   client request                      request_id, client, target, key, sent_at,
                                                   completed_at, outcome, attempts, latency
``calls``      call attempt, on every edge         call_id, request_id, caller, callee,
               (client → service and service →     attempt, started_at, finished_at, status,
               service)                            queue_wait
=============  ==================================  ============================================

Times are seconds; latency = completed_at − sent_at (NaN for a request pending at the
stop). ``outcome`` and ``status`` are ``ok``, ``error``, ``timeout``, ``rejected``,
``short_circuited``, or ``pending`` (a request in flight at the stop).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evsim.records import CALL_STATUSES, FullLogs
from evsim.records.calls import RequestLog
from evsim.run_record import RunRecord
from evsim.tables import coded, names


def requests(record: RunRecord) -> pd.DataFrame:
    """One row per client request, by request id: those that ended, then those pending."""
    records = record.records.full_logs()
    frames = [_request_frame(records, records.requests)]
    if record.pending_requests is not None and len(record.pending_requests):
        pending = _request_frame(records, record.pending_requests)
        pending["attempts"] = _attempts_so_far(records, pending)
        frames.append(pending)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame["latency"] = frame["completed_at"] - frame["sent_at"]
    return frame.sort_values("request_id", kind="stable", ignore_index=True)


def calls(records: FullLogs) -> pd.DataFrame:
    """One row per call attempt, in the order the attempts ended."""
    log = records.calls
    return pd.DataFrame(
        {
            "call_id": np.arange(len(log), dtype=np.int64),
            "request_id": log.numpy("request"),
            "caller": names(records, log.numpy("caller")),
            "callee": names(records, log.numpy("callee")),
            "attempt": log.numpy("attempt").astype(np.int64),
            "started_at": log.numpy("started_at"),
            "finished_at": log.numpy("finished_at"),
            "status": coded(log.numpy("status"), CALL_STATUSES),
            "queue_wait": log.numpy("queue_wait"),
        }
    )


def _request_frame(records: FullLogs, log: RequestLog) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": log.numpy("request"),
            "client": names(records, log.numpy("client")),
            "target": names(records, log.numpy("target")),
            "key": log.numpy("key"),
            "sent_at": log.numpy("sent_at"),
            "completed_at": log.numpy("completed_at"),
            "outcome": coded(log.numpy("outcome"), CALL_STATUSES),
            "attempts": log.numpy("attempts").astype(np.int64),
        }
    )


def _attempts_so_far(records: FullLogs, pending: pd.DataFrame) -> np.ndarray:
    """Each pending request's attempts that ended before the stop (its rows in calls)."""
    log = records.calls
    ended = pd.Series(1, index=pd.MultiIndex.from_arrays(
        [log.numpy("request"), log.numpy("caller")])).groupby(level=[0, 1]).size()  # fmt: skip
    codes = {name: code for code, name in enumerate(records.names.names)}
    wanted = pd.MultiIndex.from_arrays(
        [pending["request_id"].to_numpy(), [codes[c] for c in pending["client"]]]
    )
    return ended.reindex(wanted, fill_value=0).to_numpy(dtype=np.int64)
