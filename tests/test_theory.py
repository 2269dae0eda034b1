"""ev.theory: textbook values, the models' relations to each other, and bad input."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

import evsim as ev
from evsim.analysis import theory


def erlang_c_by_factorials(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Erlang C straight from the closed formula (fine for small c, overflows for large)."""
    a = arrival_rate / service_rate
    top = a**servers / math.factorial(servers) * servers / (servers - a)
    bottom = sum(a**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


# --- M/M/1 ----------------------------------------------------------------------------


def test_mm1_textbook_values():
    m = ev.theory.mm1(arrival_rate=0.5, service_rate=1.0)
    assert (m.rho, m.w, m.wq, m.l, m.lq) == pytest.approx((0.5, 2.0, 1.0, 1.0, 0.5))
    assert m.service_time == 1.0
    assert m.model == "M/M/1"


def test_mm1_closed_forms_at_another_load():
    lam, mu = 40.0, 50.0
    m = theory.mm1(lam, mu)
    rho = lam / mu
    assert m.w == pytest.approx(1 / (mu - lam))
    assert m.wq == pytest.approx(rho / (mu - lam))
    assert m.l == pytest.approx(rho / (1 - rho))
    assert m.lq == pytest.approx(rho**2 / (1 - rho))


def test_metrics_are_frozen_and_readable():
    m = theory.mm1(0.5, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.w = 3.0  # type: ignore[misc]
    assert repr(m) == "M/M/1(arrival_rate=0.5/s, rho=0.5, wq=1 s, w=2 s, lq=0.5, l=1)"
    assert m.as_dict() == {
        "model": "M/M/1",
        "arrival_rate": 0.5,
        "service_time": 1.0,
        "rho": 0.5,
        "wq": 1.0,
        "w": 2.0,
        "lq": 0.5,
        "l": 1.0,
    }


# --- M/M/c ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lam", "mu", "c"),
    [(2.1, 1.0, 3), (3.6, 1.0, 4), (0.5, 1.0, 2), (9.0, 1.0, 10), (45.0, 2.0, 25), (1e-3, 1, 5)],
)
def test_erlang_c_recursion_matches_the_factorial_formula(lam, mu, c):
    m = theory.mmc(lam, mu, c)
    assert m.p_wait == pytest.approx(erlang_c_by_factorials(lam, mu, c), rel=1e-12)
    assert m.wq == pytest.approx(m.p_wait / (c * mu - lam), rel=1e-12)
    assert m.w == pytest.approx(m.wq + 1 / mu)
    assert m.rho == pytest.approx(lam / (c * mu))


def test_mmc_known_value_two_servers():
    # M/M/2 with a = 1 (λ = 1, μ = 1): C = 1/3 by hand, Wq = C/(2 − 1) = 1/3, W = 4/3.
    m = theory.mmc(1.0, 1.0, 2)
    assert m.p_wait == pytest.approx(1 / 3)
    assert (m.wq, m.w, m.lq, m.l) == pytest.approx((1 / 3, 4 / 3, 1 / 3, 4 / 3))
    assert m.servers == 2


def test_mmc_with_one_server_is_mm1():
    one, mmc = theory.mm1(0.7, 1.3), theory.mmc(0.7, 1.3, 1)
    for name in ("rho", "wq", "w", "lq", "l"):
        assert getattr(mmc, name) == pytest.approx(getattr(one, name), rel=1e-12)
    assert mmc.p_wait == pytest.approx(0.7 / 1.3)  # one server: P(wait) = ρ


def test_mmc_is_stable_for_hundreds_of_servers():
    m = theory.mmc(arrival_rate=190.0, service_rate=1.0, servers=200)
    assert 0 < m.p_wait < 1
    assert all(math.isfinite(v) for v in (m.wq, m.w, m.lq, m.l))
    assert m.l == pytest.approx(m.lq + 190.0)  # L = Lq + a
    big = theory.mmc(arrival_rate=4_900.0, service_rate=1.0, servers=5_000)
    assert 0 < big.p_wait < 1


def test_mmc_repr_and_dict_carry_servers_and_p_wait():
    m = theory.mmc(1.0, 1.0, 2)
    assert repr(m).startswith("M/M/c(servers=2, arrival_rate=1/s, rho=0.5, p_wait=0.3333")
    assert m.as_dict()["servers"] == 2
    assert m.as_dict()["p_wait"] == pytest.approx(1 / 3)


# --- M/M/c waiting-time tails -----------------------------------------------------------


def test_mmc_tails_start_at_the_chance_of_waiting_and_at_one():
    m = theory.mmc(95, 10, 10)
    assert theory.mmc_wait_tail(95, 10, 10, 0.0) == pytest.approx(m.p_wait)
    assert theory.mmc_response_tail(95, 10, 10, 0.0) == pytest.approx(1.0)
    # a wait beyond t drains at cμ − λ = 5 per second
    assert theory.mmc_wait_tail(95, 10, 10, 0.4) == pytest.approx(m.p_wait * math.exp(-2.0))


def test_mmc_response_tail_with_one_server_is_mm1s_exponential():
    # M/M/1: the time in the system is exponential at μ − λ
    for t in (0.1, 1.0, 5.0):
        assert theory.mmc_response_tail(0.7, 1.3, 1, t) == pytest.approx(math.exp(-0.6 * t))


def test_mmc_response_tail_integrates_to_the_mean_time_in_the_system():
    for lam, mu, c in [(95, 10, 10), (3.0, 2.0, 2), (1.0, 1.0, 2)]:
        w = theory.mmc(lam, mu, c).w  # E[W] = ∫ P(W > t) dt
        t = np.linspace(0.0, 60 * w, 4001)
        tail = np.array([theory.mmc_response_tail(lam, mu, c, x) for x in t])
        area = float(np.sum((tail[1:] + tail[:-1]) / 2 * np.diff(t)))  # trapezoids
        assert area == pytest.approx(w, rel=1e-4)


def test_mmc_response_tail_is_continuous_where_the_drain_rate_equals_the_service_rate():
    # c = 2, μ = 1, λ = 1: cμ − λ = μ, the formula's limit case
    at = theory.mmc_response_tail(1.0, 1.0, 2, 1.5)
    assert at == pytest.approx(math.exp(-1.5) * (1 + (1 / 3) * 1.5))  # C = 1/3
    assert theory.mmc_response_tail(1.0 + 1e-9, 1.0, 2, 1.5) == pytest.approx(at, rel=1e-7)


def test_high_utilisation_times_out_a_tail_without_any_failure():
    # 10 workers 95 % busy, a timeout five mean service times long: 13 % too late
    assert theory.mmc_response_tail(95, 10, 10, 0.5) == pytest.approx(0.1311, abs=1e-4)
    assert theory.mmc_response_tail(70, 10, 10, 0.5) == pytest.approx(0.0075, abs=1e-4)


def test_erlang_b_small_case_by_hand():
    # B(c=2, a=1) = (1/2) / (1 + 1 + 1/2) = 0.2
    assert theory.erlang_b(1.0, 2) == pytest.approx(0.2)
    assert theory.erlang_b(3.0, 0) == 1.0


# --- M/D/1 and M/G/1 ------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_md1_waits_half_as_long_as_mm1(rho):
    d = theory.md1(arrival_rate=rho / 0.02, service_time=0.02)
    m = theory.mm1(arrival_rate=rho / 0.02, service_rate=50.0)
    assert d.rho == pytest.approx(rho)
    assert d.wq == pytest.approx(m.wq / 2)
    assert d.w == pytest.approx(d.wq + 0.02)
    assert d.l == pytest.approx(d.arrival_rate * d.w)


def test_md1_textbook_value():
    d = theory.md1(0.5, 1.0)  # Wq = ρD / (2(1 − ρ)) = 0.5
    assert (d.wq, d.w, d.lq, d.l) == pytest.approx((0.5, 1.5, 0.25, 0.75))


def test_mg1_with_exponential_service_is_mm1():
    g = theory.mg1(30.0, ev.Exponential(mean=0.02))
    m = theory.mm1(30.0, 50.0)
    for name in ("rho", "wq", "w", "lq", "l"):
        assert getattr(g, name) == pytest.approx(getattr(m, name), rel=1e-12)
    assert g.model == "M/G/1"


def test_mg1_with_constant_service_is_md1():
    assert theory.mg1(30.0, ev.Constant(0.02)) == theory.md1(30.0, 0.02)
    assert theory.mg1(30.0, 0.02) == theory.md1(30.0, 0.02)  # a number is a constant


def test_mg1_pollaczek_khinchine_with_lognormal_service():
    s = ev.LogNormal(mean=0.02, sigma=1.2)  # scv = e^(1.44) − 1 ≈ 3.2 > 1 (exponential's)
    g = theory.mg1(25.0, s)
    second_moment = s.variance + s.mean**2
    assert g.rho == pytest.approx(0.5)
    assert g.wq == pytest.approx(25.0 * second_moment / (2 * 0.5))
    assert g.wq > theory.mm1(25.0, 50.0).wq  # more variable than exponential: longer waits


# --- partitions -----------------------------------------------------------------------


def test_partitioned_mm1_with_even_shares_is_one_mm1_per_partition():
    p = theory.partitioned_mm1(arrival_rate=6.0, service_rate=3.0, shares=[1, 1, 1])
    m = theory.mm1(2.0, 3.0)
    assert p.shares == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert (p.w, p.wq, p.rho, p.max_rho) == pytest.approx((m.w, m.wq, m.rho, m.rho))
    assert p.l == pytest.approx(3 * m.l)
    assert p.l == pytest.approx(theory.little(arrival_rate=6.0, w=p.w))
    assert len(p.partitions) == 3
    assert p.as_dict()["n_partitions"] == 3


def test_partitioned_mm1_weights_each_partition_by_its_arrivals():
    shares = [0.2, 0.3, 0.5]
    p = theory.partitioned_mm1(arrival_rate=1.5, service_rate=1.0, shares=shares)
    expected = sum(s / (1.0 - s * 1.5) for s in shares)  # Σ share_p / (μ − λ_p)
    assert p.w == pytest.approx(expected)
    assert p.max_rho == pytest.approx(0.75)
    assert p.w > theory.partitioned_mm1(1.5, 1.0, [1, 1, 1]).w  # uneven keys: slower
    assert p.lq == pytest.approx(sum(m.lq for m in p.partitions))


def test_partitioned_mm1_tolerates_an_idle_partition():
    p = theory.partitioned_mm1(1.0, 2.0, shares=[5, 0])
    assert p.partitions[1].l == 0.0
    assert p.w == pytest.approx(theory.mm1(1.0, 2.0).w)


# --- Little's law ---------------------------------------------------------------------


def test_little_gives_the_third_of_three():
    assert theory.little(arrival_rate=0.5, w=2.0) == pytest.approx(1.0)
    assert theory.little(l=1.0, w=2.0) == pytest.approx(0.5)
    assert theory.little(l=1.0, arrival_rate=0.5) == pytest.approx(2.0)


@pytest.mark.parametrize("model", [theory.mm1(3, 4), theory.mmc(3, 2, 2), theory.md1(3, 0.2)])
def test_little_round_trips_every_model(model):
    assert theory.little(arrival_rate=model.arrival_rate, w=model.w) == pytest.approx(model.l)
    assert theory.little(arrival_rate=model.arrival_rate, w=model.wq) == pytest.approx(model.lq)
    assert theory.little(l=model.l, w=model.w) == pytest.approx(model.arrival_rate)
    assert theory.little(l=model.l, arrival_rate=model.arrival_rate) == pytest.approx(model.w)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: theory.mm1(-1, 1), "arrival_rate: must be > 0, got -1"),
        (lambda: theory.mm1(0, 1), "arrival_rate: must be > 0, got 0"),
        (lambda: theory.mm1(1, 0), "service_rate: must be > 0, got 0"),
        (lambda: theory.mm1(1.2, 1), "rho: the queue is unstable (rho = 1.2 >= 1)"),
        (lambda: theory.mm1(1, 1), "rho: the queue is unstable (rho = 1 >= 1)"),
        (lambda: theory.mmc(-2, 1, 3), "arrival_rate: must be > 0, got -2"),
        (lambda: theory.mmc(2, -1, 3), "service_rate: must be > 0, got -1"),
        (lambda: theory.mmc(2, 1, 0), "servers: must be >= 1, got 0"),
        (lambda: theory.mmc(3.3, 1, 3), "rho: the queue is unstable (rho = 1.1 >= 1)"),
        (lambda: theory.mmc_wait_tail(2, 1, 3, -1), "t: must be >= 0, got -1"),
        (lambda: theory.mmc_response_tail(2, 1, 3, -0.5), "t: must be >= 0, got -0.5"),
        (lambda: theory.mmc_response_tail(3, 1, 3, 1), "rho: the queue is unstable (rho = 1 >= 1)"),
        (lambda: theory.md1(0, 1), "arrival_rate: must be > 0, got 0"),
        (lambda: theory.md1(1, 0), "service_time: must be > 0, got 0"),
        (lambda: theory.md1(2, 0.5), "rho: the queue is unstable (rho = 1 >= 1)"),
        (lambda: theory.mg1(-1, ev.Exponential(1)), "arrival_rate: must be > 0, got -1"),
        (lambda: theory.mg1(1, ev.Constant(0)), "service: its mean must be > 0"),
        (lambda: theory.mg1(1, -0.5), "service: must be >= 0, got -0.5"),
        (lambda: theory.mg1(30, ev.Exponential(0.05)), "rho: the queue is unstable (rho = 1.5"),
        (lambda: theory.partitioned_mm1(0, 1, [1]), "arrival_rate: must be > 0, got 0"),
        (lambda: theory.partitioned_mm1(1, 0, [1]), "service_rate: must be > 0, got 0"),
        (lambda: theory.partitioned_mm1(1, 1, []), "shares: expected a non-empty list"),
        (lambda: theory.partitioned_mm1(1, 1, [0, 0]), "shares: at least one share must be > 0"),
        (lambda: theory.partitioned_mm1(1, 1, [1, -1]), "shares[1]: must be >= 0, got -1"),
        (
            lambda: theory.partitioned_mm1(3, 1, [0.3, 0.3, 0.4]),
            "shares[2]: partition 2 is unstable (rho = 1.2 >= 1)",
        ),
        (lambda: theory.little(l=1), "little: give exactly two of l, arrival_rate, w (got 1: l)"),
        (lambda: theory.little(), "little: give exactly two of l, arrival_rate, w (got 0: none)"),
        (lambda: theory.little(l=1, arrival_rate=1, w=1), "(got 3: l, arrival_rate, w)"),
        (lambda: theory.little(arrival_rate=0, w=1), "arrival_rate: must be > 0, got 0"),
        (lambda: theory.little(l=1, arrival_rate=-2), "arrival_rate: must be > 0, got -2"),
        (lambda: theory.little(l=-1, w=1), "l: must be >= 0, got -1"),
        (lambda: theory.little(l=1, w=0), "w: must be > 0, got 0"),
        (lambda: theory.little(arrival_rate=1, w=-3), "w: must be >= 0, got -3"),
    ],
)
def test_bad_parameters_raise_config_errors_naming_the_argument(call, message):
    with pytest.raises(ev.ConfigError) as caught:
        call()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: theory.mm1("fast", 1), "arrival_rate: expected a number, got 'fast'"),
        (lambda: theory.mmc(1, 1, 2.0), "servers: expected a whole number, got 2.0"),
        (lambda: theory.mg1(1, "slow"), "service: expected a distribution"),
        (lambda: theory.partitioned_mm1(1, 1, [None]), "shares[0]: expected a number"),
        (lambda: theory.little(l="x", w=1), "l: expected a number, got 'x'"),
    ],
)
def test_wrong_types_raise_config_type_errors(call, message):
    with pytest.raises(ev.ConfigTypeError) as caught:
        call()
    assert message in str(caught.value)


def test_erlang_c_refuses_an_overloaded_system():
    with pytest.raises(ev.ConfigError, match=r"rho: the queue is unstable \(rho = 2 >= 1\)"):
        theory.erlang_c(offered_load=4.0, servers=2)


# --- utilisation ----------------------------------------------------------------------


def test_utilisation_is_offered_load_per_parallel_slot():
    assert theory.utilisation(50, 0.02, consumers=3, partitions=6) == pytest.approx(1 / 3)
    assert theory.utilisation(50, 0.08, consumers=3, partitions=6) == pytest.approx(4 / 3)
    assert theory.utilisation(50, ev.Exponential(mean=0.08), 5, 6) == pytest.approx(0.8)
    # consumers beyond the partitions idle; concurrency multiplies the slots
    assert theory.utilisation(50, 0.08, consumers=7, partitions=6) == pytest.approx(4 / 6)
    assert theory.utilisation(50, 0.08, consumers=2, partitions=6, concurrency=2) == 1.0
    assert theory.utilisation(50, 0.08, consumers=8) == pytest.approx(0.5)  # a queue


def test_utilisation_agrees_with_the_models_and_with_a_run():
    assert theory.utilisation(2.0, 1 / 3.0, consumers=3) == pytest.approx(
        theory.mmc(2.0, 3.0, 3).rho
    )
    sim = ev.Simulation(seed=3)
    sim.topic("t", partitions=4)
    sim.producer("p", "t", ev.Poisson(rate=40), "E", keys=ev.UniformKeys(1000))
    sim.consumer_group("g", "t", consumers=6, service_time=ev.Exponential(mean=0.05))
    measured = sim.run(until=300).summary().loc["g", "utilisation"]
    assert measured == pytest.approx(theory.utilisation(40, 0.05, 6, partitions=4), rel=0.05)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: theory.utilisation(-1, 0.1), "arrival_rate: must be >= 0, got -1"),
        (lambda: theory.utilisation(1, 0), "service_time: its mean must be > 0, got 0"),
        (lambda: theory.utilisation(1, 0.1, consumers=0), "consumers: must be >= 1, got 0"),
        (lambda: theory.utilisation(1, 0.1, 2, partitions=0), "partitions: must be >= 1, got 0"),
        (lambda: theory.utilisation(1, 0.1, 2, concurrency=0), "concurrency: must be >= 1"),
    ],
)
def test_utilisation_rejects_bad_input(call, message):
    with pytest.raises(ev.ConfigError, match=re.escape(message)):
        call()
