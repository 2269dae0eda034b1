"""Per-key order (evsim.analysis.ordering.out_of_order): finished after a later item."""

from __future__ import annotations

import pandas as pd

from evsim.analysis.ordering import out_of_order


def test_an_item_finished_after_a_later_one_of_its_key_is_out_of_order():
    items = pd.DataFrame(
        {
            "key": ["a", "a", "b", "a", "b"],
            "came": [0.0, 1.0, 2.0, 3.0, 4.0],
            "finished": [5.0, 2.0, 3.0, 6.0, 3.5],
        },
        index=[10, 11, 12, 13, 14],
    )
    late = out_of_order(items["key"], items["came"], items["finished"])
    # a: 11 (came 1) finished before 10 (came 0): 10 is late; 13 after both: in order
    assert late.to_dict() == {10: True, 11: False, 12: False, 13: False, 14: False}


def test_ties_in_finish_time_are_taken_in_the_given_order():
    keys, came = pd.Series(["k", "k"]), pd.Series([1.0, 0.0])
    assert out_of_order(keys, came, pd.Series([2.0, 2.0])).tolist() == [False, True]
