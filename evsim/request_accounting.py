"""Every client request ends in exactly one outcome: the counts, and the check.

A client counts the requests it sends as it sends them; each ends as ``ok``, ``error``,
``timeout``, ``rejected`` or ``short_circuited``, or is ``pending`` at the stop. The
counts per client must add up (:func:`counts`), and with ``record="full"`` each request
id must have exactly one row (:func:`problems`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from evsim.records import CALL_STATUSES
from evsim.run_record import RunRecord


def counts(record: RunRecord) -> pd.DataFrame:
    """Per client (rows, in the order added): ``sent``, then one column per outcome."""
    clients = [client.name for client in record.clients]
    cells = np.zeros((len(clients), len(CALL_STATUSES)), dtype=np.int64)
    row_of = {client.code: row for row, client in enumerate(record.clients)}
    tally: Counter[tuple[int, int]] = Counter()
    if record.records.full:
        log = record.records.full_logs().requests
        tally.update(zip(log.numpy("client").tolist(), log.numpy("outcome").tolist(), strict=True))
    else:
        tally.update(record.records.summary_logs().requests.counts)
    pending = record.pending_requests
    if pending is not None:
        tally.update(
            zip(pending.numpy("client").tolist(), pending.numpy("outcome").tolist(), strict=True)
        )
    for (client, outcome), n in tally.items():
        cells[row_of[client], outcome] += n
    table = pd.DataFrame(cells, index=pd.Index(clients, name="client"), columns=CALL_STATUSES)
    table.insert(0, "sent", [client.sent for client in record.clients])
    return table


def problems(record: RunRecord, requests: pd.DataFrame) -> list[str]:
    """What is wrong with the requests table: a request without a row, or with two."""
    found = []
    for client in record.clients:
        ids = requests.loc[requests["client"] == client.name, "request_id"].to_numpy()
        if len(np.unique(ids)) != len(ids):
            found.append(f"{client.name}: a request has more than one outcome")
        if len(ids) != client.sent:
            found.append(f"{client.name}: {client.sent} requests sent, {len(ids)} with an outcome")
    return found
