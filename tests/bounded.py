"""Running code that a regression would make hang or eat memory: in a child process, with
a hard timeout and a cap on its address space, so the test fails instead of hanging CI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # seconds: each case takes a few; a hang is killed and fails the test
MEMORY = 3 << 30  # bytes of address space: NumPy and pandas need ~1 GB; 7 GB tables fail


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run(args: list[str], timeout: float = TIMEOUT, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python args...`` importing this tree's evsim, killed after ``timeout`` seconds
    (``subprocess.TimeoutExpired`` fails the test)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        preexec_fn=_limit_memory if sys.platform != "win32" else None,
    )


def python(code: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``code`` (dedented) in a child Python; see :func:`run`."""
    return run(["-c", textwrap.dedent(code)], timeout)


def raised(code: str, timeout: float = TIMEOUT) -> str:
    """Run ``code``, which must raise: ``"ErrorType: message"`` of what it raised."""
    wrapped = (
        "try:\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
        + "\nexcept BaseException as err:\n"
        "    print(f'{type(err).__name__}: {err}')\n"
        "else:\n"
        "    print('no error')\n"
    )
    child = python(wrapped, timeout)
    assert child.returncode == 0, child.stderr
    return child.stdout.strip()
