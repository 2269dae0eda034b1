"""Key choosers: key frequencies, Zipf hot keys, the block fast path, specs and errors."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import bounded
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload import keys as keys_module
from evsim.workload.keys import KeyChooser, UniformKeys, ZipfKeys, as_keys, from_spec
from evsim.workload.zipf import RejectionInversionZipf

N = 100_000


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def choose(chooser: KeyChooser, n: int, seed: int = 1) -> list[str]:
    pick = chooser.chooser(rng(seed))
    return [pick() for _ in range(n)]


def within_five_sigma(count: int, p: float, n: int) -> bool:
    return abs(count / n - p) <= 5 * math.sqrt(p * (1 - p) / n)


def test_uniform_keys_are_equally_likely() -> None:
    counts = Counter(choose(UniformKeys(10), N))
    assert set(counts) == {f"key-{i}" for i in range(10)}
    assert all(within_five_sigma(count, 0.1, N) for count in counts.values())


def test_zipf_probabilities_follow_the_power_law_and_sum_to_one() -> None:
    chooser = ZipfKeys(1000, s=1.2)
    p = chooser.probabilities()
    assert p.shape == (1000,)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert (np.diff(p) <= 0).all()
    assert p[0] / p[1] == pytest.approx(2**1.2)
    assert p[0] / p[9] == pytest.approx(10**1.2)


def test_zipf_key_zero_frequency_matches_its_probability() -> None:
    chooser = ZipfKeys(10_000, s=1.2)
    counts = Counter(choose(chooser, N))
    p = chooser.probabilities()
    for i in range(5):
        assert within_five_sigma(counts[f"key-{i}"], p[i], N), i


@pytest.mark.parametrize(("lower", "higher"), [(0.5, 1.0), (1.0, 1.5), (1.5, 3.0)])
def test_larger_s_makes_a_hotter_head(lower: float, higher: float) -> None:
    cold, hot = ZipfKeys(1000, s=lower), ZipfKeys(1000, s=higher)
    assert hot.probabilities()[0] > cold.probabilities()[0]
    assert hot.probabilities()[:10].sum() > cold.probabilities()[:10].sum()
    cold_share = choose(cold, 20_000).count("key-0")
    hot_share = choose(hot, 20_000).count("key-0")
    assert hot_share > cold_share


def test_uniform_probabilities() -> None:
    p = UniformKeys(4).probabilities()
    assert p.tolist() == [0.25] * 4


@pytest.mark.parametrize("chooser", [UniformKeys(1), ZipfKeys(1, s=2.0)], ids=repr)
def test_a_single_key_is_always_chosen(chooser: KeyChooser) -> None:
    assert set(choose(chooser, 100)) == {"key-0"}


@pytest.mark.parametrize("block", [1, 3, 1024])
@pytest.mark.parametrize("chooser", [UniformKeys(50), ZipfKeys(50, s=1.1)], ids=repr)
def test_chooser_follows_indices_for_the_same_seed(chooser: KeyChooser, block: int) -> None:
    pick = chooser.chooser(rng(4), block=block)
    chosen = [pick() for _ in range(2500)]
    assert chosen == [chooser.key(i) for i in chooser.indices(rng(4), 2500).tolist()]


def test_uncached_keys_equal_cached_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    cached = choose(ZipfKeys(500, s=1.0), 3000)
    monkeypatch.setattr(keys_module, "CACHED_KEYS", 0)  # as for very many keys
    assert choose(ZipfKeys(500, s=1.0), 3000) == cached


def test_keys_and_prefix() -> None:
    chooser = UniformKeys(10_000, prefix="cust-")
    assert chooser.n == 10_000
    assert chooser.prefix == "cust-"
    assert chooser.key(0) == "cust-0"
    assert chooser.key(9999) == "cust-9999"
    assert all(key.startswith("cust-") for key in choose(chooser, 100))


def test_indices_are_in_range() -> None:
    for chooser in (UniformKeys(7), ZipfKeys(7, s=0.5)):
        indices = chooser.indices(rng(), 10_000)
        assert indices.min() >= 0
        assert indices.max() <= 6


CHOOSERS = [UniformKeys(10_000), ZipfKeys(10_000, s=1.2), ZipfKeys(5, s=0.7, prefix="k")]


@pytest.mark.parametrize("chooser", CHOOSERS, ids=repr)
def test_spec_round_trips_and_is_json_safe(chooser: KeyChooser) -> None:
    assert from_spec(json.loads(json.dumps(chooser.spec()))) == chooser


def test_spec_and_repr() -> None:
    assert UniformKeys(10).spec() == {"uniform_keys": {"n": 10, "prefix": "key-"}}
    assert ZipfKeys(10, s=1.2).spec() == {"zipf_keys": {"n": 10, "s": 1.2, "prefix": "key-"}}
    assert repr(ZipfKeys(10_000, s=1.2)) == "ZipfKeys(n=10000, s=1.2, prefix='key-')"
    assert from_spec({"zipf_keys": {"n": 10, "s": 2}}) == ZipfKeys(10, s=2.0)


def test_equality_and_hash() -> None:
    assert UniformKeys(10) == UniformKeys(n=10, prefix="key-")
    assert hash(ZipfKeys(10, 1)) == hash(ZipfKeys(10, s=1.0))
    assert UniformKeys(10) != UniformKeys(11)
    assert UniformKeys(10) != UniformKeys(10, prefix="k")


def test_as_keys_and_from_spec_pass_none_and_choosers() -> None:
    chooser = UniformKeys(3)
    assert as_keys(None, "keys") is None
    assert as_keys(chooser, "keys") is chooser
    assert from_spec(None) is None
    assert from_spec(chooser) is chooser


@pytest.mark.parametrize("value", ["key-1", 10, ["a", "b"], True])
def test_as_keys_rejects_other_values_naming_the_argument(value: Any) -> None:
    with pytest.raises(ConfigTypeError, match=r"keys: expected a key chooser \(e.g. ev.Uniform"):
        as_keys(value, "keys")


@pytest.mark.parametrize(
    ("make", "error", "argument", "expected"),
    [
        (lambda: UniformKeys(0), ConfigError, "n", "must be >= 1, got 0"),
        (lambda: UniformKeys(2.0), ConfigTypeError, "n", "expected a whole number, got 2.0"),
        (lambda: UniformKeys(True), ConfigTypeError, "n", "expected a whole number, got True"),
        (lambda: ZipfKeys(10, s=0), ConfigError, "s", "must be > 0, got 0"),
        (lambda: ZipfKeys(10, s=-1), ConfigError, "s", "must be > 0, got -1"),
        (lambda: ZipfKeys(10, s="1"), ConfigTypeError, "s", "expected a number, got '1'"),
        (lambda: ZipfKeys(0, s=1), ConfigError, "n", "must be >= 1, got 0"),
        (lambda: UniformKeys(10, prefix=""), ConfigTypeError, "prefix", "expected a non-empty"),
        (lambda: UniformKeys(10, prefix=3), ConfigTypeError, "prefix", "expected a non-empty"),
        (lambda: UniformKeys(10).key(10), ConfigError, "i", "must be < n (10), got 10"),
        (lambda: UniformKeys(10).key(-1), ConfigError, "i", "must be >= 0, got -1"),
        (lambda: UniformKeys(10).chooser(rng(), block=0), ConfigError, "block", "must be >= 1"),
        (lambda: UniformKeys(10).chooser("rng"), ConfigTypeError, "rng", "expected a numpy"),
        (lambda: UniformKeys(10).indices(rng(), -1), ConfigError, "size", "must be >= 0"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(
    make: Callable[[], object],
    error: type[ConfigError],
    argument: str,
    expected: str,
    bad_argument: Callable[..., Any],
) -> None:
    with bad_argument(error, argument, expected):
        make()


@pytest.mark.parametrize(
    ("spec", "error", "fragment"),
    [
        ({"hot_keys": {"n": 5}}, ConfigError, "known kinds: uniform_keys, zipf_keys"),
        ({"zipf_keys": {"n": 5}}, ConfigError, "keys.zipf_keys: missing parameter 's'"),
        ({"uniform_keys": {"n": 0}}, ConfigError, "keys.uniform_keys.n: must be >= 1"),
        ("zipf", ConfigTypeError, "keys: expected a mapping"),
    ],
)
def test_from_spec_errors(spec: Any, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as caught:
        from_spec(spec)
    assert fragment in str(caught.value)


@given(n=st.integers(1, 5000), s=st.floats(0.01, 5))
def test_zipf_probabilities_are_a_non_increasing_distribution(n: int, s: float) -> None:
    p = ZipfKeys(n, s=s).probabilities()
    assert p.sum() == pytest.approx(1.0)
    assert (np.diff(p) <= 0).all()
    assert (p > 0).all()


# --- large n: memory independent of n, the same draws as before for the n that fit ---------


def test_table_draws_are_those_of_earlier_versions() -> None:
    """Pinned from 51731bd, before rejection-inversion: tables (n <= MAX_TABLE_KEYS) keep
    every seed's draws, so no recorded run changes."""
    assert ZipfKeys(1000, s=1.2).indices(rng(7), 12).tolist() == [
        15, 218, 56, 0, 1, 163, 0, 89, 69, 4, 1, 1,
    ]  # fmt: skip
    assert ZipfKeys(10**6, s=0.9).indices(rng(7), 6).tolist() == [
        34385, 441815, 152967, 129, 481, 362498,
    ]  # fmt: skip


def test_a_billion_zipf_keys_draw_in_little_memory() -> None:
    """Before, the first draw built two tables of 7.45 GiB each: the child (its address
    space capped at 3 GiB) fails with MemoryError."""
    out = bounded.python(
        """
        import tracemalloc
        import numpy as np
        import evsim as ev
        keys = ev.ZipfKeys(10**9, s=1.1)
        tracemalloc.start()
        pick = keys.chooser(np.random.default_rng(1))
        drawn = [pick() for _ in range(20_000)]
        print(tracemalloc.get_traced_memory()[1] < 50 * 2**20, drawn.count("key-0"))
        """
    )
    assert out.returncode == 0, out.stderr
    small, hottest = out.stdout.split()
    assert small == "True"
    # P(key-0) = 1 / H(10**9, 1.1); H = zeta(1.1) - (10**9)**-0.1 / 0.1 + ... = 10.584 - 1.259
    assert within_five_sigma(int(hottest), 1 / 9.3255, 20_000)


@pytest.mark.parametrize("chooser", ["ZipfKeys(10**9, s=1.1)", "UniformKeys(10**9)"])
def test_probabilities_of_too_many_keys_are_refused_naming_the_limit(chooser: str) -> None:
    """Before, each allocated 8 GB (in a child whose address space is capped)."""
    out = bounded.raised(f"from evsim.workload.keys import *\n{chooser}.probabilities()")
    assert out == (
        "ConfigError: probabilities(): n: must be <= 10,000,000 (one float64 per key, 8.0 GB "
        "here; to allow more, raise evsim.limits.MAX_TABLE_KEYS), got 1000000000"
    )


def test_more_keys_than_float64_counts_exactly_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"n: must be <= 9.0e\+15"):
        UniformKeys(10**30)
    with pytest.raises(ConfigError, match="an integer of about 400 digits"):
        ZipfKeys(10**400, s=1.0)


@pytest.mark.parametrize(("n", "s"), [(1, 1.5), (10, 1.0), (1000, 1.2), (50, 0.5), (7, 3.0)])
def test_rejection_inversion_follows_the_power_law(n: int, s: float) -> None:
    size = 400_000
    ranks = RejectionInversionZipf(n, s).ranks(rng(3), size)
    assert ranks.min() >= 1 and ranks.max() <= n
    weights = np.arange(1, n + 1, dtype=np.float64) ** -s
    expected = weights / weights.sum()
    counts = np.bincount(ranks, minlength=n + 1)[1:]
    assert all(
        within_five_sigma(int(c), float(p), size) for c, p in zip(counts, expected, strict=True)
    )


def test_above_the_table_limit_zipf_keys_sample_by_rejection_inversion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keys_module.limits, "MAX_TABLE_KEYS", 100)
    keys = ZipfKeys(1000, s=1.2)
    indices = keys.indices(rng(5), N)
    assert "_cumulative" not in keys.__dict__  # no table was built
    expected = RejectionInversionZipf(1000, 1.2).ranks(rng(5), N) - 1
    assert indices.tolist() == expected.tolist()
