"""Smoke test of benchmarks/mm4.py: each implementation runs and is roughly right.

No timing assertions: speed is reported by `make bench`, never tested. The mean time in
system is checked at a lower load (λ = 2/s, ρ = 0.5) than the benchmark's (ρ = 0.9): at
ρ = 0.9 the mean over 2,000 customers has a standard deviation of about 30% of its value
(long busy periods), so a 25% band would fail for about a third of all seeds; at ρ = 0.5
it is about 4%.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

import evsim as ev

MM4_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "mm4.py"
EVENTS = 2_000


def load(script: str):
    """A script of benchmarks/ as a module."""
    path = MM4_PATH.with_name(script)
    spec = importlib.util.spec_from_file_location(f"evsim_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mm4():
    return load("mm4.py")


IMPLEMENTATIONS = ["evsim", "simpy", "ciw"]


def implementation(mm4, name):
    if name == "ciw":
        pytest.importorskip("ciw", reason="the bench extra (Ciw) is not installed")
    return mm4.IMPLEMENTATIONS[name]


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_the_benchmark_workload_runs(mm4, name):
    completed, mean_w = implementation(mm4, name)(EVENTS, 1)
    # about 2,000 Poisson arrivals (sd ~45), less the few still in the system at the end
    assert 0.9 * EVENTS < completed < 1.1 * EVENTS
    assert mean_w > mm4.SERVICE_MEAN / 2


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_mean_time_in_system_matches_mmc_theory(mm4, name):
    rate = 2.0
    completed, mean_w = implementation(mm4, name)(EVENTS, 7, arrival_rate=rate)
    assert completed > 0
    expected = ev.theory.mmc(rate, 1.0 / mm4.SERVICE_MEAN, mm4.SERVERS).w
    assert mean_w == pytest.approx(expected, rel=0.25)


def test_ratios_and_medians_come_out_of_a_tiny_run(mm4):
    names = ("evsim", "simpy")
    results = mm4.benchmark(events=500, rounds=2, names=names, log=lambda line: None)
    assert set(results["median_events_per_s"]) == set(names)
    assert all(rate > 0 for rate in results["median_events_per_s"].values())
    assert results["ratios"]["evsim/simpy"] > 0
    assert "evsim/simpy" in mm4.report(results)


def test_the_bytecode_count_attributes_evsim_work_to_its_modules(mm4):
    opcodes = load("opcodes.py")
    completed, counts = opcodes.count(mm4.run_evsim, 300, 1)
    modules = {module for module, _ in counts}
    assert completed > 0
    assert {"brokers/queue.py", "actors/consumer.py", "records/full.py"} <= modules
    # every customer costs at least its own publish, receive, attempt and outcome
    assert sum(counts.values()) / completed > 100


def test_the_instruction_count_is_the_marginal_cost_per_customer(tmp_path):
    instructions = load("instructions.py")
    fields = ["Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw"]
    fields += ["Bc", "Bcm", "Bi", "Bim"]

    def callgrind_file(name, values):
        path = tmp_path / name
        path.write_text(
            f"version: 1\nevents: {' '.join(fields)}\nsummary: {' '.join(map(str, values))}\n"
        )
        return instructions.totals(path)

    small = callgrind_file("small", [1000, 0, 0, 10, 10, 10, 1, 1, 1, 0, 5, 0, 5])
    large = callgrind_file("large", [3000, 0, 0, 30, 20, 20, 1, 1, 1, 0, 15, 0, 15])
    cost = instructions.per_customer(small, large, customers=10)
    # 200 instructions, 4 L1 misses, no last-level miss, 2 mispredictions per customer
    assert cost == {"Ir": 200.0, "cycles": 200.0 + 10 * 4 + 15 * 2}
    text = instructions.report({"evsim": cost, "ciw": {"Ir": 400.0, "cycles": 540.0}})
    assert "evsim/ciw" in text and "2.00x" in text
    with pytest.raises(ValueError, match="no summary line"):
        instructions.totals(
            tmp_path.joinpath("empty").with_suffix(".out").write_text("") or tmp_path / "empty.out"
        )


def test_the_ab_comparison_runs_each_tree_and_restores_evsim(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(MM4_PATH.parent))  # ab.py imports its sibling mm4.py
    ab = load("ab.py")
    root = MM4_PATH.parents[1]
    shutil.copytree(root / "evsim", tmp_path / "evsim")
    ran_from = []
    real = ab.events_per_second

    def spy(modules, events, seed):
        ran_from.append(Path(modules["evsim.brokers.queue"].__file__).parents[2])
        return real(modules, events, seed)

    monkeypatch.setattr(ab, "events_per_second", spy)
    ratios = ab.compare(root, tmp_path, pairs=2, events=300)
    assert len(ratios) == 2
    assert ran_from == [root, tmp_path, tmp_path, root]  # A then B, then B then A
    import evsim.records

    assert sys.modules["evsim"] is ev and evsim.records.OUTCOMES is ev.records.OUTCOMES
    assert ab.mm4.ev is ev


@pytest.mark.parametrize("name", ["queue", "topic", "faulty"])
def test_each_memory_workload_runs_in_both_recording_modes(name):
    sys.path.insert(0, str(MM4_PATH.parent))  # workloads.py imports its sibling mm4.py
    try:
        workloads = load("workloads.py")
    finally:
        sys.path.remove(str(MM4_PATH.parent))
    run = workloads.WORKLOADS[name]
    full, summary = run(2_000, 3, "full"), run(2_000, 3, "summary")
    assert full[0] == summary[0] > 1_000
    assert summary[1] == pytest.approx(full[1], rel=1e-9)


def test_memory_verdicts_judge_each_workload_flat_or_not():
    memory = load("memory.py")
    mb = memory.MB
    cases = [{"case": "full", "workload": "queue", "net_bytes": 300 * mb}]
    for name, short, long in (("queue", 3, 3.2), ("topic", 20, 40)):
        cases += [
            {"case": "summary", "workload": name, "events": 1_000, "net_bytes": short * mb},
            {"case": "summary", "workload": name, "events": 10_000, "net_bytes": long * mb},
        ]
    verdict = memory.verdicts(cases)
    assert verdict["full_met"] and verdict["summary"]["queue"]["met"]
    assert not verdict["summary"]["topic"]["met"] and not verdict["flat_met"]


def test_the_service_pool_matches_mmc_theory_on_both_sides():
    service_pool = load("service_pool.py")
    rate = 2.0  # ρ = 0.5, as above
    expected = ev.theory.mmc(rate, 1.0, 4).w
    for run in (service_pool.run_service, service_pool.mm4.run_simpy):
        completed, mean_w = run(EVENTS, 7, rate)
        assert completed > 0.9 * EVENTS
        assert mean_w == pytest.approx(expected, rel=0.25)


def test_the_order_flow_answers_its_orders_and_accounts_for_every_request():
    order_flow = load("order_flow.py")
    result = order_flow.build(3).run(until=20)
    result.check()
    row = result.summary().loc["shop"]
    assert row["requests"] > 0.8 * order_flow.RATE * 20 and row["availability"] > 0.99
    callees = set(result.calls.query("caller == 'orders'")["callee"])
    assert callees == {"payment", "inventory", "notification"}
