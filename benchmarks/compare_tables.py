"""Snapshot every table of every shipped scenario and benchmark workload; compare snapshots.

A refactoring must not change behaviour: the same model and seed give the same tables. This
tool runs the checkout's scenario files and benchmark workloads and pickles everything the
:class:`evsim.Result` offers; ``compare`` then holds two snapshots against each other
exactly (values, dtypes, index and columns)::

    git worktree add /work/base dc81c1d
    PYTHONPATH=/work/base python benchmarks/compare_tables.py snapshot \\
        --checkout /work/base build/tables-base
    PYTHONPATH=/work/main python benchmarks/compare_tables.py snapshot \\
        --checkout /work/main build/tables-main
    python benchmarks/compare_tables.py compare build/tables-base build/tables-main

``PYTHONPATH`` must name the checkout under test (an editable install points elsewhere):
``snapshot`` refuses to run when the imported evsim is not the checkout's, and writes
``evsim.__file__`` into the manifest. Only ``import evsim as ev`` public names are used, so
the script runs against any checkout with that API; the workload builders are imported from
the checkout's own ``benchmarks/`` folder (``--checkout``, default this file's
``../..``).

What runs (the same run ids on every checkout, so runs pair up):

- ``scenario/<file>``: each ``data/scenarios/*.yaml|yml|json`` through ``ev.load_scenario``
  and ``sim.run(until=sim.duration)`` (as ``evsim run`` does), with the file's own seed and
  each ``--seeds`` override, recorded as the file says and again with
  ``record: summary``.
- ``aws/<file>``: each ``data/aws/*.json`` through ``ev.from_aws``. Such a config has
  topology only, so this tool adds a Poisson producer per event type named in the filter
  policies (and one matching none) per fanout, and a consumer group with transient errors
  per queue that is no queue's dead-letter target.
- ``workload/<name>``: every entry of ``workloads.WORKLOADS`` (the memory benchmark) with
  record ``full`` and ``summary``, and the evsim entries of ``mm4.IMPLEMENTATIONS`` (the
  speed benchmark), for ``--events`` events. The builders run and read their Result
  themselves; ``ev.Simulation.run`` is wrapped while they run to keep the Result.

Per run, every public name of ``ev.Result`` that is a property or a method taking no
argument (events, deliveries, attempts, timeseries, summary(), accounting(), loads,
check(), to_prometheus(), ...) is read and pickled with ``pandas.to_pickle``; one that
raises is kept as its exception (type and message). The Result's public plain-data
attributes (until, warmup, config, groups) and a workload's return value are compared
too, but reported as notes: they are not tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import math
import pickle
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypedDict

import pandas as pd

if TYPE_CHECKING:  # for annotations only: the functions are handed the module (``api``),
    import evsim as ev  # imported at run time once sys.path names the checkout

HERE = Path(__file__).resolve().parent
DEFAULT_CHECKOUT = HERE.parent
DEFAULT_SEEDS = (1, 2)
DEFAULT_EVENTS = 20_000
DEFAULT_UNTIL = 300.0  # seconds, for a scenario file without a duration
RECORDS = ("full", "summary")
AWS_UNTIL = 600.0  # seconds
MANIFEST = "manifest.json"
ATTRIBUTES = "attributes"  # the file of a run's plain-data attributes (compared as notes)
PLAIN = (type(None), bool, int, float, str, list, tuple, dict)

# --- snapshot -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    """One run: its id (the same on every checkout) and how to get its Result."""

    run_id: str
    build: Callable[[], tuple[ev.Result, Any]]  # the Result, and what the builder returned


class Missing(Exception):
    """A run's builder does not exist in this checkout."""


def _import_evsim(checkout: Path) -> ModuleType:
    """``evsim``, after checking it is the one in ``checkout``."""
    api = importlib.import_module("evsim")
    where = Path(api.__file__ or "").resolve()
    if not where.is_relative_to(checkout.resolve()):
        raise SystemExit(
            f"snapshot: evsim was imported from {where}, not from the checkout {checkout}; "
            f"run with PYTHONPATH={checkout}"
        )
    return api


def _benchmark_module(checkout: Path, name: str) -> ModuleType:
    """The module ``name`` of the checkout's ``benchmarks/`` folder."""
    folder = checkout / "benchmarks"
    if not (folder / f"{name}.py").is_file():
        raise Missing(f"benchmarks/{name}.py not in {checkout}")
    module = importlib.import_module(name)
    if Path(module.__file__ or "").resolve().parent != folder.resolve():
        raise SystemExit(f"snapshot: {name} imported from {module.__file__}, not from {folder}")
    return module


def _use_checkout_benchmarks(checkout: Path) -> None:
    """Import benchmark modules from ``checkout/benchmarks``, not this script's folder."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(checkout / "benchmarks"))


@contextmanager
def kept_results(api: ModuleType) -> Iterator[list[ev.Result]]:
    """Every Result ``ev.Simulation.run`` returns inside the block, in order."""
    kept: list[ev.Result] = []
    original = api.Simulation.run

    @functools.wraps(original)
    def run(self: ev.Simulation, *args: Any, **kwargs: Any) -> ev.Result:
        result: ev.Result = original(self, *args, **kwargs)
        kept.append(result)
        return result

    setattr(api.Simulation, "run", run)  # noqa: B010 (a method replaced for the block)
    try:
        yield kept
    finally:
        setattr(api.Simulation, "run", original)  # noqa: B010


def _through_builder(api: ModuleType, builder: Callable[[], Any]) -> tuple[ev.Result, Any]:
    """Call ``builder`` and return the one Result it produced, and its return value."""
    with kept_results(api) as kept:
        returned = builder()
    if len(kept) != 1:
        raise RuntimeError(f"the builder ran {len(kept)} simulations, expected 1")
    return kept[0], returned


def _read_document(path: Path) -> dict[str, Any]:
    import yaml

    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a mapping")
    return document


def scenario_runs(
    api: ModuleType, checkout: Path, seeds: Sequence[int], until: float
) -> Iterator[Run]:
    """The shipped scenario files, each with its own seed and every override, recorded as
    the file says and in summary mode."""
    folder = checkout / "data" / "scenarios"
    files = sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml", ".json"))
    for path in files:
        for seed in (None, *seeds):
            for record in ("as-file", "summary"):

                def build(
                    path: Path = path, seed: int | None = seed, record: str = record
                ) -> tuple[ev.Result, Any]:
                    source: Any = path
                    if record == "summary":
                        source = {**_read_document(path), "record": "summary"}
                    sim = api.load_scenario(source, seed=seed)
                    duration = sim.duration if sim.duration is not None else until
                    return sim.run(until=duration), {"seed": sim.seed, "until": duration}

                seed_name = "file" if seed is None else str(seed)
                yield Run(f"scenario/{path.name}/seed={seed_name}/record={record}", build)


def _aws_event_types(sim: ev.Simulation, fanout: str) -> list[str]:
    types: set[str] = set()
    for subscription in sim.fanouts[fanout].subscriptions:
        policy = subscription.filter_policy or {}
        types.update(v for v in policy.get("eventType", []) if isinstance(v, str))
    return [*sorted(types), "UnmatchedEvent"]


def aws_runs(api: ModuleType, checkout: Path, seeds: Sequence[int]) -> Iterator[Run]:
    """The shipped AWS configs (topology only), with producers and consumers added."""
    for path in sorted((checkout / "data" / "aws").glob("*.json")):
        for seed in seeds:

            def build(path: Path = path, seed: int = seed) -> tuple[ev.Result, Any]:
                sim = api.from_aws(path, seed=seed)
                for fanout in sorted(sim.fanouts):
                    for event_type in _aws_event_types(sim, fanout):
                        sim.producer(
                            f"{fanout}-{event_type}",
                            fanout,
                            api.Poisson(rate=1.0),
                            event_type=event_type,
                        )
                targets = {q.dead_letter.name for q in sim.queues.values() if q.dead_letter}
                for name in sorted(set(sim.queues) - targets):
                    sim.consumer_group(
                        f"{name}-consumers",
                        name,
                        consumers=2,
                        service_time=api.Exponential(0.5),
                        faults=[api.TransientErrors(p=0.3)],
                    )
                return sim.run(until=AWS_UNTIL), None

            yield Run(f"aws/{path.name}/seed={seed}", build)


def workload_runs(
    api: ModuleType, checkout: Path, seeds: Sequence[int], events: int
) -> Iterator[Run]:
    """The benchmark workloads: ``workloads.WORKLOADS`` in both record modes, and the evsim
    implementations of ``mm4.IMPLEMENTATIONS``. A module the checkout lacks gives one run
    that fails with :class:`Missing`."""
    try:
        workloads = _benchmark_module(checkout, "workloads")
    except Missing as err:
        yield Run("workload/workloads.py", _raiser(err))
    else:
        for name, function in workloads.WORKLOADS.items():
            for record in RECORDS:
                for seed in seeds:

                    def build(
                        function: Callable[..., Any] = function,
                        seed: int = seed,
                        record: str = record,
                    ) -> tuple[ev.Result, Any]:
                        return _through_builder(api, lambda: function(events, seed, record))

                    yield Run(f"workload/workloads.{name}/record={record}/seed={seed}", build)
    try:
        mm4 = _benchmark_module(checkout, "mm4")
    except Missing as err:
        yield Run("workload/mm4.py", _raiser(err))
    else:
        for name, function in mm4.IMPLEMENTATIONS.items():
            if not name.startswith("evsim"):
                continue  # SimPy and Ciw: no evsim Result
            for seed in seeds:

                def build_mm4(
                    function: Callable[..., Any] = function, seed: int = seed
                ) -> tuple[ev.Result, Any]:
                    return _through_builder(api, lambda: function(events, seed))

                yield Run(f"workload/mm4.{name}/seed={seed}", build_mm4)


def _raiser(err: Exception) -> Callable[[], tuple[ev.Result, Any]]:
    def build() -> tuple[ev.Result, Any]:
        raise err

    return build


def result_names(api: ModuleType) -> dict[str, str]:
    """The public names of ``ev.Result`` that can be read without arguments, each with how
    it is read (``property`` or ``method``); the others with ``skipped: <why>``."""
    names: dict[str, str] = {}
    for name in sorted(dir(api.Result)):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(api.Result, name)
        if isinstance(static, property | functools.cached_property):
            names[name] = "property"
        elif inspect.isfunction(static):
            parameters = list(inspect.signature(static).parameters.values())[1:]
            required = [
                p.name
                for p in parameters
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
            names[name] = f"skipped: needs {', '.join(required)}" if required else "method"
        else:
            names[name] = f"skipped: a {type(static).__name__}"
    return names


def _as_table(value: Any) -> Any:
    """A list of dataclass instances (``loads``) as a DataFrame, with their properties."""
    if (
        isinstance(value, list)
        and value
        and all(dataclasses.is_dataclass(v) and not isinstance(v, type) for v in value)
    ):
        rows = []
        for item in value:
            row = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
            for name, member in inspect.getmembers(type(item)):
                if isinstance(member, property) and not name.startswith("_"):
                    row[name] = getattr(item, name)
            rows.append(row)
        return pd.DataFrame(rows)
    return value


def _to_pickle(value: Any, path: Path) -> None:
    """A DataFrame or Series with its own ``to_pickle``, anything else as pandas pickles it."""
    if isinstance(value, pd.DataFrame | pd.Series):
        value.to_pickle(path)
    else:
        with path.open("wb") as file:
            pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)


def _kind(value: Any) -> str:
    if isinstance(value, pd.DataFrame):
        return "frame"
    if isinstance(value, pd.Series):
        return "series"
    return "object"


def _slug(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "__", run_id)


def _error(err: BaseException) -> dict[str, str]:
    return {"type": type(err).__name__, "message": str(err)}


def snapshot_run(run: Run, names: dict[str, str], out: Path) -> dict[str, Any]:
    """Run ``run``, pickle its outputs under ``out``; its manifest entry."""
    folder = out / _slug(run.run_id)
    entry: dict[str, Any] = {"run_id": run.run_id, "folder": folder.name}
    started = time.perf_counter()
    try:
        result, returned = run.build()
    except Missing as err:
        entry.update(status="missing", error=_error(err))
        return entry
    except Exception as err:
        entry.update(status="error", error=_error(err))
        return entry
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, dict[str, Any]] = {}
    for name, how in names.items():
        if how.startswith("skipped"):
            continue
        try:
            value = getattr(result, name)
            if how == "method":
                value = value()
        except Exception as err:
            tables[name] = {"kind": "error", "error": _error(err)}
            continue
        value = _as_table(value)
        file = f"{name}.pkl"
        _to_pickle(value, folder / file)
        described: dict[str, Any] = {"kind": _kind(value), "file": file}
        if isinstance(value, pd.DataFrame | pd.Series):
            described["shape"] = list(value.shape)
        tables[name] = described
    public = {  # instance attributes; not the cached tables (compared above)
        k: v for k, v in vars(result).items() if not k.startswith("_") and k not in names
    }
    plain = {k: v for k, v in public.items() if isinstance(v, PLAIN)}
    plain["returned by the builder"] = returned
    _to_pickle(plain, folder / f"{ATTRIBUTES}.pkl")
    entry.update(
        status="ok",
        seconds=round(time.perf_counter() - started, 3),
        tables=tables,
        attributes=sorted(plain),
        attributes_not_compared=sorted(set(public) - set(plain)),
    )
    return entry


def _git(checkout: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), *args], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def _dirty(checkout: Path) -> bool | None:
    """Whether tracked files differ from the commit (None: not a git checkout)."""
    status = _git(checkout, "status", "--porcelain", "--untracked-files=no")
    return None if status == "unknown" else bool(status)


def _diff_sha1(checkout: Path) -> str:
    return hashlib.sha1(_git(checkout, "diff", "HEAD").encode()).hexdigest()


def snapshot(args: argparse.Namespace) -> int:
    checkout: Path = args.checkout.resolve()
    out: Path = args.out_dir
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"snapshot: {out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    _use_checkout_benchmarks(checkout)
    diff_at_start = _diff_sha1(checkout)
    api = _import_evsim(checkout)
    names = result_names(api)
    seeds: list[int] = args.seeds
    runs = [
        *scenario_runs(api, checkout, seeds, args.until),
        *aws_runs(api, checkout, seeds),
        *workload_runs(api, checkout, seeds, args.events),
    ]
    started = time.perf_counter()
    entries = []
    for run in runs:
        entry = snapshot_run(run, names, out)
        note = entry.get("error", {}).get("message", "")
        print(f"{entry['status']:8} {run.run_id} {entry.get('seconds', '')} {note}".rstrip())
        entries.append(entry)
    manifest = {
        "checkout": str(checkout),
        "commit": _git(checkout, "rev-parse", "HEAD"),
        "dirty": _dirty(checkout),
        "diff_sha1": _diff_sha1(checkout),  # of the uncommitted changes, at the end
        "diff_sha1_at_start": diff_at_start,
        "evsim_file": api.__file__,
        "evsim_version": api.__version__,
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "argv": sys.argv,
        "seeds": seeds,
        "events": args.events,
        "result_names": names,
        "seconds": round(time.perf_counter() - started, 1),
        "runs": entries,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    failed = sum(e["status"] != "ok" for e in entries)
    if manifest["diff_sha1"] != diff_at_start:
        print(f"snapshot: WARNING: the files of {checkout} changed while it ran")
    print(f"snapshot: {len(entries)} runs ({failed} not ok) of {api.__file__} into {out}")
    return 0


# --- compare ------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN, containers compared item by item."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if a is pd.NA or b is pd.NA:
        return a is b
    try:
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError):  # arrays and the like
        return repr(a) == repr(b)


def _one_line(err: AssertionError) -> str:
    """pandas' complaint on one line, without its listing of the whole index."""
    return re.sub(r"\[index\]: \[[^\]]*\]\s*", "", " ".join(str(err).split()))


class _Exact(TypedDict):
    check_exact: bool
    check_dtype: bool
    check_index_type: bool
    check_names: bool
    check_categorical: bool


EXACT = _Exact(check_exact=True, check_dtype=True, check_index_type=True, check_names=True,
               check_categorical=True)  # fmt: skip


def frame_difference(base: pd.DataFrame, new: pd.DataFrame) -> str | None:
    """None if the frames are exactly equal, else pandas' first complaint."""
    try:
        pd.testing.assert_frame_equal(
            base, new, **EXACT, check_column_type=True, check_frame_type=True,
            check_flags=True, check_freq=True, check_like=False,
        )  # fmt: skip
    except AssertionError as err:
        return _one_line(err)
    return None


def series_difference(base: pd.Series, new: pd.Series) -> str | None:
    """None if the series are exactly equal, else pandas' first complaint."""
    try:
        pd.testing.assert_series_equal(base, new, **EXACT, check_series_type=True)
    except AssertionError as err:
        return _one_line(err)
    return None


def first_differing_rows(base: pd.DataFrame, new: pd.DataFrame, rows: int) -> list[str]:
    """Up to ``rows`` lines naming the first rows (by position) whose values differ."""
    lines = [f"base shape {base.shape}, new shape {new.shape}"]
    if list(base.columns) != list(new.columns):
        lines.append(f"columns base {list(base.columns)} / new {list(new.columns)}")
        return lines
    dtypes = [
        f"{c}: {base[c].dtype} -> {new[c].dtype}"
        for c in base.columns
        if str(base[c].dtype) != str(new[c].dtype)
    ]
    if dtypes:
        lines.append("dtypes " + "; ".join(dtypes))
    length = min(len(base), len(new))
    found = 0
    for i in range(length):
        left, right = base.iloc[i], new.iloc[i]
        columns = [c for c in base.columns if not same(_py(left[c]), _py(right[c]))]
        if base.index[i] != new.index[i]:
            columns.insert(0, "<index>")
        if columns:
            shown = ", ".join(
                f"{c}: {base.index[i]!r} / {new.index[i]!r}"
                if c == "<index>"
                else f"{c}: {left[c]!r} / {right[c]!r}"
                for c in columns
            )
            lines.append(f"row {i} (base / new) {shown}")
            found += 1
            if found >= rows:
                break
    if found < rows and len(base) != len(new):
        longer, side = (base, "base") if len(base) > len(new) else (new, "new")
        for i in range(length, min(len(longer), length + rows - found)):
            lines.append(f"row {i} only in {side}: {longer.iloc[i].to_dict()!r}")
    return lines


def _py(value: Any) -> Any:
    """A numpy scalar as its Python value (so NaN compares as a float)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return item()
    return value


def _text_lines(base: str, new: str, rows: int) -> list[str]:
    left, right = base.splitlines(), new.splitlines()
    lines = [f"base {len(left)} lines, new {len(right)} lines"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else "<none>"
        b = right[i] if i < len(right) else "<none>"
        if a != b:
            lines.append(f"line {i + 1}: {a!r} / {b!r}")
            if len(lines) > rows:
                break
    return lines


def compare_output(
    base_dir: Path, new_dir: Path, base: dict[str, Any], new: dict[str, Any], rows: int
) -> tuple[str, list[str]] | None:
    """None if two outputs of a run are equal, else (the complaint, detail lines)."""
    if base["kind"] == "error" or new["kind"] == "error":
        if base.get("error") == new.get("error"):
            return None
        return f"raised base {base.get('error')} / new {new.get('error')}", []
    if base["kind"] != new["kind"]:
        return f"kind base {base['kind']} / new {new['kind']}", []
    left = pd.read_pickle(base_dir / base["file"])
    right = pd.read_pickle(new_dir / new["file"])
    if base["kind"] == "frame":
        problem = frame_difference(left, right)
        details = first_differing_rows(left, right, rows) if problem and rows else []
        return (problem, details) if problem else None
    if base["kind"] == "series":
        problem = series_difference(left, right)
        details = (
            first_differing_rows(left.to_frame(), right.to_frame(), rows)
            if problem and rows
            else []
        )
        return (problem, details) if problem else None
    if same(left, right):
        return None
    if isinstance(left, str) and isinstance(right, str):
        return "texts differ", _text_lines(left, right, rows) if rows else []
    return f"values differ: base {left!r:.200} / new {right!r:.200}", []


def compare_attributes(base_dir: Path, new_dir: Path) -> list[str]:
    """The plain-data attributes of a run that differ, one line each."""
    left = pd.read_pickle(base_dir / f"{ATTRIBUTES}.pkl")
    right = pd.read_pickle(new_dir / f"{ATTRIBUTES}.pkl")
    lines = []
    for name in sorted(set(left) | set(right)):
        if name not in left or name not in right:
            lines.append(f"{name}: only in {'new' if name in right else 'base'}")
        elif not same(left[name], right[name]):
            a, b = left[name], right[name]
            if isinstance(a, dict) and isinstance(b, dict):
                keys = sorted({*a, *b} - {k for k in {*a} & {*b} if same(a[k], b[k])}, key=str)
                shown = "; ".join(
                    f"{k!r}: {a.get(k, '<absent>')!r:.80} / {b.get(k, '<absent>')!r:.80}"
                    for k in keys
                )
                lines.append(f"{name} differs at keys (base / new) {shown}")
            else:
                lines.append(f"{name} differs: base {a!r:.120} / new {b!r:.120}")
    return lines


def compare(args: argparse.Namespace) -> int:
    base_root: Path = args.base_dir
    new_root: Path = args.new_dir
    base_manifest = json.loads((base_root / MANIFEST).read_text())
    new_manifest = json.loads((new_root / MANIFEST).read_text())
    for label, manifest in (("base", base_manifest), ("new", new_manifest)):
        dirty = manifest.get("dirty")
        state = {None: " (not git)", False: ""}.get(
            dirty, f" + uncommitted changes (diff sha1 {manifest.get('diff_sha1', '?')[:12]})"
        )
        if manifest.get("diff_sha1_at_start", manifest.get("diff_sha1")) != manifest.get(
            "diff_sha1"
        ):
            state += " (CHANGED during the snapshot)"
        print(
            f"{label}: {manifest['checkout']} at {manifest['commit'][:12]}{state}, "
            f"evsim {manifest['evsim_file']}"
        )
    differences: list[str] = []
    notes: list[str] = []

    def differ(line: str, details: Sequence[str] = ()) -> None:
        differences.append(line)
        print(line)
        for detail in details:
            print(f"    {detail}")

    for name in sorted(set(base_manifest["result_names"]) ^ set(new_manifest["result_names"])):
        side = "base" if name in base_manifest["result_names"] else "new"
        differ(f"DIFF Result.{name}: a public name only in {side}")
    base_runs = {e["run_id"]: e for e in base_manifest["runs"]}
    new_runs = {e["run_id"]: e for e in new_manifest["runs"]}
    runs = tables = 0
    for run_id in sorted(base_runs.keys() | new_runs.keys()):
        base, new = base_runs.get(run_id), new_runs.get(run_id)
        if base is None or new is None:
            there: dict[str, Any] = base if base is not None else new  # type: ignore[assignment]
            side = "base" if base is not None else "new"
            why = f" ({there['status']}: {there['error']['message']})" if "error" in there else ""
            differ(f"DIFF {run_id}: run only in {side}{why}")
            continue
        if base["status"] != "ok" or new["status"] != "ok":
            if base["status"] == new["status"] and base.get("error") == new.get("error"):
                notes.append(f"NOTE {run_id}: {base['status']} in both: {base.get('error')}")
            else:
                differ(
                    f"DIFF {run_id}: base {base['status']} {base.get('error', '')} / "
                    f"new {new['status']} {new.get('error', '')}"
                )
            continue
        runs += 1
        base_dir, new_dir = base_root / base["folder"], new_root / new["folder"]
        for table in sorted(base["tables"].keys() | new["tables"].keys()):
            if table not in base["tables"] or table not in new["tables"]:
                side = "base" if table in base["tables"] else "new"
                differ(f"DIFF {run_id} :: {table}: table only in {side}")
                continue
            tables += 1
            found = compare_output(
                base_dir, new_dir, base["tables"][table], new["tables"][table], args.details
            )
            if found is not None:
                problem, details = found
                differ(f"DIFF {run_id} :: {table}: {problem:.300}", details)
        notes += [f"NOTE {run_id} :: {line}" for line in compare_attributes(base_dir, new_dir)]
    for note in notes if args.notes else ():
        print(note)
    print(f"{len(notes)} notes (attributes and runs failing alike; --notes to list)")
    print(f"compared {runs} runs, {tables} tables; {len(differences)} differences")
    return 1 if differences else 0


# --- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    snap = commands.add_parser("snapshot", help="run everything and pickle its tables")
    snap.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    snap.add_argument(
        "--checkout",
        type=Path,
        default=DEFAULT_CHECKOUT,
        help=f"the checkout whose scenarios and benchmarks run (default {DEFAULT_CHECKOUT})",
    )
    snap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(DEFAULT_SEEDS),
        help="seed overrides (scenarios also run with their own seed)",
    )
    snap.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="per workload run")
    snap.add_argument(
        "--until",
        type=float,
        default=DEFAULT_UNTIL,
        help="seconds, for a scenario file without a duration",
    )
    snap.set_defaults(handler=snapshot)
    comp = commands.add_parser("compare", help="compare two snapshots exactly")
    comp.add_argument("base_dir", type=Path, metavar="BASE_DIR")
    comp.add_argument("new_dir", type=Path, metavar="NEW_DIR")
    comp.add_argument(
        "--details",
        type=int,
        default=0,
        metavar="ROWS",
        help="under each difference, show up to ROWS first differing rows",
    )
    comp.add_argument("--notes", action="store_true", help="list the notes")
    comp.set_defaults(handler=compare)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
