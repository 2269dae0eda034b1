"""Per-key order: which items were finished after a later item of the same key.

Kafka keeps one key's records in order because they share a partition, read by one
consumer at a time; a retry topic, a rebalance or a pool of request threads can break
that order. An item is *out of order* when it was finished after an item of the same key
that came later: a customer's second order reserved before the first, a payment event
applied after its refund. Times are seconds; which clock "came" and "finished" read
(published, sent, completed, answered) is the caller's choice.
"""

from __future__ import annotations

import pandas as pd


def out_of_order(keys: pd.Series, came: pd.Series, finished: pd.Series) -> pd.Series:
    """For each item (one row, on one index; keys not None), whether it was finished
    after an item of the same key that came later: ``came`` and ``finished`` are seconds.

    Items are taken in the order they finished, ties in the order given, and each is
    compared with the latest ``came`` among its key's items finished before it. Returns
    a boolean Series on the items' index (items are assumed to have a unique index).
    """
    items = pd.DataFrame({"key": keys, "came": came, "finished": finished})
    ordered = items.sort_values("finished", kind="stable")
    latest = ordered.groupby("key", sort=False)["came"].cummax()
    earlier = latest.groupby(ordered["key"], sort=False).shift(1)
    late: pd.Series = (ordered["came"] < earlier).reindex(items.index)
    return late
