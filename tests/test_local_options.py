"""dw.local(...) gives a server with the options asked for, or says why not: never another
kernel's server without them, and never an AttributeError on a shared server."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dw_notebook as dw
from dw_notebook.local import SharedServer

HOLDER = """
import sys, dw_notebook as dw
dw.local(rate=300.0)
print("HOLDING", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def other_kernel(isolated_home):
    """Another process whose embedded server holds this home's shared data dir."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().startswith("HOLDING")
        yield holder
    finally:
        dw.stop_local()
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()


def test_options_the_other_kernels_server_lacks_start_this_kernels_own(other_kernel):
    with pytest.warns(UserWarning, match=rf"process {other_kernel.pid} .*failure_rate"):
        srv = dw.local(rate=300.0, backend_options={"failure_rate": 0.5})
    assert not isinstance(srv, SharedServer)
    assert srv.backend.failure_rate == 0.5
    srv.backend.failure_rate = 0.0  # what labelling.ipynb does before its retry
    assert dw.local() is srv


def test_the_same_options_or_none_share_the_other_kernels_server(other_kernel):
    srv = dw.local(rate=300.0)
    assert isinstance(srv, SharedServer) and srv.pid == other_kernel.pid
    assert dw.local() is srv
    with pytest.raises(RuntimeError, match=f"process {other_kernel.pid}"):
        srv.backend.failure_rate = 0.0  # a clear reason, not an AttributeError


def test_other_options_for_this_kernels_running_server_are_refused_with_the_fix():
    srv = dw.local(rate=100.0)
    try:
        assert dw.local(rate=100.0) is srv and dw.local() is srv
        with pytest.raises(ValueError, match=r"rate=50\.0 \(it runs with 100\.0\).*stop_local"):
            dw.local(rate=50.0)
        dw.stop_local()
        assert dw.local(rate=50.0) is not srv
    finally:
        dw.stop_local()
