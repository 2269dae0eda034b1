"""Distributions of durations: moments, sampling, the block fast path, specs and errors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.dist import (
    Constant,
    Distribution,
    Empirical,
    Exponential,
    FoldedNormal,
    LogNormal,
    Uniform,
    as_distribution,
    from_spec,
)

N = 200_000

# (distribution, exact mean in seconds, exact variance in seconds squared)
CASES = [
    (Constant(0.01), 0.01, 0.0),
    (Exponential(mean=0.02), 0.02, 0.02**2),
    (Uniform(0.01, 0.03), 0.02, 0.02**2 / 12),
    (LogNormal(mean=0.02, sigma=0.5), 0.02, math.expm1(0.25) * 0.02**2),
    (LogNormal(mean=3.0, sigma=0.0), 3.0, 0.0),
    (Empirical([0.5, 1.0, 1.0, 4.0]), 1.625, np.var([0.5, 1.0, 1.0, 4.0])),
    # |normal|: scipy's folded normal gives the moments (c = loc / scale)
    (FoldedNormal(0.010, 0.002), *map(float, scipy.stats.foldnorm(5.0, scale=0.002).stats("mv"))),
    (FoldedNormal(0.001, 0.002), *map(float, scipy.stats.foldnorm(0.5, scale=0.002).stats("mv"))),
    (FoldedNormal(0.0, 1.0), math.sqrt(2 / math.pi), 1 - 2 / math.pi),  # the half-normal
    (FoldedNormal(0.5, 0.0), 0.5, 0.0),
]
DISTRIBUTIONS = [case[0] for case in CASES]


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize(("dist", "mean", "variance"), CASES, ids=repr)
def test_mean_and_variance_properties_are_exact(
    dist: Distribution, mean: float, variance: float
) -> None:
    assert dist.mean == pytest.approx(mean, rel=1e-12)
    assert dist.variance == pytest.approx(variance, rel=1e-12, abs=1e-300)


def test_lognormal_mean_parameter_is_the_mean_of_the_durations() -> None:
    sigma, mean = 0.8, 0.05
    reference = scipy.stats.lognorm(s=sigma, scale=math.exp(math.log(mean) - sigma**2 / 2))
    dist = LogNormal(mean=mean, sigma=sigma)
    assert dist.mean == pytest.approx(reference.mean(), rel=1e-12)
    assert dist.variance == pytest.approx(reference.var(), rel=1e-12)


@pytest.mark.parametrize(("dist", "mean", "variance"), CASES, ids=repr)
def test_sample_mean_is_within_five_standard_errors(
    dist: Distribution, mean: float, variance: float
) -> None:
    values = dist.draw(rng(), N)
    assert abs(values.mean() - mean) <= 5 * math.sqrt(variance / N) + 1e-12


@pytest.mark.parametrize(("dist", "mean", "variance"), CASES, ids=repr)
def test_sample_variance_is_within_five_standard_errors(
    dist: Distribution, mean: float, variance: float
) -> None:
    values = dist.draw(rng(2), N)
    centred = values - values.mean()
    fourth = np.mean(centred**4)
    standard_error = math.sqrt(max(fourth - variance**2, 0.0) / N)
    assert abs(values.var() - variance) <= 5 * standard_error + 1e-12


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=repr)
def test_draw_returns_non_negative_float64(dist: Distribution) -> None:
    values = dist.draw(rng(), 1000)
    assert values.dtype == np.float64
    assert values.shape == (1000,)
    assert (values >= 0).all()
    assert dist.draw(rng(), 0).shape == (0,)


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=repr)
def test_sample_returns_a_non_negative_float(dist: Distribution) -> None:
    value = dist.sample(rng())
    assert type(value) is float
    assert value >= 0


@pytest.mark.parametrize("block", [1, 7, 1024])
@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=repr)
def test_sampler_sequence_equals_draw_sequence(dist: Distribution, block: int) -> None:
    sampler = dist.sampler(rng(5), block=block)
    from_sampler = [sampler() for _ in range(3000)]
    assert from_sampler == dist.draw(rng(5), 3000).tolist()
    assert all(type(value) is float for value in from_sampler[:10])


def test_same_seed_gives_the_same_samples() -> None:
    dist = LogNormal(mean=0.02, sigma=1.0)
    assert dist.draw(rng(9), 100).tolist() == dist.draw(rng(9), 100).tolist()
    assert dist.draw(rng(9), 100).tolist() != dist.draw(rng(10), 100).tolist()


def test_constant_uses_no_random_numbers() -> None:
    generator = rng()
    state = generator.bit_generator.state
    sampler = Constant(0.25).sampler(generator)
    assert [sampler() for _ in range(5)] == [0.25] * 5
    assert Constant(0.25).sample(generator) == 0.25
    assert generator.bit_generator.state == state


def test_empirical_resamples_only_the_values_uniformly() -> None:
    dist = Empirical([1.0, 2.0, 2.0, 5.0])
    values = dist.draw(rng(), N)
    assert set(np.unique(values).tolist()) == {1.0, 2.0, 5.0}
    share_of_two = np.mean(values == 2.0)
    assert abs(share_of_two - 0.5) <= 5 * math.sqrt(0.25 / N)


def test_empirical_copies_and_freezes_its_values() -> None:
    data = np.array([1.0, 2.0, 3.0])
    dist = Empirical(data)
    data[0] = 100.0
    assert dist.mean == 2.0
    assert not dist.values.flags.writeable


def test_empirical_accepts_any_iterable_of_numbers() -> None:
    assert Empirical(range(1, 4)) == Empirical([1.0, 2.0, 3.0])
    assert Empirical(np.arange(1, 4)) == Empirical((1, 2, 3))


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=repr)
def test_spec_round_trips_and_is_json_safe(dist: Distribution) -> None:
    spec = dist.spec()
    assert len(spec) == 1
    assert from_spec(json.loads(json.dumps(spec))) == dist


@pytest.mark.parametrize(
    ("dist", "spec", "text"),
    [
        (Constant(0.01), {"constant": {"value": 0.01}}, "Constant(value=0.01)"),
        (Exponential(mean=0.02), {"exponential": {"mean": 0.02}}, "Exponential(mean=0.02)"),
        (Uniform(0, 1), {"uniform": {"low": 0.0, "high": 1.0}}, "Uniform(low=0.0, high=1.0)"),
        (
            LogNormal(mean=0.02, sigma=0.5),
            {"lognormal": {"mean": 0.02, "sigma": 0.5}},
            "LogNormal(mean=0.02, sigma=0.5)",
        ),
        (Empirical([1, 2]), {"empirical": {"values": [1.0, 2.0]}}, "Empirical(values=[1.0, 2.0])"),
        (
            FoldedNormal(0.01, 0.002),
            {"folded_normal": {"loc": 0.01, "scale": 0.002}},
            "FoldedNormal(loc=0.01, scale=0.002)",
        ),
    ],
)
def test_spec_and_repr(dist: Distribution, spec: dict[str, object], text: str) -> None:
    assert dist.spec() == spec
    assert repr(dist) == text


def test_long_empirical_repr_is_shortened() -> None:
    assert (
        repr(Empirical(range(100)))
        == "Empirical(values=[0.0, 1.0, 2.0, 3.0, 4.0, ... (100 values)])"
    )


def test_equality_and_hash_follow_the_spec() -> None:
    assert Exponential(0.02) == Exponential(mean=0.02)
    assert hash(Exponential(0.02)) == hash(Exponential(mean=0.02))
    assert Constant(1) == Constant(1.0)
    assert Exponential(0.02) != Exponential(0.03)
    assert Constant(0.02) != Exponential(0.02)
    assert Exponential(0.02) != 0.02
    assert len({Empirical([1, 2]), Empirical([1.0, 2.0]), Uniform(1, 2)}) == 2


def test_from_spec_accepts_a_number_or_a_distribution() -> None:
    assert from_spec(0.5) == Constant(0.5)
    assert from_spec(3) == Constant(3)
    dist = Exponential(0.1)
    assert from_spec(dist) is dist


def test_as_distribution_passes_distributions_and_wraps_numbers() -> None:
    dist = Uniform(1, 2)
    assert as_distribution(dist, "service_time") is dist
    assert as_distribution(0.5, "service_time") == Constant(0.5)
    assert as_distribution(0, "latency") == Constant(0)
    assert as_distribution(np.float64(0.25), "latency") == Constant(0.25)


def test_as_distribution_error_shows_an_example() -> None:
    message = (
        "service_time: expected a distribution (e.g. ev.Exponential(mean=0.02)) "
        "or a number of seconds, got 'fast'"
    )
    with pytest.raises(ConfigTypeError) as caught:
        as_distribution("fast", "service_time")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "error", "expected"),
    [
        ("fast", ConfigTypeError, "expected a distribution (e.g. ev.Exponential(mean=0.02))"),
        (None, ConfigTypeError, "expected a distribution (e.g. ev.Exponential(mean=0.02))"),
        (True, ConfigTypeError, "expected a distribution (e.g. ev.Exponential(mean=0.02))"),
        ([0.1], ConfigTypeError, "expected a distribution (e.g. ev.Exponential(mean=0.02))"),
        (-1, ConfigError, "must be >= 0, got -1"),
        (math.nan, ConfigError, "expected a finite number, got nan"),
        (math.inf, ConfigError, "expected a finite number, got inf"),
    ],
)
def test_as_distribution_rejects_bad_values_naming_the_argument(
    value: object, error: type[ConfigError], expected: str, bad_argument: Callable[..., Any]
) -> None:
    with bad_argument(error, "service_time", expected):
        as_distribution(value, "service_time")


@pytest.mark.parametrize(
    ("make", "error", "argument", "expected"),
    [
        (lambda: Constant(-1), ConfigError, "value", "must be >= 0, got -1"),
        (lambda: Constant("a"), ConfigTypeError, "value", "expected a number, got 'a'"),
        (lambda: Exponential(0), ConfigError, "mean", "must be > 0, got 0"),
        (lambda: Exponential(-0.02), ConfigError, "mean", "must be > 0, got -0.02"),
        (lambda: Exponential(math.nan), ConfigError, "mean", "expected a finite number, got nan"),
        (lambda: Exponential(None), ConfigTypeError, "mean", "expected a number, got None"),
        (lambda: Uniform(-1, 1), ConfigError, "low", "must be >= 0, got -1"),
        (lambda: Uniform(0, -1), ConfigError, "high", "must be >= 0, got -1"),
        (lambda: Uniform(2, 1), ConfigError, "high", "must be >= low (2.0), got 1"),
        (lambda: LogNormal(0, 1), ConfigError, "mean", "must be > 0, got 0"),
        (lambda: LogNormal(1, -1), ConfigError, "sigma", "must be >= 0, got -1"),
        (lambda: FoldedNormal(-0.01, 0.002), ConfigError, "loc", "must be >= 0, got -0.01"),
        (lambda: FoldedNormal(0.01, -1), ConfigError, "scale", "must be >= 0, got -1"),
        (lambda: FoldedNormal(0.01, "2"), ConfigTypeError, "scale", "expected a number"),
        (lambda: Empirical([]), ConfigError, "values", "expected at least one value"),
        (lambda: Empirical("abc"), ConfigTypeError, "values", "expected a sequence of numbers"),
        (lambda: Empirical(3), ConfigTypeError, "values", "expected a sequence of numbers"),
        (lambda: Empirical([1, -1]), ConfigError, "values[1]", "must be >= 0, got -1"),
        (lambda: Empirical([1, None]), ConfigTypeError, "values[1]", "expected a number"),
        (lambda: Empirical([1, True]), ConfigTypeError, "values[1]", "expected a number"),
        (lambda: Empirical(np.array([1.0, np.inf])), ConfigError, "values[1]", "expected a finite"),
        (lambda: Empirical(np.array([1.0, -2.0])), ConfigError, "values[1]", "must be >= 0"),
        (lambda: Exponential(1).draw(rng(), -1), ConfigError, "n", "must be >= 0, got -1"),
        (lambda: Exponential(1).draw(rng(), 2.0), ConfigTypeError, "n", "expected a whole number"),
        (
            lambda: Exponential(1).draw(np.random.RandomState(1), 2),
            ConfigTypeError,
            "rng",
            "expected a numpy.random.Generator",
        ),
        (lambda: Exponential(1).sample(None), ConfigTypeError, "rng", "expected a numpy.random"),
        (lambda: Exponential(1).sampler(rng(), block=0), ConfigError, "block", "must be >= 1"),
        (lambda: Exponential(1).sampler(42), ConfigTypeError, "rng", "expected a numpy.random"),
        (lambda: Constant(1).sampler(rng(), block=0), ConfigError, "block", "must be >= 1"),
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
        ({"gamma": {"mean": 1}}, ConfigError, "unknown kind 'gamma'; known kinds: constant"),
        ({"exponential": {"rate": 50}}, ConfigError, "service_time.exponential: unknown param"),
        ({"uniform": {"low": 0}}, ConfigError, "service_time.uniform: missing parameter 'high'"),
        ({"exponential": 0.02}, ConfigTypeError, "service_time.exponential: expected a mapping"),
        ({"exponential": {"mean": -1}}, ConfigError, "service_time.exponential.mean: must be > 0"),
        ({"exponential": {"mean": "x"}}, ConfigTypeError, "service_time.exponential.mean"),
        ({}, ConfigError, "service_time: expected a mapping with one key"),
        ({"constant": {"value": 1}, "uniform": {}}, ConfigError, "with one key"),
        ("fast", ConfigTypeError, "service_time: expected a mapping with one key"),
        (None, ConfigTypeError, "service_time: expected a mapping with one key"),
        (-1, ConfigError, "service_time: must be >= 0"),
    ],
)
def test_from_spec_errors_name_the_argument_kind_and_parameter(
    spec: object, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as caught:
        from_spec(spec, "service_time")  # type: ignore[arg-type]
    assert fragment in str(caught.value)


def test_errors_are_also_builtin_errors() -> None:
    with pytest.raises(ValueError, match="mean"):
        Exponential(-1)
    with pytest.raises(TypeError, match="mean"):
        Exponential("slow")


positive_floats = st.floats(min_value=1e-6, max_value=1e6)


@given(low=st.floats(0, 100), width=st.floats(0, 100), seed=st.integers(0, 2**32))
def test_uniform_values_stay_within_bounds(low: float, width: float, seed: int) -> None:
    dist = Uniform(low, low + width)
    values = dist.draw(rng(seed), 64)
    assert ((values >= low) & (values <= low + width)).all()


@given(mean=positive_floats, sigma=st.floats(0, 3))
def test_lognormal_spec_round_trips(mean: float, sigma: float) -> None:
    dist = LogNormal(mean=mean, sigma=sigma)
    assert from_spec(dist.spec()) == dist
    assert dist.mean == mean
