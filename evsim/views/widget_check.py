"""Whether widgets can show here (``ev.widgets.check()``, for the first lesson), and the
one place ``ev.widgets`` imports ipywidgets.

A kernel cannot see the browser: it knows whether ipywidgets is installed (and which
version), whether it runs in a Jupyter kernel, and whether JupyterLab's widget extension is
installed beside it, but not whether the page loaded the extension. So :func:`check`
reports those, displays a small slider, and says what to do if the slider does not show.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

INSTALL = "pip install 'evsim[lab]'  (or: pip install ipywidgets), then restart the kernel"
MINIMUM = 8  # ipywidgets major version evsim's widgets are written for


def ipywidgets_module() -> Any:
    """The ipywidgets module, or an ImportError that says how to install it."""
    try:
        import ipywidgets
    except ImportError as error:
        message = f"ev.widgets needs ipywidgets, which is not installed: {INSTALL}"
        raise ImportError(message) from error
    return ipywidgets


@dataclass(frozen=True, repr=False)
class WidgetCheck:
    """What :func:`check` found: ``ipywidgets`` (its version, None if missing),
    ``kernel`` (running in a Jupyter kernel), ``extension`` (the version of
    JupyterLab's widget extension, ``jupyterlab_widgets``, installed beside the kernel,
    None if not), and ``advice`` (what to do, one line each)."""

    ipywidgets: str | None
    kernel: bool
    extension: str | None
    advice: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether widgets can work here as far as the kernel can tell."""
        return self.kernel and _major(self.ipywidgets) >= MINIMUM

    def __str__(self) -> str:
        found = [
            f"ipywidgets: {self.ipywidgets or 'not installed'}",
            f"Jupyter kernel: {'yes' if self.kernel else 'no'}",
            "JupyterLab widget extension (jupyterlab_widgets): "
            + (self.extension or "not found beside this kernel"),
        ]
        return "\n".join([*found, *(f"- {line}" for line in self.advice)])

    __repr__ = __str__


def check(probe: bool = True) -> WidgetCheck:
    """Report whether widgets render here: ipywidgets' version, whether this is a Jupyter
    kernel, JupyterLab's widget extension, and what to do if something is missing. In a
    kernel with ipywidgets, ``probe`` displays a slider first: if it shows, widgets work."""
    version = _ipywidgets_version()
    kernel = _in_kernel()
    found = WidgetCheck(version, kernel, _version("jupyterlab_widgets"), ())
    advice = _advice(found)
    if probe and found.ok:
        _show_probe()
    return WidgetCheck(found.ipywidgets, found.kernel, found.extension, advice)


def _advice(found: WidgetCheck) -> tuple[str, ...]:
    """What to do, for what was found."""
    if found.ipywidgets is None:
        return (f"ipywidgets is missing: {INSTALL}.",)
    if _major(found.ipywidgets) < MINIMUM:
        return (
            f"ipywidgets {found.ipywidgets} is too old (evsim needs 8 or newer): "
            "pip install -U 'ipywidgets>=8.1', then restart the kernel.",
        )
    if not found.kernel:
        return (
            "Not in a Jupyter kernel: widgets need JupyterLab (3 or newer), Jupyter Notebook 7 "
            "or VS Code. Here ev.widgets.explore prints the default run's table instead.",
        )
    tips = [
        "If you see a slider above, widgets work here: drag it.",
        "If you see text such as IntSlider(...) or 'Error displaying widget', reload the "
        "browser page and run the cell again.",
        "Still no slider: JupyterLab must be 3 or newer with ipywidgets installed in the "
        "environment JupyterLab runs from: pip install 'evsim[lab]', then restart JupyterLab.",
    ]
    if found.extension is None:
        tips.append(
            "jupyterlab_widgets is not installed beside this kernel; that is fine if JupyterLab "
            "runs from another environment that has it, else: pip install jupyterlab_widgets."
        )
    return tuple(tips)


def _show_probe() -> None:
    """Display a slider that shows only where widgets render."""
    from IPython.display import display

    widgets = ipywidgets_module()
    display(widgets.IntSlider(value=5, min=0, max=10, description="drag me"))


def _ipywidgets_version() -> str | None:
    """The version of the ipywidgets this kernel imports, or None if it cannot."""
    try:
        return str(ipywidgets_module().__version__)
    except ImportError:
        return None


def _version(package: str) -> str | None:
    """The installed version of ``package``, or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _major(version: str | None) -> int:
    """The major number of a version string (0 for None or one that does not start with it)."""
    head = (version or "").split(".")[0]
    return int(head) if head.isdigit() else 0


def _in_kernel() -> bool:
    """Whether this is a Jupyter kernel (an IPython shell with a kernel behind it)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None
