"""Kill -9 of a submitting kernel at a chosen step: a subprocess runs ``submitter.py`` through
the fault proxy, and is killed once the proxy has seen the step happen."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

SUBMITTER = Path(__file__).with_name("submitter.py")
_kernels: list[subprocess.Popen] = []  # started by run_kernel; ended by end_kernels()


def submit_and_kill(
    proxy, token: str, rows: int, max_requests: int, step: Callable[[], object]
) -> None:
    """Run the submitting kernel; SIGKILL it as soon as ``step()`` is true."""
    proc = subprocess.Popen(
        [sys.executable, str(SUBMITTER), proxy.base_url, token, str(rows), str(max_requests)],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        proxy.wait_for(lambda: step() or proc.poll() is not None, timeout=90, what="the step")
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the kernel ended before the step: {out!r} {err[-2000:]!r}")
    finally:
        proc.kill()  # SIGKILL: no cleanup, no atexit, no finally blocks
        _end(proc)


def run_kernel(code: str) -> subprocess.Popen:
    """Another kernel on this machine (same registry and local-server dir), running ``code``."""
    return spawn(["-c", code], dict(os.environ))


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A Python process with ``args`` and pipes on every stream, ended by ``end_kernels``."""
    proc = subprocess.Popen(
        [sys.executable, *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _kernels.append(proc)
    return proc


def end_kernels() -> None:
    """Kill what ``run_kernel`` started and is still running, and close every pipe."""
    while _kernels:
        proc = _kernels.pop()
        if proc.poll() is None:
            proc.kill()
        _end(proc)


def _end(proc: subprocess.Popen) -> None:
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
