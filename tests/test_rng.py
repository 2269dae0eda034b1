"""Named random streams: reproducible, independent of creation order, distinct per path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsim.errors import ConfigError, ConfigTypeError
from evsim.workload.rng import Streams, check_generator

PATH = ("producer", "orders-service", "arrivals")


def draws(streams: Streams, *path: str, n: int = 16) -> list[float]:
    return streams.generator(*path).random(n).tolist()


def test_same_seed_and_path_give_identical_draws() -> None:
    assert draws(Streams(7), *PATH) == draws(Streams(7), *PATH)


def test_same_path_twice_gives_a_new_generator_in_the_same_state() -> None:
    streams = Streams(7)
    first, second = streams.generator(*PATH), streams.generator(*PATH)
    assert first is not second
    assert first.random(8).tolist() == second.random(8).tolist()


@pytest.mark.parametrize(
    "other",
    [
        ("producer", "orders-service", "keys"),
        ("producer", "payments-service", "arrivals"),
        ("producer", "orders-service"),
        ("producer", "orders-service", "arrivals", "extra"),
    ],
)
def test_different_paths_give_different_draws(other: tuple[str, ...]) -> None:
    streams = Streams(7)
    assert draws(streams, *PATH) != draws(streams, *other)


def test_path_parts_are_not_concatenated() -> None:
    streams = Streams(7)
    assert draws(streams, "ab", "c") != draws(streams, "a", "bc")


def test_different_seeds_give_different_draws() -> None:
    assert draws(Streams(7), *PATH) != draws(Streams(8), *PATH)


def test_creating_other_streams_first_changes_nothing() -> None:
    alone = draws(Streams(3), *PATH)
    busy = Streams(3)
    for component in ("a", "b", "c"):
        busy.generator("consumer", component, "service_time").random(1000)
    assert draws(busy, *PATH) == alone


def test_draws_are_pinned_across_processes_and_versions() -> None:
    # The derivation (blake2b of each path part) must not change: results would shift.
    expected = [0.17524952664613724, 0.5441412217304884, 0.4501063436929993]
    assert draws(Streams(1), *PATH, n=3) == expected


def test_seed_none_takes_fresh_entropy_and_keeps_it() -> None:
    streams = Streams(None)
    assert isinstance(streams.seed, int)
    assert streams.seed >= 0
    assert Streams(None).seed != streams.seed
    assert draws(Streams(streams.seed), *PATH) == draws(streams, *PATH)


def test_default_seed_is_none() -> None:
    assert Streams().seed != Streams().seed


def test_numpy_integer_seed_is_accepted() -> None:
    assert Streams(np.int64(5)).seed == 5
    assert draws(Streams(np.int64(5)), *PATH) == draws(Streams(5), *PATH)


def test_generator_is_pcg64() -> None:
    assert isinstance(Streams(1).generator("x").bit_generator, np.random.PCG64)


def test_repr_shows_the_seed() -> None:
    assert repr(Streams(12)) == "Streams(seed=12)"


@pytest.mark.parametrize(
    ("seed", "error"),
    [(-1, ConfigError), (1.5, ConfigTypeError), (True, ConfigTypeError), ("1", ConfigTypeError)],
)
def test_bad_seed_is_rejected_naming_seed(seed: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="seed"):
        Streams(seed)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "error", "argument"),
    [
        ((), ConfigError, "path"),
        (("",), ConfigTypeError, r"path\[0\]"),
        (("producer", 3), ConfigTypeError, r"path\[1\]"),
    ],
)
def test_bad_path_is_rejected_naming_it(
    path: tuple[object, ...], error: type[Exception], argument: str
) -> None:
    with pytest.raises(error, match=argument):
        Streams(1).generator(*path)  # type: ignore[arg-type]


def test_check_generator() -> None:
    rng = np.random.default_rng(1)
    assert check_generator("rng", rng) is rng
    with pytest.raises(ConfigTypeError, match=r"rng: expected a numpy\.random\.Generator"):
        check_generator("rng", np.random.RandomState(1))


@given(
    seed=st.integers(min_value=0, max_value=2**64),
    path=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4),
)
def test_any_seed_and_path_are_reproducible(seed: int, path: list[str]) -> None:
    assert draws(Streams(seed), *path, n=4) == draws(Streams(seed), *path, n=4)
