"""What ``ev.widgets`` shows of a run, as Jupyter output dicts (no ipywidgets needed).

An output dict is what a notebook stores for one output (``{"output_type":
"display_data", "data": {mime type: content}, "metadata": {}}`` or a stream of text); an
``ipywidgets.Output`` shows a tuple of them. Charts are drawn on a matplotlib
:class:`~matplotlib.figure.Figure` that pyplot does not hold, rendered to PNG and dropped,
and any pyplot figure a chart function opens on the side is closed, so memory does not grow
from run to run. Tables show at most :data:`TABLE_ROWS` rows, numbers to 4 significant
digits.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from evsim.errors import SimulationStateError
from evsim.result import Result
from evsim.views import plot

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

Chart = Callable[..., Any]  # chart(output, ax=axes): draws one run's output on the axes
Output = dict[str, Any]  # one Jupyter output (display_data or stream)

TABLE_ROWS = 20  # rows of a DataFrame shown
CHART_SIZE = (8.0, 3.8)  # inches of one chart (a row of a comparison is twice as wide)
DPI = 100  # pixels per inch of the PNG
LINE_CHARS = 300  # an error line longer than this is cut


def charts_for(output: Any, chart: Chart | Sequence[Chart] | None) -> list[Chart]:
    """The charts to draw of ``output``: ``chart`` (one or a list), or for a Result when
    None the latency distribution and throughput (the percentiles if it was recorded with
    ``record="summary"``), or none."""
    if chart is not None:
        return list(chart) if isinstance(chart, Sequence) else [chart]
    if not isinstance(output, Result):
        return []
    try:
        plot.latency_data(output)
    except SimulationStateError:  # summary recording: no per-event tables
        return [plot.percentiles]
    return [plot.latency, plot.throughput]


def table_of(output: Any, table: Callable[[Any], Any] | None) -> Any:
    """What the table shows of ``output``: ``table(output)``, a Result's ``summary()``,
    or the output itself."""
    if table is not None:
        return table(output)
    if isinstance(output, Result):
        return output.summary()
    return output


def as_frame(shown: Any) -> pd.DataFrame | None:
    """``shown`` as a DataFrame (a Series as one column), None if it is neither."""
    if isinstance(shown, pd.Series):
        return shown.to_frame()
    return shown if isinstance(shown, pd.DataFrame) else None


def table_output(shown: Any) -> Output:
    """The output dict of a table (HTML and text), or of any other value's ``repr``."""
    frame = as_frame(shown)
    if frame is None:
        return display_data({"text/plain": repr(shown)})
    return display_data({"text/plain": table_text(frame), "text/html": table_html(frame)})


def table_text(frame: pd.DataFrame) -> str:
    """A table as text: its first rows, numbers to 4 significant digits."""
    return frame.head(TABLE_ROWS).to_string(float_format=_number)


def table_html(frame: pd.DataFrame) -> str:
    """A table as HTML, as a notebook shows a DataFrame."""
    html: str = frame.head(TABLE_ROWS).to_html(float_format=_number, border=0)
    return html


def _number(value: float) -> str:
    """A float to 4 significant digits."""
    return f"{value:.4g}"


def display_data(data: dict[str, Any]) -> Output:
    """An output dict showing ``data`` (mime type -> content)."""
    return {"output_type": "display_data", "data": data, "metadata": {}}


def stream(text: str, name: str = "stdout") -> Output:
    """An output dict of printed text (``name`` "stdout" or "stderr")."""
    return {"output_type": "stream", "name": name, "text": text}


# --- charts ------------------------------------------------------------------------------


def draw_rows(rows: Sequence[Sequence[tuple[Chart, Any]]], titles: Sequence[str] = ()) -> Output:
    """A PNG of charts: each row a list of (chart, output) drawn side by side on shared
    axes; with ``titles`` (one per column, a comparison's variants), each row is titled
    with its chart's own title and each axes with its column's."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    width, height = CHART_SIZE
    columns = max(len(row) for row in rows)
    figure = Figure(figsize=(width * (1 if columns == 1 else 0.7 * columns), height * len(rows)))
    figure.set_layout_engine("constrained")
    before = set(plt.get_fignums())
    try:
        parts = figure.subfigures(len(rows), 1, squeeze=False)[:, 0]
        for part, row in zip(parts, rows, strict=True):
            _draw_row(part, row, titles)
        return figure_output(figure)
    finally:  # a chart that opened pyplot figures of its own: close them
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def _draw_row(part: SubFigure, row: Sequence[tuple[Chart, Any]], titles: Sequence[str]) -> None:
    """One row of charts on ``part``, sharing x and y axes."""
    axes: list[Axes] = list(part.subplots(1, len(row), sharex=True, sharey=True, squeeze=False)[0])
    for ax, (chart, output) in zip(axes, row, strict=True):
        chart(output, ax=ax)
    if titles:
        part.suptitle(axes[0].get_title())
        for ax, title in zip(axes, titles, strict=False):
            ax.set_title(title, fontsize=10)
        for ax in axes[1:]:  # the shared y axis is labelled once, on the left
            ax.set_ylabel("")


def figure_output(figure: Figure) -> Output:
    """The output dict of a figure: a PNG, and the text a notebook shows of a figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return display_data({"image/png": png, "text/plain": _figure_text(figure)})


def _figure_text(figure: Figure) -> str:
    """``<Figure size 800x380 with 2 Axes>``, as matplotlib shows one in text."""
    width, height = (figure.get_size_inches() * DPI).round().astype(int)
    return f"<Figure size {width}x{height} with {len(figure.get_axes())} Axes>"


# --- errors --------------------------------------------------------------------------------


def one_line(error: BaseException) -> str:
    """An exception as one readable line: ``ValueError: rate must be > 0`` (whitespace
    collapsed, cut at :data:`LINE_CHARS` characters)."""
    message = " ".join(str(error).split())
    line = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"


def describe(values: dict[str, Any]) -> str:
    """Knob values as ``consumers=3, zipf_s=1.2`` (floats to 4 significant digits)."""
    return ", ".join(
        f"{name}={float(f'{value:.4g}') if isinstance(value, float) else value!r}"
        for name, value in values.items()
    )
