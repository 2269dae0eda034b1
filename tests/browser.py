"""A lesson opened the way a learner opens it: JupyterLab from the project's venv, in
Debian's headless Chromium driven by Selenium (nothing downloaded at run time).

:func:`lab_page` starts JupyterLab on a free port over a copy of one notebook (so the run
never writes to the repository), opens it in Chromium and yields a :class:`LabPage` that
runs all cells, moves sliders and reads the outputs. Without a browser the tests that use
it skip with one line saying what to install; in CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install chromium chromium-driver (Debian's packages)"
TOKEN = "evsim-browser-test"
STARTUP = 60.0  # seconds for JupyterLab to answer and the kernel to be idle


def require_browser() -> None:
    """Skip (or, in CI, fail) unless Chromium, ChromeDriver and Selenium are here."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if not missing:
        return
    message = f"browser test needs {', '.join(missing)}: {INSTALL}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class LabPage:
    """One notebook open in JupyterLab in a headless browser."""

    def __init__(self, driver: object, notebook: str) -> None:
        self.driver = driver
        self.notebook = notebook

    def script(self, code: str) -> object:
        return self.driver.execute_script(code)  # type: ignore[attr-defined]

    def wait_for(self, condition: str, timeout: float, what: str) -> object:
        """Poll the JavaScript expression ``condition`` until it is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.script(f"return {condition};")
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"{self.notebook}: {what} within {timeout:g} s")

    def run_all(self, timeout: float) -> None:
        """Run every cell, as Run > Run All Cells does, and wait for the kernel."""
        self.wait_for(f"{KERNEL} && {KERNEL}.status === 'idle'", STARTUP, "no idle kernel")
        self.script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
        self.wait_for(
            "document.querySelectorAll('.jp-InputArea-prompt').length > 0 && "
            "![...document.querySelectorAll('.jp-InputArea-prompt')]"
            ".some(p => p.textContent.includes('*'))",
            timeout,
            "the cells did not finish",
        )

    def images(self) -> list[str]:
        """The ``src`` of every image in the outputs (charts are PNGs)."""
        found = self.script(
            "return [...document.querySelectorAll('.jp-OutputArea img')].map(i => i.src);"
        )
        return list(found)  # type: ignore[call-overload]

    def wait_for_new_images(self, before: list[str], timeout: float) -> list[str]:
        """Wait until the outputs' images differ from ``before`` (a chart re-rendered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.images()
            if now and now != before:
                return now
            time.sleep(0.25)
        raise AssertionError(f"{self.notebook}: no chart re-rendered within {timeout:g} s")

    def errors(self) -> list[str]:
        """The text of every error or stderr output, and of widgets' error lines."""
        found = self.script(
            "return [...document.querySelectorAll("
            '\'.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
            '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"], '
            ".evsim-widget-error')].map(e => e.textContent.trim()).filter(t => t);"
        )
        return list(found)  # type: ignore[call-overload]

    def move_slider(self, index: int = 0, steps: int = 2) -> None:
        """Move the ``index``-th slider right by ``steps`` steps with the keyboard, as a
        learner can (with ``continuous_update=False`` it is one change per key)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        handles = self.driver.find_elements(By.CSS_SELECTOR, ".noUi-handle")  # type: ignore[attr-defined]
        assert len(handles) > index, f"{self.notebook}: {len(handles)} sliders, no {index}"
        handle = handles[index]
        # focus it as a keyboard user would: a click can land on whatever is drawn over
        # the handle at that moment (a code line while the page scrolls)
        self.driver.execute_script(  # type: ignore[attr-defined]
            "arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle
        )
        for _ in range(steps):
            handle.send_keys(Keys.ARROW_RIGHT)

    def screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))  # type: ignore[attr-defined]


KERNEL = (
    "window.jupyterapp && window.jupyterapp.shell.currentWidget && "
    "window.jupyterapp.shell.currentWidget.sessionContext && "
    "window.jupyterapp.shell.currentWidget.sessionContext.session && "
    "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
)


@contextmanager
def lab_page(notebook: Path, workdir: Path) -> Iterator[LabPage]:
    """JupyterLab over a copy of ``notebook`` in ``workdir``, open in headless Chromium."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    shutil.copy(notebook, workdir / notebook.name)
    port = _free_port()
    lab = _start_lab(workdir, port)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(argument)
    driver = None
    try:
        _wait_for_port(port, lab, workdir)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        driver.get(f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={TOKEN}")
        yield LabPage(driver, notebook.name)
    finally:
        if driver is not None:
            driver.quit()
        lab.terminate()
        try:
            lab.wait(15)
        except subprocess.TimeoutExpired:
            lab.kill()


def _start_lab(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(workdir / ".runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / ".workspaces"),
    }
    command = [
        str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.token={TOKEN}", "--LabApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={workdir}", "--LabApp.news_url=None",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        stdout=(workdir / "lab.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, lab: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if lab.poll() is not None:
            log = (workdir / "lab.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"JupyterLab exited with {lab.returncode}:\n{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"JupyterLab did not answer on port {port} within {STARTUP:g} s")
