"""ev.widgets, driven in the test process without a browser: the controls inferred from
the knobs, a run per change, errors as one line, the same seed for a comparison, the
progress line of a slow run, and evsim importable without ipywidgets."""

from __future__ import annotations

import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import evsim as ev
from evsim.views import widget_controls, widget_panel

ipywidgets = pytest.importorskip("ipywidgets")


def run_shop(consumers=2, rate=20.0, zipf_s=1.0, assignment="range", idempotent=False, seed=1):
    """A tiny shop (about 100 events, well under 0.1 s): a topic of 4 partitions."""
    sim = ev.Simulation(seed=seed)
    sim.topic("orders", partitions=4)
    keys = ev.ZipfKeys(50, s=zipf_s) if zipf_s > 0 else ev.UniformKeys(50)
    sim.producer("shop", "orders", ev.Poisson(rate=rate), "OrderCreated", keys=keys)
    sim.consumer_group(
        "billing", "orders", consumers=consumers, service_time=ev.Exponential(mean=0.02),
        assignment=assignment, idempotent=idempotent,
    )  # fmt: skip
    return sim.run(until=5)


def processed_bar(result, ax):
    """A cheap chart (the default ones take longer to draw)."""
    ax.bar(["processed"], [result.summary()["processed"].sum()])


def explore(run=run_shop, **kwargs):
    kwargs.setdefault("chart", processed_bar)
    return ev.widgets.explore(run, **kwargs)


def outputs_of(view, kind):
    return [o for o in view.output.outputs if o["output_type"] == kind]


# --- the controls ---------------------------------------------------------------------------


def test_the_controls_are_inferred_from_the_knobs(capsys):
    field = ipywidgets.IntText(value=7)
    view = explore(
        consumers=(1, 4), rate=(5.0, 40.0, 2.5), zipf_s=(0.0, 2.0),
        assignment=["range", "roundrobin", "sticky"], idempotent=True, seed=field,
    )  # fmt: skip
    c = view.controls
    assert isinstance(c["consumers"], ipywidgets.IntSlider)
    assert (c["consumers"].min, c["consumers"].max, c["consumers"].step) == (1, 4, 1)
    assert c["consumers"].value == 2  # run_shop's default, in range
    assert isinstance(c["rate"], ipywidgets.FloatSlider)
    assert (c["rate"].min, c["rate"].max, c["rate"].step) == (5.0, 40.0, 2.5)
    assert c["rate"].value == 20.0
    assert c["zipf_s"].step == 0.01  # a hundredth of the span, to a power of ten
    assert isinstance(c["assignment"], ipywidgets.Dropdown)
    assert c["assignment"].value == "range"
    assert [label for label, _ in c["assignment"].options] == ["range", "roundrobin", "sticky"]
    assert isinstance(c["idempotent"], ipywidgets.Checkbox) and c["idempotent"].value is True
    assert c["seed"] is field and view.values()["seed"] == 7
    for name in ("consumers", "rate", "zipf_s", "seed"):
        assert c[name].continuous_update is False, name
    assert view.runs == 1 and view.error is None
    assert view.last.config["seed"] == 7


def test_a_default_out_of_range_starts_at_the_minimum_and_fixed_values_have_no_control(capsys):
    view = explore(consumers=(3, 9, 2), rate=25.0, assignment=("roundrobin", "sticky"))
    assert view.controls["consumers"].value == 3  # default 2 is below the range
    assert view.controls["assignment"].value == "roundrobin"  # default not an option
    assert "rate" not in view.controls and view.fixed == {"rate": 25.0, "seed": 1}
    assert view.last.summary()["routed"].iloc[0] > 0


def test_knob_specs_read_without_ipywidgets():
    parse = widget_controls.parse
    assert parse("n", (1, 12), 5) == widget_controls.Knob("n", "int", 5, 1, 12, 1)
    assert parse("n", range(2, 11, 4)).kind == "int"
    assert parse("n", range(2, 11, 4)).high == 10
    assert parse("s", (0, 2.0, 0.5), 1.5).kind == "float"
    assert parse("x", [1, 2, 4], 4).value == 4
    assert parse("x", {"off": None, "on": 5}, None).options == (("off", None), ("on", 5))
    assert parse("x", [1, True], True).value is True  # True is not 1 here
    assert parse("flag", False).kind == "bool"
    assert parse("until", 600).kind == "fixed"
    assert widget_controls.decimals(0.25) == 2


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"zipf_s": (0.0,)}, "zipf_s: expected (min, max) or (min, max, step), got (0.0,)"),
        ({"zipf_s": (0.0, 1.0, 0.1, 2)}, "zipf_s: expected (min, max) or (min, max, step), got"),
        ({"zipf_s": (2.0, 0.0)}, "zipf_s: expected min < max in (min, max[, step]), got (2.0,"),
        ({"consumers": (1, 4, 0)}, "consumers: expected 0 < step <= max - min, got (1, 4, 0)"),
        ({"rate": (0.0, float("inf"))}, "rate: expected finite numbers"),
        ({"assignment": []}, "assignment: expected at least one option"),
        ({"consumer": (1, 4)}, "consumer: run_shop() has no keyword parameter 'consumer' did you"),
        ({"seed": (1, 5), "run": lambda: None}, "seed: <lambda>() has no keyword parameter 'seed'"),
    ],
)  # fmt: skip
def test_a_bad_knob_gets_an_error_naming_it(knobs, message):
    run = knobs.pop("run", run_shop)
    with pytest.raises(ev.ConfigError) as caught:
        ev.widgets.explore(run, **knobs)
    assert str(caught.value).startswith(message)


def test_a_parameter_without_default_needs_a_knob():
    def needs(consumers, seed=1):
        return run_shop(consumers, seed=seed)

    with pytest.raises(
        ev.ConfigError, match=r"^consumers: needs\(\) needs it and it has no default"
    ):
        ev.widgets.explore(needs)


# --- runs -------------------------------------------------------------------------------------


def test_a_change_runs_again_with_the_new_value_and_redraws(capsys):
    calls = []

    def run(consumers=2, seed=1):
        calls.append(consumers)
        return run_shop(consumers=consumers, rate=40.0, seed=seed)

    view = explore(run, consumers=(1, 4))
    before_table, before_outputs = view.table.copy(), view.output.outputs
    assert [o["output_type"] for o in view.output.outputs] == ["display_data"] * 2
    view.controls["consumers"].value = 1
    assert calls == [2, 1] and view.runs == 2
    assert view.last.config["scenario"]["consumer_groups"][0]["consumers"] == 1
    assert not view.table.equals(before_table)  # one consumer: another latency
    assert view.output.outputs != before_outputs
    assert "consumers=1" in view.status.value
    table = view.output.outputs[-1]["data"]
    assert "<table" in table["text/html"] and "processed" in table["text/plain"]


def test_the_default_chart_of_a_result_is_a_png_of_latency_and_throughput(capsys):
    view = ev.widgets.explore(run_shop, consumers=(1, 4))
    figure, _ = view.output.outputs
    assert figure["data"]["text/plain"] == "<Figure size 800x760 with 2 Axes>"
    assert len(figure["data"]["image/png"]) > 1000
    bundle = view._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)
    assert "processed" in bundle["text/plain"]


def test_a_run_recorded_as_a_summary_charts_its_percentiles(capsys):
    def run(consumers=2, seed=1):
        sim = ev.Simulation(seed=seed, record="summary")
        sim.topic("orders", partitions=2)
        sim.producer("shop", "orders", ev.Poisson(rate=20), "OrderCreated")
        sim.consumer_group("billing", "orders", consumers=consumers, service_time=0.01)
        return sim.run(until=5)

    view = ev.widgets.explore(run, consumers=(1, 2))
    assert view.error is None
    assert view.output.outputs[0]["data"]["text/plain"] == "<Figure size 800x380 with 1 Axes>"


def test_charts_do_not_leave_figures_open(capsys):
    def pyplot_chart(result, ax):
        plt.figure()  # a chart that opens a pyplot figure of its own
        processed_bar(result, ax)

    open_before = plt.get_fignums()
    view = explore(chart=pyplot_chart, consumers=(1, 4))
    for consumers in (1, 3, 4):
        view.controls["consumers"].value = consumers
    assert view.runs == 4 and view.error is None
    assert plt.get_fignums() == open_before


def test_an_error_shows_as_one_line_and_a_later_good_value_recovers(capsys):
    def run(rate=20.0, seed=1):
        if rate > 30:
            raise ValueError("rate must be\n  <= 30 here")
        return run_shop(rate=rate, seed=seed)

    view = explore(run, rate=(0.0, 40.0, 5.0))
    view.controls["rate"].value = 35.0
    assert view.error == "ValueError: rate must be <= 30 here"
    assert "ValueError: rate must be &lt;= 30 here</span>" in view.status.value  # escaped
    assert "Traceback" not in view.status.value and "\n" not in view.error
    assert "Traceback" in view.traceback and view.output.outputs == ()
    view.controls["rate"].value = 0.0  # evsim's own error
    assert view.error == "ConfigError: rate: must be > 0, got 0.0"
    view.controls["rate"].value = 10.0
    assert view.error is None and view.traceback is None
    assert view.runs == 4 and view.last.config["seed"] == 1
    assert len(view.output.outputs) == 2


def test_an_error_in_the_chart_names_the_chart(capsys):
    def broken(result, ax):
        raise KeyError("latency")

    view = explore(chart=[processed_bar], consumers=(1, 4))
    view._chart = broken
    view.controls["consumers"].value = 3
    assert view.error == "chart: KeyError: 'latency'"


def test_an_error_in_the_first_run_is_raised():
    def run(seed=1):
        raise ValueError("rate must be > 0")

    with pytest.raises(ValueError, match="rate must be > 0"):
        ev.widgets.explore(run)


def test_printed_text_and_warnings_show_above_the_table(capsys):
    def run(consumers=2, seed=1):
        print("running the shop")
        return run_shop(consumers=consumers, rate=120.0, seed=seed)  # 1 consumer: overloaded

    view = explore(run, consumers=(1, 4))
    view.controls["consumers"].value = 1
    printed, warned = outputs_of(view, "stream")
    assert printed == {"output_type": "stream", "name": "stdout", "text": "running the shop\n"}
    assert warned["name"] == "stderr"
    assert warned["text"].startswith("UserWarning: consumer group 'billing' cannot keep up")
    assert "cannot keep up" in view.text()


def test_a_dataframe_output_is_its_table(capsys):
    def run(n=3, seed=1):
        return pd.DataFrame({"x": range(100), "y": [n * i for i in range(100)]})

    view = explore(run, chart=None, n=(1, 5))
    assert (
        len(view.table) == 100 and view.output.outputs[-1]["data"]["text/plain"].count("\n") == 20
    )
    view.controls["n"].value = 5
    assert view.last["y"].iloc[1] == 5


def test_a_float_slider_value_loses_the_browsers_binary_noise(capsys):
    view = explore(rate=(10.0, 30.0, 0.1))
    view.controls["rate"].value = 10.1 + 0.2 - 0.000000000000001
    assert view.values()["rate"] == 10.3


# --- compare ------------------------------------------------------------------------------------


def test_compare_runs_both_variants_on_the_same_seed(capsys):
    calls = []

    def run(consumers=2, zipf_s=1.0, seed=1):
        calls.append((consumers, zipf_s, seed))
        return run_shop(consumers=consumers, zipf_s=zipf_s, seed=seed)

    view = ev.widgets.compare(
        run, a={"consumers": 1}, b={"consumers": 4}, chart=processed_bar, seed=(1, 9),
        zipf_s=(0.0, 2.0, 0.5), labels=("one", "four"),
    )  # fmt: skip
    assert calls == [(1, 1.0, 1), (4, 1.0, 1)]
    view.controls["seed"].value = 7
    assert calls[2:] == [(1, 1.0, 7), (4, 1.0, 7)]
    assert set(view.last) == {"one", "four"}
    assert view.last["one"].config["seed"] == view.last["four"].config["seed"] == 7
    assert list(view.table.columns.get_level_values(0)) == ["one", "four"]
    assert "latency_p99" in view.table.index  # a row per metric
    routed = view.table.loc["routed"]
    assert routed.iloc[0] == routed.iloc[1]  # the same events for both: the same seed


def test_compare_checks_its_variants():
    with pytest.raises(ev.ConfigError, match=r"^a: consumers is both a shared knob and set in a"):
        ev.widgets.compare(run_shop, a={"consumers": 1}, b={}, consumers=(1, 4))
    with pytest.raises(ev.ConfigError, match=r"^labels: expected two different labels"):
        ev.widgets.compare(run_shop, a={}, b={}, labels=("A", "A"))
    with pytest.raises(ev.ConfigError, match=r"^consumres: run_shop\(\) has no keyword parameter"):
        ev.widgets.compare(run_shop, a={"consumres": 1}, b={})


def test_an_error_in_one_variant_names_it(capsys):
    def run(consumers=2, seed=1):
        if consumers > 3:
            raise ValueError("too many")
        return run_shop(consumers=consumers, seed=seed)

    view = ev.widgets.compare(run, a={"consumers": 1}, b={"consumers": 3}, chart=processed_bar)
    view.variants["B"]["consumers"] = 4
    view.refresh()
    assert view.error == "B: ValueError: too many"


# --- progress, display, check ---------------------------------------------------------------------


def test_a_slow_run_shows_a_progress_line_and_a_fast_one_does_not(capsys):
    seen = []

    def slow(pause=0.0, seed=1):
        time.sleep(pause)
        return pd.DataFrame({"pause": [pause]})

    view = ev.widgets.explore(slow, pause=[0.0, 0.4], progress_after=0.05)
    assert not view.progress_shown
    view.status.observe(lambda change: seen.append(change["new"]), names="value")
    view.controls["pause"].value = 0.4
    assert view.progress_shown and view.seconds >= 0.4
    assert any(value.startswith("⏳ running…") for value in seen)
    assert seen[-1].startswith("run 2 · pause=0.4")  # the progress line is gone


def test_outside_ipython_the_table_is_printed(capsys):
    explore(consumers=(1, 4))
    printed = capsys.readouterr().out
    assert printed.startswith("explore consumers=2, seed=1\n") and "processed" in printed


def test_in_ipython_the_cell_shows_the_widget_once(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(widget_panel, "_execution_count", lambda: 7)
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.append(objs))
    view = explore(consumers=(1, 4))  # displays it, in cell 7
    view._ipython_display_()  # the cell's echo of the returned view: skipped
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0][0]
    monkeypatch.setattr(widget_panel, "_execution_count", lambda: 8)
    view._ipython_display_()  # `view` in a later cell shows it again
    assert len(shown) == 2


def test_check_says_what_it_found_and_what_to_do():
    found = ev.widgets.check()
    assert found.ipywidgets == ipywidgets.__version__
    assert found.kernel is False and not found.ok  # pytest is no Jupyter kernel
    assert "Not in a Jupyter kernel" in str(found) and f"ipywidgets: {found.ipywidgets}" in str(
        found
    )


def test_without_ipywidgets_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now fails
    with pytest.raises(ImportError, match=r"pip install 'evsim\[lab\]'"):
        ev.widgets.explore(run_shop, consumers=(1, 4))
    found = ev.widgets.check()
    assert found.ipywidgets is None and "pip install 'evsim[lab]'" in str(found)


def test_import_evsim_does_not_import_ipywidgets():
    code = "import sys, evsim; print('ipywidgets' in sys.modules, 'IPython' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
