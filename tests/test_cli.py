"""The evsim command, run as a user would: exit codes, files written, stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bounded
import pandas as pd
import pytest

from evsim import cli, cli_lessons, cli_run
from evsim.errors import SimulationStateError
from evsim.result import SUMMARY_COLUMNS, AccountingError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
ORDER_FLOW = str(SCENARIOS / "order_flow.yaml")


def evsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evsim.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
    )


def assert_clear_error(run: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit status 2, one ``evsim: error:`` line on stderr, no traceback."""
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("evsim: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_run_prints_the_summary_and_writes_the_tables(tmp_path):
    out = tmp_path / "out"
    run = evsim("run", ORDER_FLOW, "--until", "10", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "notification-service" in run.stdout and "inventory-service" in run.stdout
    assert "latency_p95" in run.stdout
    for name in ("events", "deliveries", "attempts", "timeseries", "summary"):
        assert (out / f"{name}.csv").is_file()
    summary = pd.read_csv(out / "summary.csv", index_col="group")
    assert list(summary.index) == ["notification-service", "inventory-service"]
    events = pd.read_csv(out / "events.csv")
    assert set(events["event_type"]) == {"OrderCreated", "PaymentProcessed"}
    appended = events["offset"].notna()
    orders = (appended & (events["event_type"] == "OrderCreated")).sum()
    # notification gets every appended event, inventory only the orders
    assert summary.loc["notification-service", "routed"] == appended.sum()
    assert summary.loc["inventory-service", "routed"] == orders


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``cli.main(args)`` in this process (no interpreter start-up): status, stdout, stderr."""
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_run_with_the_same_seed_prints_the_same_table(capsys):
    first = in_process(capsys, "run", ORDER_FLOW, "--until", "5", "--seed", "3")
    second = in_process(capsys, "run", ORDER_FLOW, "--until", "5", "--seed", "3")
    other = in_process(capsys, "run", ORDER_FLOW, "--until", "5", "--seed", "4")
    assert first[0] == second[0] == other[0] == 0
    assert first[1] == second[1] != other[1]
    assert "seed 3" in first[1]


@pytest.mark.parametrize("width", [80, 120])
def test_run_prints_the_summary_at_the_terminals_width(capsys, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))  # what shutil.get_terminal_size() reads first
    status, out, _ = in_process(capsys, "run", ORDER_FLOW, "--until", "5")
    assert status == 0
    lines = out.splitlines()
    assert max(map(len, lines)) <= width
    table = out.split("\n", 1)[1]  # after the "... s simulated" line
    for column in SUMMARY_COLUMNS:  # none left out ("...") to fit
        assert column in table
    blocks = [b for b in table.split("\n\n") if b.strip()]
    assert len(blocks) > 1  # wrapped into blocks of columns
    for block in blocks:  # each block names its rows
        assert "notification-service" in block and "inventory-service" in block


def test_sweep_means_label_the_swept_parameter_in_every_block(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    path = "consumer_groups[0].consumers"
    status, out, _ = in_process(
        capsys, "sweep", ORDER_FLOW, "--param", f"{path}=3,4", "--until", "3", "--jobs", "1"
    )
    assert status == 0
    assert max(map(len, out.splitlines())) <= 100
    blocks = [b for b in out.split("\n", 1)[1].split("\n\n") if b.strip()]
    assert len(blocks) > 1
    for block in blocks:
        header = block.splitlines()[1]  # the index names: the parameter, then the group
        assert header.split()[:2] == [path, "group"]
        values = [line.split()[0] for line in block.splitlines()[2:] if line[0] != " "]
        assert values == ["3", "4"]


def test_the_installed_command_runs(tmp_path):
    script = Path(sys.executable).with_name("evsim")
    if not script.exists():
        pytest.skip("evsim is not installed beside this Python (pip install -e .)")
    run = subprocess.run(
        [str(script), "run", str(SCENARIOS / "event_storm.yaml"), "--until", "5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "fraud-check" in run.stdout


def test_a_missing_file_exits_2(tmp_path):
    assert_clear_error(evsim("run", str(tmp_path / "nowhere.yaml")), "cannot read the file")


def test_malformed_yaml_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  - name: x\n   partitions: 2\n")
    assert_clear_error(evsim("run", str(bad)), "line 3", "not valid YAML")


def test_an_invalid_field_exits_2_naming_path_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("duration: 5\ntopics:\n  - name: t\n    partitions: 0\n")
    assert_clear_error(evsim("run", str(bad)), "line 4: topics[0].partitions: must be >= 1")


def test_several_problems_come_one_per_line_after_a_count(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "duration: 5\n"
        "topics: [{name: t, partitons: 2}]\n"
        "producers: [{name: p, target: nowhere, arrivals: {poisson: {rate: 1}}}]\n"
    )
    run = evsim("run", str(bad))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0] == f"evsim: error: {bad}: 2 problems:"
    assert lines[1].startswith("  line 2: topics[0].partitons: unknown field")
    assert lines[2].startswith("  line 3: producers[0].target: no topic")


def test_no_duration_and_a_bad_until_exit_2(tmp_path, capsys):
    short = tmp_path / "short.yaml"
    short.write_text("topics: [{name: t}]\n")
    assert_clear_error(evsim("run", str(short)), "no duration", "--until")
    status, _, err = in_process(capsys, "run", ORDER_FLOW, "--until", "-1")
    assert (status, err) == (2, "evsim: error: --until: must be > 0 seconds, got -1\n")


def test_sweep_runs_every_point_and_writes_its_table(tmp_path):
    out = tmp_path / "sweep"
    run = evsim(
        "sweep",
        str(SCENARIOS / "event_storm.yaml"),
        "--param",
        "consumer_groups[1].consumers=2,3",
        "--replications",
        "2",
        "--until",
        "5",
        "--jobs",
        "2",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert "consumer_groups[1].consumers" in run.stdout
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 2 * 2 * 2  # points x replications x groups
    assert set(table["consumer_groups[1].consumers"]) == {2, 3}
    assert set(table["group"]) == {"fraud-check", "email-service"}
    # common random numbers: replication r has the same seed at every point
    seeds = table.groupby("replication")["seed"].nunique()
    assert (seeds == 1).all()


def test_sweep_of_a_spec_parameter_runs_in_this_process(capsys):
    rate = "producers[0].arrivals.poisson.rate"
    status, out, _ = in_process(
        capsys, "sweep", ORDER_FLOW, "--param", f"{rate}=20,40", "--until", "3", "--jobs", "1"
    )
    assert status == 0
    assert rate in out and "inventory-service" in out


def test_a_sweep_of_a_request_scenario_compares_services_and_clients(capsys, tmp_path):
    workers = "services[2].workers"  # inventory-a's
    status, out, _ = in_process(
        capsys, "sweep", str(SCENARIOS / "order_api.yaml"), "--param", f"{workers}=4,8",
        "--until", "20", "--jobs", "1", "--metric", "availability", "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 0
    assert "availability" in out and "goodput" in out
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert {"web", "orders", "payment"} <= set(table["name"])
    assert (tmp_path / "sweep.png").exists()


def test_sweep_refuses_an_unknown_path():
    run = evsim("sweep", ORDER_FLOW, "--param", "consumer_groups[9].consumers=1,2")
    assert_clear_error(run, "--param consumer_groups[9].consumers", "has 2 entries")


@pytest.mark.parametrize(
    ("param", "fragment"),
    [
        ("producers[0].arrivals.poison.rate=1,2", "did you mean 'poisson'"),
        ("consumer_groups[0].consumrs=1,2", "consumer_groups[0].consumrs: unknown field"),
        ("consumer_groups[0].consumers=0,2", "consumers=0: 1 problem:"),
        ("consumers", "expected PATH=V1,V2"),
        ("seed=1,2", "--replications"),
        ("topics.0.partitions=1", "topics is not a mapping"),
    ],
)
def test_sweep_refuses_bad_params(capsys, param, fragment):
    status, out, err = in_process(capsys, "sweep", ORDER_FLOW, "--param", param, "--until", "1")
    assert status == 2 and out == ""
    assert err.startswith("evsim: error: ") and err.count("\n") == 1
    assert fragment in err


def test_lessons_finds_the_notebooks():
    run = evsim("lessons", "--dry-run")
    if run.returncode == 1 and "JupyterLab is not installed" in run.stderr:
        pytest.skip("JupyterLab is not installed")
    assert run.returncode == 0, run.stderr
    assert " lab " in run.stdout
    assert run.stdout.split()[2] == str(ROOT / "notebooks")


def test_lessons_without_jupyter_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr(cli_lessons, "find_jupyter", lambda: None)
    assert cli.main(["lessons"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evsim: error: JupyterLab is not installed")
    assert "pip install" in err


@pytest.mark.parametrize("command", [[], ["run"], ["sweep"], ["lessons"]])
def test_help_for_every_command(command, capsys):
    assert cli.main([*command, "--help"]) == 0
    assert "usage: evsim" in capsys.readouterr().out


def test_usage_errors_return_2(capsys):
    assert cli.main([]) == 2
    assert cli.main(["run"]) == 2
    assert cli.main(["sweep", ORDER_FLOW]) == 2  # --param is required
    assert "required" in capsys.readouterr().err


# --- every error on one line, exit 2 ------------------------------------------------------


def one_line(err: str) -> str:
    assert err.startswith("evsim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "usage:" not in err
    return err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "the following arguments are required: COMMAND (see: evsim --help)"),
        (["run"], "run: the following arguments are required: SCENARIO (see: evsim run --help)"),
        (["rn", "x"], "invalid choice: 'rn'"),
        (["run", ORDER_FLOW, "--until", "soon"], "run: argument --until: invalid float value"),
        (["sweep", ORDER_FLOW, "--jobs", "two"], "sweep: argument --jobs: invalid int value"),
    ],
)
def test_argparse_errors_are_one_line_without_the_usage_text(capsys, argv, fragment):
    status, out, err = in_process(capsys, *argv)
    assert status == 2 and out == ""
    assert fragment in one_line(err)


@pytest.mark.parametrize(
    ("error", "status", "fragment"),
    [
        (MemoryError(), 2, "out of memory: this run needs more than the machine has"),
        (RecursionError("maximum recursion depth exceeded"), 2, "nested too deeply"),
        (ZeroDivisionError("float division"), 2, "unexpected ZeroDivisionError: float div"),
        (OSError(28, "No space left on device", "out/events.csv"), 2, "out/events.csv: No sp"),
        (SimulationStateError("two\nlines"), 2, "evsim: error: two lines"),
        (KeyboardInterrupt(), 130, "evsim: error: interrupted"),
        (AccountingError("g: 3 routed, 2 outcomes"), 1, "(a bug in evsim: please report it)"),
    ],
)
def test_every_error_class_is_reported_on_one_line(monkeypatch, capsys, error, status, fragment):
    def fail(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(cli_run, "read_source", fail)
    code, _, err = in_process(capsys, "run", ORDER_FLOW, "--until", "1")
    assert code == status
    assert fragment in one_line(err)


def test_out_is_checked_before_the_run(tmp_path, capsys):
    """Before, the run went ahead and its tables were lost to FileExistsError (exit 1)."""
    afile = tmp_path / "taken.txt"
    afile.write_text("mine")
    for out, fragment in ((afile, "is a file"), (afile / "sub", "is under")):
        status, stdout, err = in_process(
            capsys, "run", ORDER_FLOW, "--until", "1", "--out", str(out)
        )
        assert status == 2 and stdout == ""  # nothing ran
        assert fragment in one_line(err)
    status, _, err = in_process(capsys, "sweep", ORDER_FLOW, "--param", "consumer_groups[0]"
                                ".consumers=1", "--until", "1", "--out", str(afile))  # fmt: skip
    assert status == 2 and "is a file" in one_line(err)
    assert afile.read_text() == "mine"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_an_out_without_write_permission_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    status, _, err = in_process(capsys, "run", ORDER_FLOW, "--out", str(locked / "new"))
    assert status == 2 and "permission denied" in one_line(err)


def test_a_run_too_large_is_refused_with_the_way_past(capsys):
    """Before, a run of 1e9 simulated seconds went on for days (children with a timeout)."""
    run = bounded.run(["-m", "evsim.cli", "run", ORDER_FLOW, "--until", "1e9"])
    assert_clear_error(run, "over max_events=10,000,000", "--max-events N")
    param = "consumer_groups[0].consumers=1,2"
    sweep = bounded.run(
        ["-m", "evsim.cli", "sweep", ORDER_FLOW, "--param", param, "--until", "1e9"]
    )
    assert_clear_error(sweep, "consumers=1: run: 1e+09 s would take about")
    status, _, err = in_process(capsys, "run", ORDER_FLOW, "--until", "2", "--max-events", "50")
    assert status == 2 and "max_events=50;" in one_line(err)
    assert in_process(capsys, "run", ORDER_FLOW, "--until", "2", "--max-events", "10000")[0] == 0


def hostile(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_hostile_files_exit_2_on_one_line_instead_of_hanging(tmp_path):
    """Each hung or printed a traceback before; each child is killed after a timeout."""
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)
    ]
    loop = (
        "duration: 5\ntopics: [{name: t}]\n"
        "producers: [{name: p, target: t, arrivals: {periodic: {interval: 1}}}]\n"
        "consumer_groups: [{name: g, source: t, faults: [{poison_events: {p: 1}}],\n"
        "                   retry: {max_attempts: 1000000000}}]\n"
    )
    cases = [
        (hostile(tmp_path, "bomb.yaml", "\n".join(bomb)), "more than 100,000 values"),
        (hostile(tmp_path, "deep.yaml", "x: " + "[" * 50_000 + "]" * 50_000), "nested deeper"),
        (hostile(tmp_path, "loop.yaml", loop), "no progress in simulated time"),
    ]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.yaml")
        cases.append((str(tmp_path / "pipe.yaml"), "not a regular file (a named pipe)"))
    for path, fragment in cases:
        assert_clear_error(bounded.run(["-m", "evsim.cli", "run", path]), fragment)


def test_a_hostile_param_value_is_one_line(capsys):
    deep = "[" * 50_000 + "]" * 50_000
    status, _, err = in_process(
        capsys, "sweep", ORDER_FLOW, "--param", f"consumer_groups[0].consumers={deep}"
    )
    assert status == 2 and "nested deeper than 100 levels" in one_line(err)
