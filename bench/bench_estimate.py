"""Estimated vs actual input tokens over the requests of the example notebooks.

Runs the code cells of each notebook in ``notebooks/`` up to its ``dw.submit(...)`` call,
catching the call's arguments instead of submitting; then builds the same requests, estimates
them (``dw.estimate``), runs them on the embedded local server (mock backend, unlimited rate)
and compares the estimate with the input tokens the server reports for the finished batch.

What the actual figure is: the local mock's ``usage`` is a simulation (the bytes of the
messages as JSON ÷ 4, no tokenizer), so this checks the estimate counts what a service bills
(the prompt once per request, not the wrapper or the schema), not how a real tokenizer splits
text. Target: estimate within ±25% of the actual input tokens.
Run: ``.venv/bin/python bench/bench_estimate.py``.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

import dw_notebook as dw
from dw_notebook.jsonl.requests import build_requests
from dw_notebook.jsonl.requests.estimate import estimate_cost
from dw_notebook.server import start_server

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 0.25


class Caught(Exception):
    """Raised by the stand-in ``dw.submit`` to stop a notebook at its submit call."""


def submit_calls(notebook: Path) -> list[tuple[Any, Any, dict]]:
    """(df, prompt, options) of every ``dw.submit`` in the notebook, in order."""
    cells = json.loads(notebook.read_text())["cells"]
    calls: list[tuple[Any, Any, dict]] = []

    def fake_submit(df: Any, prompt: Any = None, **options: Any) -> None:
        calls.append((df, prompt, options))
        raise Caught

    real_submit, real_local = dw.submit, dw.local
    dw.submit, dw.local = fake_submit, (lambda *a, **k: None)  # no server of the notebook's own
    namespace: dict[str, Any] = {}
    try:
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            if "dw.submit(" not in source and not _safe(source):
                continue
            try:
                exec(compile(source, str(notebook), "exec", dont_inherit=True), namespace)  # noqa: S102
            except Caught:
                pass
            except Exception:  # a cell that reads a result: nothing to estimate there
                continue
    finally:
        dw.submit, dw.local = real_submit, real_local
    return calls


def _safe(source: str) -> bool:
    """Cells run before the submit: imports, data and classes, nothing that reads a job."""
    return re.search(r"\bjob\b", source) is None


def measure(name: str, df: Any, prompt: Any, options: dict, server: Any) -> tuple[int, int, int]:
    """(estimated, whole lines ÷ 4 as estimated before, actual) input tokens of one call."""
    # the whole job at once: a pilot would run (and report usage for) its sample only
    options = {k: v for k, v in options.items() if k not in ("pilot", "pilot_by")}
    build_options = {k: v for k, v in options.items() if k not in ("name", "window", "budget")}
    built = build_requests(df, prompt=prompt, **build_options)
    estimated = estimate_cost(built).input_tokens
    whole_lines = int(sum(len(line) // 4 for line in built.data.splitlines()))
    job = dw.submit(df, prompt, api_key=server.token, base_url=server.base_url,
                    **{**options, "name": f"bench-{name}"})  # fmt: skip
    job.wait(timeout=300, progress=False)
    actual = 0
    headers = {"Authorization": f"Bearer {server.token}"}
    for batch_id in job.batch_ids:  # Doubleword reports tokens in analytics, not in usage
        url = f"{server.base_url}/batches/{batch_id}/analytics"
        actual += int(httpx.get(url, headers=headers).json()["total_prompt_tokens"])
    return estimated, whole_lines, actual


def main() -> int:
    server = start_server(backend="mock", rate=None, validation_delay=0.0, finalize_delay=0.0)
    failures = 0
    try:
        print(f"{'notebook':<22} {'requests':>8} {'estimated':>10} {'actual':>10} {'ratio':>6} "
              f"{'lines÷4 ratio':>13}")  # fmt: skip
        for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
            calls = submit_calls(notebook)
            if not calls and "dw.submit(" in notebook.read_text():
                print(f"{notebook.stem:<22} submit not reached: it needs a key or a model server")
            for i, (df, prompt, options) in enumerate(calls):
                start = time.perf_counter()
                estimated, whole, actual = measure(f"{notebook.stem}-{i}", df, prompt, options,
                                                   server)  # fmt: skip
                ratio = estimated / actual if actual else float("nan")
                ok = abs(ratio - 1) <= TOLERANCE
                failures += not ok
                print(f"{notebook.stem:<22} {len(df):>8,} {estimated:>10,} {actual:>10,} "
                      f"{ratio:>6.2f} {whole / actual if actual else 0:>13.2f} "
                      f"{'ok' if ok else 'OUT OF ±25%'}"
                      f"  ({time.perf_counter() - start:.1f} s)")  # fmt: skip
        print("actual = input tokens in the local mock server's usage: a simulation (messages "
              "as JSON ÷ 4 bytes), not a real tokenizer")  # fmt: skip
    finally:
        server.stop()
        dw.stop_local()  # a notebook's dw.connect() may have started the embedded server
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
