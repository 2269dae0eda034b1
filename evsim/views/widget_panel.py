"""The part ``explore`` and ``compare`` share: controls, a status line, an output area, and
one run per change of a control.

A :class:`Panel` runs its function with the controls' values whenever one changes (once
per slider release). Text the function prints and warnings it raises (evsim's "cannot keep
up", for one) show above the chart; an exception shows as one line in the status, the
chart and table are cleared, and the controls stay as they were, so the next change runs
again. A run taking longer than ``progress_after`` seconds shows ``running… 1.2 s``,
updated as it goes. The panel displays as its widget, with the last run's chart (PNG) and
table (text) beside it for a notebook viewer without widgets.
"""

from __future__ import annotations

import html
import io
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

from evsim.views.widget_controls import Knob, build, value_of
from evsim.views.widget_render import Output, describe, one_line, stream

TICK = 0.25  # seconds between updates of the progress line
ERROR_COLOUR = "#b00020"


class StageError(Exception):
    """An exception from one stage of a run (the chart, the table, a variant), which the
    one-line message names: ``chart: KeyError: 'latency'``."""

    def __init__(self, stage: str, error: Exception) -> None:
        super().__init__(stage, error)
        self.stage, self.error = stage, error


def stage(name: str, step: Callable[..., Any], *args: Any) -> Any:
    """``step(*args)``, with an exception it raises labelled by the stage ``name``."""
    try:
        return step(*args)
    except StageError:
        raise
    except Exception as error:
        raise StageError(name, error) from error


@dataclass
class Shown:
    """What one run shows: its return value, the output dicts, and their text (the table
    as text, for a viewer without widgets)."""

    last: Any
    outputs: list[Output]
    text: str
    table: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Progress:
    """Shows ``running… 1.2 s`` in a status widget once ``after`` seconds have passed,
    updated every :data:`TICK` seconds until the ``with`` block ends."""

    def __init__(self, status: Any, after: float) -> None:
        self.status, self.after = status, after
        self.appeared = False
        self._stop = threading.Event()
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Progress:
        self._start = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        """In a thread: wait ``after`` seconds, then tick until stopped."""
        if self._stop.wait(self.after):
            return
        self.appeared = True
        while True:
            elapsed = time.perf_counter() - self._start
            self.status.value = f"⏳ running… {elapsed:.1f} s"
            if self._stop.wait(TICK):
                return


@contextmanager
def captured(printed: io.StringIO) -> Iterator[list[warnings.WarningMessage]]:
    """Collect what the block prints in ``printed``, and the warnings it raises (each shown
    again on every run, under the filters in force: a warning made an error stays one)."""
    with warnings.catch_warnings(record=True) as caught, redirect_stdout(printed):
        yield caught


class Panel:
    """Controls, a status line and an output area over a function of the controls' values.

    Attributes: ``controls`` (name -> widget), ``fixed`` (name -> value passed to every
    run), ``status`` and ``output`` (widgets), ``widget`` (the whole box), ``last`` (the
    last successful run's return), ``error`` (the last run's error as one line, or None),
    ``traceback`` (its full text), ``runs`` (runs started), ``seconds`` (the last run's
    wall time), ``progress_shown`` (whether the last run showed the progress line).
    """

    kind = "panel"

    def __init__(self, widgets: Any, knobs: list[Knob], progress_after: float) -> None:
        self.controls: dict[str, Any] = {}
        self.fixed: dict[str, Any] = {}
        self._order = [knob.name for knob in knobs]
        for knob in knobs:
            control = build(knob, widgets)
            if control is None:
                self.fixed[knob.name] = knob.value
            else:
                self.controls[knob.name] = control
        self.progress_after = progress_after
        self.status = widgets.HTML(value="")
        self.output = widgets.Output()
        row = widgets.HBox(list(self.controls.values()), layout={"flex_flow": "row wrap"})
        self.widget = widgets.VBox([row, self.status, self.output])
        self.last: Any = None
        self.table: Any = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.runs = 0
        self.seconds = 0.0
        self.progress_shown = False
        self._text = ""
        self._png: str | None = None
        self._running = self._again = False
        self._skip_display_at: int | None = None
        for control in self.controls.values():
            control.observe(self._changed, names="value")

    def values(self) -> dict[str, Any]:
        """The arguments of the next run: the controls' values and the fixed ones, in the
        order the knobs were given."""
        return {
            name: value_of(self.controls[name]) if name in self.controls else self.fixed[name]
            for name in self._order
        }

    def compute(self, values: dict[str, Any]) -> Shown:
        """Run with ``values`` and say what to show (each kind of panel's own)."""
        raise NotImplementedError

    def _changed(self, change: dict[str, Any]) -> None:
        """A control changed: run again."""
        self.refresh()

    def refresh(self, strict: bool = False) -> None:
        """Run with the controls' values now and show it; with ``strict``, an exception
        from the run is raised (the first run, so that a notebook run in CI fails on it).
        A change made during a run starts one more run when it ends."""
        if self._running:
            self._again = True
            return
        self._running = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._run_once(strict)
        finally:
            self._running = False

    def _run_once(self, strict: bool) -> None:
        """One run: compute, then show its outputs, or its error as one line."""
        values = self.values()
        self.runs += 1
        progress = Progress(self.status, self.progress_after)
        printed = io.StringIO()
        failure: Exception | None = None
        start = time.perf_counter()
        try:
            with progress, captured(printed) as caught:
                shown = self.compute(values)
        except Exception as error:
            failure = error
        except KeyboardInterrupt:  # the kernel interrupted: say so, not "running…"
            self.status.value = html.escape(f"run {self.runs} interrupted")
            raise
        finally:
            self.seconds = time.perf_counter() - start
            self.progress_shown = progress.appeared
        if failure is not None:
            self._show_error(failure, printed.getvalue())
            if strict:  # raised outside the handler: the user's exception, as it was
                raise failure.error if isinstance(failure, StageError) else failure
            return
        self._show(values, shown, printed.getvalue(), [_warning_line(w) for w in caught])

    def _show(self, values: dict[str, Any], shown: Shown, printed: str, warned: list[str]) -> None:
        """Show a successful run's outputs, after what it printed and warned."""
        self.last, self.table, self.error, self.traceback = shown.last, shown.table, None, None
        notes = [stream(printed)] if printed else []
        notes += [stream(line + "\n", "stderr") for line in warned]
        self.output.outputs = tuple(notes + shown.outputs)
        self.status.value = html.escape(
            f"run {self.runs} · {describe(values) or 'no knobs'} · {self.seconds:.2f} s"
        )
        self._text = "\n".join([f"{self.kind} {describe(values)}", *warned, shown.text])
        pngs = [o["data"]["image/png"] for o in shown.outputs if "image/png" in o.get("data", {})]
        self._png = pngs[0] if pngs else None

    def _show_error(self, error: Exception, printed: str) -> None:
        """Show a failed run's error as one line; the chart and table no longer apply."""
        cause = error.error if isinstance(error, StageError) else error
        prefix = f"{error.stage}: " if isinstance(error, StageError) else ""
        self.error = prefix + one_line(cause)
        self.traceback = "".join(traceback.format_exception(cause))
        self.output.outputs = (stream(printed),) if printed else ()
        self.status.value = f'<span style="color: {ERROR_COLOUR}">{html.escape(self.error)}</span>'
        self._text, self._png = self.error, None

    # --- display --------------------------------------------------------------------------

    def text(self) -> str:
        """The last run as text: the values, any warnings, the table (or the error)."""
        return self._text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The widget, with the last chart (PNG) and table (text) for a viewer without
        widgets (a notebook on GitHub, a kernel restarted)."""
        bundle: dict[str, Any] = dict(self.widget._repr_mimebundle_() or {})
        bundle["text/plain"] = self.text()
        if self._png is not None:
            bundle["image/png"] = self._png
        return bundle

    def _ipython_display_(self) -> None:
        """Display in IPython, once per cell: the cell's own echo of the panel
        ``explore()`` displayed and returned is skipped."""
        count = _execution_count()
        if count is not None and count == self._skip_display_at:
            self._skip_display_at = None
            return
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def show(self) -> None:
        """Display now: in IPython the widget, elsewhere the text of the last run."""
        count = _execution_count()
        if count is None:
            print(self.text())
            return
        self._skip_display_at = None
        self._ipython_display_()
        self._skip_display_at = count


def _execution_count() -> int | None:
    """The IPython cell running now, or None outside IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    count = getattr(shell, "execution_count", None)
    return count if isinstance(count, int) else None


def _warning_line(warning: warnings.WarningMessage) -> str:
    """A warning as one line: ``UserWarning: inventory-service cannot keep up ...``."""
    return " ".join(f"{warning.category.__name__}: {warning.message}".split())
