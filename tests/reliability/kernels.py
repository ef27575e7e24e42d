"""Notebooks as separate processes, each with its own data dir (``cell.py``): what a Colab
runtime reset, a new laptop or a second kernel looks like to the service."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson
from kill import spawn

CELL = Path(__file__).with_name("cell.py")


def start_notebook(home: Path, **args) -> subprocess.Popen:
    """A notebook process whose data dir is ``home``, running one cell (see ``cell.py``)."""
    env = dict(os.environ, DW_NOTEBOOK_HOME=str(home))
    return spawn([str(CELL), orjson.dumps(args).decode()], env)


def ready(proc: subprocess.Popen) -> None:
    """Wait until a notebook started with ``go=True`` is about to run its cell."""
    line = proc.stdout.readline()
    assert line.strip() == "READY", (line, proc.stderr.read()[-3000:] if proc.poll() else "")


def result(proc: subprocess.Popen, timeout: float = 120) -> dict:
    """What the notebook's cell gave: its job and batches, or its error."""
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result: {out[-2000:]!r} {err[-3000:]!r}"
    return orjson.loads(lines[-1].removeprefix("RESULT "))


def run_notebook(home: Path, **args) -> dict:
    return result(start_notebook(home, **args))
