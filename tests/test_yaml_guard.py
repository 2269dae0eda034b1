"""Hostile or mistaken scenario input is refused with a ScenarioError, never a hang, a
MemoryError or a RecursionError (evsim.scenario.yaml_guard). Inputs that hung before run in a child
process with a timeout (tests/bounded.py)."""

from __future__ import annotations

import os
from pathlib import Path

import bounded
import pytest

import evsim as ev
from evsim import limits


def only_problem(source) -> tuple[str, int | None, str]:
    with pytest.raises(ev.ScenarioError) as raised:
        ev.load_scenario(source)
    [problem] = raised.value.problems
    return problem


def alias_bomb(levels: int = 9) -> str:
    """A "billion laughs": 9 ** levels values from under 500 bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    """Before, the loader followed every alias: 9**9 values, without end."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert len(path.read_bytes()) < 1024
    out = bounded.raised(f"import evsim as ev\nev.load_scenario({str(path)!r})")
    assert out == (
        f"ScenarioError: {path}: 1 problem: line 6: more than 100,000 values, counting each "
        "use of an alias as all it names (evsim.limits.MAX_NODES); pass large data such as "
        "ev.Replay(times) in Python after loading the rest"
    )


def test_a_deep_list_is_refused_not_a_recursion_error():
    assert only_problem("x: " + "[" * 50_000 + "]" * 50_000) == (
        "",
        1,
        "nested deeper than 100 levels (evsim.limits.MAX_DEPTH; a scenario needs about 7)",
    )


def test_nesting_through_aliases_counts_the_nesting_each_alias_brings():
    lines = ["b0: &b0 " + "[" * 60 + "]" * 60]
    for i in range(1, 20):
        lines.append(f"b{i}: &b{i} " + "[" * 60 + f"*b{i - 1}" + "]" * 60)
    _, line, message = only_problem("\n".join(lines))
    assert line == 2 and message.startswith("nested deeper than 100 levels")


def test_deep_json_and_dicts_are_refused_without_recursion():
    deep = '{"topics": ' + "[" * 50_000 + "]" * 50_000 + "}"
    assert only_problem(deep)[2].startswith("nested deeper than 100 levels")
    looped: dict = {"topics": []}
    looped["topics"].append(looped)  # contains itself
    assert only_problem(looped)[2].startswith("nested deeper than 100 levels")
    shared = [list(range(1000))] * 200  # 200,000 values held once
    assert only_problem({"topics": shared})[2].startswith("more than 100,000 values")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    """Before, reading it waited for a writer that never came."""
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    out = bounded.raised(f"import evsim as ev\nev.load_scenario({str(fifo)!r})")
    assert out.endswith("1 problem: cannot read the file: not a regular file (a named pipe)")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_behind_a_scenario_path_is_refused(tmp_path):
    """Before, /dev/zero was read until memory ran out (MemoryError)."""
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    out = bounded.raised(f"import evsim as ev\nev.load_scenario({str(link)!r})")
    assert out.endswith("not a regular file (a character device)")


def test_a_directory_and_a_file_too_large_are_refused(tmp_path, monkeypatch):
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert only_problem(folder)[2] == "cannot read the file: not a regular file (a directory)"
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.yaml"
    big.write_text("# a comment\n" * 100 + "duration: 5\n")
    assert only_problem(big)[2].startswith("the file is larger than 1,000 bytes")
    assert only_problem("# x\n" * 300 + "a: 1")[2].startswith("the text is longer than 1,000")


def test_integers_too_long_for_python_are_scenario_errors():
    assert "not valid YAML: Exceeds the limit" in only_problem("duration: " + "1" * 5000)[2]
    assert "not valid JSON: Exceeds the limit" in only_problem('{"a": ' + "1" * 5000 + "}")[2]


def test_sound_aliases_and_large_data_below_the_limits_still_load():
    text = (
        "duration: 5\n"
        "topics: [{name: t, partitions: 2}]\n"
        "x-service: &service {exponential: {mean: 0.01}}\n"
        "consumer_groups:\n"
        "  - {name: a, source: t, service_time: *service}\n"
        "  - {name: b, source: t, service_time: *service, consumers: 0}\n"
    )
    with pytest.raises(ev.ScenarioError) as raised:
        ev.load_scenario(text)
    problems = raised.value.problems
    assert ("x-service", 3, problems[0][2]) == problems[0]  # an unknown section, with its line
    assert problems[1][:2] == ("consumer_groups[1].consumers", 6)
    times = ", ".join(str(i / 100) for i in range(50_000))
    sim = ev.load_scenario(
        f"topics: [{{name: t}}]\n"
        f"producers: [{{name: p, target: t, arrivals: {{replay: {{times: [{times}]}}}}}}]\n"
    )
    assert sim.producers["p"].arrivals.expected_count(0, 10) == 1000


def test_the_guard_works_without_libyaml(monkeypatch):
    from evsim.scenario import yaml_guard

    monkeypatch.setattr(yaml_guard, "_FAST_LOADER", yaml_guard.yaml.SafeLoader)
    assert only_problem(alias_bomb())[2].startswith("more than 100,000 values")
