"""The shared scaffolding of conftest.py: the bad-argument check fails where it should.

Every table of bad arguments relies on it, so a check that let a wrong error through
would weaken all of them at once.
"""

from __future__ import annotations

import pytest

import evsim as ev


def test_bad_argument_passes_the_error_evsim_promises(bad_argument):
    with bad_argument(ev.ConfigError, "rate", "must be > 0") as caught:
        ev.Poisson(rate=0)
    assert str(caught.value) == "rate: must be > 0, got 0"


@pytest.mark.parametrize(
    ("error", "argument", "expected", "complaint"),
    [
        (ev.EvsimError, "rate", "must be > 0", "raised ConfigError, not EvsimError"),  # a base
        (ev.ConfigError, "rat", "must be > 0", "does not name 'rat' first"),
        (ev.ConfigError, "interval", "must be > 0", "does not name 'interval' first"),
        (ev.ConfigError, "rate", "must be >= 0", "does not say 'must be >= 0'"),
        (ev.ConfigError, "rate", "0", "does not say '0'"),  # in the message, not first
    ],
)
def test_bad_argument_refuses_a_base_class_another_argument_or_expectation(
    bad_argument, error, argument, expected, complaint
):
    with pytest.raises(AssertionError, match=complaint), bad_argument(error, argument, expected):
        ev.Poisson(rate=0)


def test_bad_argument_lets_an_error_of_another_class_through(bad_argument):
    with (
        pytest.raises(ev.ConfigError, match="rate: must be > 0"),
        bad_argument(ev.ConfigTypeError, "rate", "must be > 0"),
    ):
        ev.Poisson(rate=0)


def test_bad_argument_refuses_a_block_that_raises_nothing(bad_argument):
    with (
        pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"),
        bad_argument(ev.ConfigError, "rate", "must be > 0"),
    ):
        ev.Poisson(rate=1)


def test_bad_argument_takes_only_evsim_errors(bad_argument):
    with (
        pytest.raises(AssertionError, match="ValueError is not an evsim error"),
        bad_argument(ValueError, "rate", "must be > 0"),
    ):
        ev.Poisson(rate=0)
