"""Notebook entry points that wire the widgets to the job API: a job's progress, the builder,
the jobs dashboard and review.

The widgets only see plain data and callables; this module supplies them from jobs, DataFrames,
the registry and the service. ``views`` is what ``Job.views`` is set to on import.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import wire
from .autobatch import KIND as AUTOBATCH
from .autobatch import collect as collect_autobatch
from .client import client_for
from .errors import APIError, DwError, JobError, TransportError
from .job import Job, aggregate_phase
from .job.core import job_with_frame
from .job.registry import Registry
from .job.submit import attach, connect, list_jobs, submit
from .jsonl.requests import BuildError, build_requests
from .jsonl.requests._schema import response_format_for
from .jsonl.requests.estimate import estimate_cost
from .markup import no_math
from .progress.text import format_summary

log = logging.getLogger(__name__)

PILOT_DONE = "pilot_done"  # a dashboard status: the pilot has ended, the rest waits for proceed


class NotebookViews:
    """The progress widget of a job (polled live), one per retry, their display, and review.

    The job's widget shows the whole job (every attempt); the output of a ``job.retry()``
    cell gets a widget of its own that shows only that attempt, so no output is rewritten to
    tell a different story than the cell that made it.
    """

    def widget(self, job: Job) -> Any:
        """The whole-job progress widget (made once per job)."""
        if job.view is None:
            job.view = self._new_widget(job, attempt=None)
        job.start_polling()
        return job.view

    def attempt_widget(self, job: Job, attempt: int) -> Any:
        """A progress widget of one attempt (a retry), for the output of the cell that made it."""
        widget = self._new_widget(job, attempt=attempt)
        job.start_polling()
        return widget

    def _new_widget(self, job: Job, attempt: int | None) -> Any:
        from .widgets.progress import ProgressWidget, thread_updates_broken

        if thread_updates_broken():
            warnings.warn("ipykernel 7.0 does not show live widget updates; use >= 7.1",
                          stacklevel=4)  # fmt: skip
        snapshot = job.snapshot()
        if any(b.status == "unknown" for b in snapshot.batches):
            snapshot = job.refresh()  # the first display tells the real state, not "validating"

        def scoped(snap: Any) -> Any:
            return snap if attempt is None else snap.for_attempt(attempt)

        widget = ProgressWidget()
        widget.on_command(job.handle_command)
        widget.update(scoped(snapshot))
        ended = attempt is not None and scoped(snapshot).done

        def follow(snap: Any) -> None:
            nonlocal ended
            if ended:  # an attempt that has ended keeps its output as it is
                return
            view = scoped(snap)
            ended = attempt is not None and view.done
            widget.update(view)

        job.add_listener(follow)
        return widget

    def view(self, job: Job) -> Any:
        """What a cell ending in ``job`` shows: the progress of the attempt a ``job.retry()``
        just started, else the job's widget; the job's text where widgets cannot be made."""
        attempt, job.new_attempt = job.new_attempt, None
        try:
            if attempt:
                return self.attempt_widget(job, attempt)
            return self.widget(job)
        except Exception as exc:  # no widget frontend support: fall back to text
            log.debug("no widget: %r", exc)
            return None

    def show(self, job: Job) -> None:
        from IPython.display import display

        widget = self.view(job)
        if widget is None:
            print(repr(job))
            return
        display(widget)

    def review(self, job: Job, **options: Any) -> Any:
        return review(job, **options)


views = NotebookViews()


def builder(
    df: pd.DataFrame,
    *,
    template: str = "",
    model: str | None = None,
    response_format: Any = None,
    system: str | None = None,
    window: str = "24h",
    api_key: str | None = None,
    base_url: str | None = None,
    **submit_options: Any,
) -> Any:
    """A form to build and submit a batch over ``df``; on submit it turns into the progress.

    >>> dw.builder(df, template="Sentiment of: {review}")   # doctest: +SKIP

    ``response_format`` (a pydantic model or JSON schema) and ``system`` are passed from Python;
    the form edits the template, model, window, max tokens and "Try 10 rows first" (a pilot,
    optionally spread over a column: ``job.proceed()`` or the widget's Proceed sends the rest).
    Column picks insert
    ``{column}`` placeholders; the preview renders a chosen row as the request will be sent.
    """
    from .widgets.builder import BuilderWidget

    connection = connect(api_key, base_url)
    try:
        models = client_for(connection).list_models()
    except (APIError, TransportError):
        models = [model] if model else []
    if model and model not in models:
        models.insert(0, model)
    max_tokens = submit_options.pop("max_tokens", None)  # a form field: shown and editable
    common = {"response_format": response_format, "system": system, **submit_options}

    def built_for(form: Mapping[str, Any], rows: pd.DataFrame) -> Any:
        params = {"max_tokens": form["max_tokens"]} if form.get("max_tokens") else {}
        return build_requests(rows, prompt=form["template"], model=form["model"] or "model",
                              **common, **params)  # fmt: skip

    def render_preview(template: str, row: int) -> str:
        request = built_for({"template": template, "model": model or ""}, df.iloc[[row]])
        return request.prompt_text(0)

    def validate(form: Mapping[str, Any]) -> dict[str, Any]:
        if not form["template"].strip():
            return {"messages": []}
        try:
            built = built_for(form, df)
        except (BuildError, ValueError, KeyError) as exc:
            return {"messages": [{"level": "error", "text": str(exc)}]}
        messages = []
        if not form["model"]:
            messages.append({"level": "error", "text": "choose a model"})
        if connection.answers_simulated:
            messages.append({"level": "info", "text": "no API key: answers will be simulated"})
        estimate = str(estimate_cost(built, window=form["window"] or window))
        if form.get("pilot"):
            estimate += f"; {form['pilot']} rows first, the rest when you proceed"
        return {"messages": messages, "estimate": estimate}

    def on_submit(form: Mapping[str, Any]) -> Any:
        params = {"max_tokens": form["max_tokens"]} if form.get("max_tokens") else {}
        return submit(df, form["template"], model=form["model"], window=form["window"],
                      api_key=api_key, base_url=base_url, **common, **params,
                      **_pilot_options(form))  # fmt: skip

    def code_for(form: Mapping[str, Any]) -> str:
        options: dict[str, Any] = {"model": form["model"], "window": form["window"]}
        if form.get("max_tokens"):
            options["max_tokens"] = form["max_tokens"]
        options.update(_pilot_options(form))
        if system is not None:
            options["system"] = system
        if base_url:
            options["base_url"] = base_url  # never the key: it stays in the environment
        options.update(submit_options)
        args = [f"    {k}={v!r}," for k, v in options.items()]
        if response_format is not None:
            name = getattr(response_format, "__name__", None)
            args.append(f"    response_format={name or repr(response_format)},")
        return "\n".join(["job = dw.submit(", "    df,", f"    {form['template']!r},", *args, ")"])

    return BuilderWidget(
        code_for=code_for,
        columns=[(str(c), str(t)) for c, t in df.dtypes.items()],
        n_rows=len(df),
        render_preview=render_preview,
        row_label=lambda i: str(df.index[i]),
        validate=validate,
        models=models,
        windows=list(wire.COMPLETION_WINDOWS),
        schema=response_format_for(response_format)[1] if response_format is not None else None,
        template=template,
        model=model,
        window=window,
        max_tokens=max_tokens,
        on_submit=on_submit,
    )


def _pilot_options(form: Mapping[str, Any]) -> dict[str, Any]:
    """``pilot=10`` (and ``pilot_by=``) for a builder form that asks to try rows first."""
    if not form.get("pilot"):
        return {}
    by = {"pilot_by": form["pilot_by"]} if form.get("pilot_by") else {}
    return {"pilot": form["pilot"], **by}


def jobs(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    auto_refresh: float | None = 2.0,
    registry: Registry | None = None,
) -> Any:
    """A live dashboard of jobs: one row per job of the local registry (its batches and attempts
    inside) and per other batch on the service, with status, progress, duration and cost.

    Filter by status; Open shows below a running job's progress, or a finished job's review
    (its summary and the code that joins it when this kernel lacks its DataFrame); Cancel
    stops a running one; Proceed sends the rest of a pilot waiting for it; Collect reads the
    answers of autobatch batches (as ``dw.autobatch(name=...).collect()``). Batches the service
    cannot show say where they are instead of showing counts. For every batch as a DataFrame
    use ``dw.list_jobs()``.
    """
    from .widgets.jobs import JobsWidget

    connection = connect(api_key, base_url)
    client = client_for(connection)
    registry = registry or Registry()

    def load() -> list[dict[str, Any]]:
        frame = list_jobs(api_key=api_key, base_url=base_url, registry=registry)
        return job_rows(frame, {r.job_id: r.spec for r in registry.all_jobs()})  # the same jobs

    def on_attach(batch_id: str) -> Any:
        """Open: a running job's progress; a finished job's results."""
        job = attach(batch_id, api_key=api_key, base_url=base_url, registry=registry)
        snap = job.refresh()
        if not snap.done:
            return job.widget()
        return results_view(job, snap)

    def on_cancel(batch_id: str) -> Any:
        try:  # a job of the registry: cancel every batch of its latest attempt
            job = attach(batch_id, api_key=api_key, base_url=base_url, registry=registry)
        except DwError:
            return client.cancel_batch(batch_id)
        return job.cancel()

    def on_proceed(batch_id: str) -> Any:
        record = registry.find(batch_id)
        job = job_with_frame(record.job_id) if record is not None else None
        if job is None:
            name = record.name if record is not None else batch_id
            raise JobError(
                "the rest of a pilot is built from its DataFrame, which this kernel does not "
                f"have: run dw.attach({name!r}, df).proceed()"
            )
        return job.proceed()

    def on_collect(batch_id: str) -> str:
        record = registry.find(batch_id)
        if record is None or record.spec.get("kind") != AUTOBATCH:
            raise JobError(f"{batch_id} is not a batch of an autobatch client")
        calls = collect_autobatch(client=client, registry=registry, name=record.name,
                                  service=connection.service_key, wait=False)  # fmt: skip
        failed = sum(not c.ok for c in calls)
        return (f"collected {len(calls):,} answers of autobatch {record.name!r} "
                f"({failed:,} failed); dw.autobatch(name={record.name!r}).collect() "
                "returns them")  # fmt: skip

    widget = JobsWidget(load=load, on_attach=on_attach, on_cancel=on_cancel,
                        on_proceed=on_proceed, on_collect=on_collect)  # fmt: skip
    if auto_refresh:
        widget.start_auto_refresh(auto_refresh)
    return widget


def results_view(job: Job, snap: Any) -> Any:
    """A finished job's results: its review when a job of this kernel has its DataFrame, else its
    summary (counts, errors, tokens, cost) and the code that joins its results onto the frame."""
    from .widgets.static import card, escape, snapshot_html

    known = job_with_frame(job.id) if job.id else None
    problem = ""
    if known is not None:
        try:
            return review(known)
        except DwError as exc:  # e.g. result files gone: say so below the summary
            problem = str(exc)
    code = f"out = dw.attach({job.name!r}, df).join()   # df: the DataFrame it was submitted with"
    lines = [f"Results of {job.name!r}:", code] + ([problem] if problem else [])
    note = "".join(
        f'<div style="font-family:var(--jp-code-font-family, monospace)">{escape(line)}</div>'
        for line in lines
    )
    return {
        "text/html": no_math(snapshot_html(snap) + card(note, testid="dw-results-howto")),
        "text/plain": "\n".join([format_summary(snap), *lines]),
    }


def _int(value: Any) -> int | None:
    try:
        return None if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return None


def _duration_and_cost(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Seconds from the first batch created to the last ended (or now), and USD from the
    reported usage (None: not reported or no price; ``cost_note`` says why)."""
    import time

    from .prices import price_for

    starts = [b["created_at"] for b in batches if isinstance(b.get("created_at"), pd.Timestamp)]
    ends = [b.get("ended_at") for b in batches]
    duration = None
    if starts:
        if all(isinstance(e, pd.Timestamp) for e in ends):
            duration = (max(ends) - min(starts)).total_seconds()
        else:
            duration = time.time() - min(starts).timestamp()
    model = str(batches[0].get("model") or "")
    # each batch at its own window (a pilot's 1h, the rest's 24h)
    prices = [price_for(model, str(b.get("window") or "24h")) for b in batches]
    tokens = [(_int(b.get("input_tokens")), _int(b.get("output_tokens"))) for b in batches]
    cost, note = None, ""
    measured = [b.get("cost_usd") for b in batches]
    if all(isinstance(c, float) and not pd.isna(c) and c > 0 for c in measured):
        return {"duration_s": duration, "cost": sum(measured), "cost_note": note}  # the service's
    if model in wire.SIMULATED_MODELS:
        note = "n/a (simulated)"
    elif None in prices:
        note = "n/a (no price)"
    elif all(i is not None and o is not None for i, o in tokens):
        cost = sum(i * p.input + o * p.output  # type: ignore[operator, union-attr]
                   for (i, o), p in zip(tokens, prices, strict=True)) / 1e6  # fmt: skip
    return {"duration_s": duration, "cost": cost, "cost_note": note}


def job_rows(
    frame: pd.DataFrame, specs: Mapping[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One dashboard row per job (batches of the registry grouped by job, the service's other
    batches one per row), its batches and attempts listed inside. Counts the service could not
    give stay unknown (None) and the row says where its batches are instead.

    ``specs`` (job id -> the registry's spec) tell pilots and autobatch clients apart: a pilot
    counts as its sample until proceed, then as the whole job (pilot and rest); one whose
    sample has ended and whose rest waits is ``pilot_done`` with ``pilot="waiting"``.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in frame.to_dict("records") if not frame.empty else []:
        groups.setdefault(row.get("job_id") or row["batch_id"], []).append(row)
    rows = []
    for batches in groups.values():
        batches.sort(key=lambda b: (_int(b.get("attempt")) or 0, _int(b.get("chunk")) or 0))
        spec = (specs or {}).get(batches[0].get("job_id") or "") or {}
        pilot = spec.get("pilot") or {}
        # the first submission: attempt 0, or a pilot (0) and the rest (1) together
        base = 2 if pilot.get("proceeded") else 1
        latest = max(_int(b.get("attempt")) or 0 for b in batches)
        current = [b for b in batches if (_int(b.get("attempt")) or 0) == latest]
        seen = [b for b in current if b.get("where") == "on the service"]
        away = sorted({str(b.get("where")) for b in batches if b.get("where") != "on the service"})
        first = [b for b in batches if (_int(b.get("attempt")) or 0) < base]
        totals = [_int(b.get("total")) for b in first]
        total = None if not totals or None in totals else sum(totals)  # type: ignore[arg-type]
        done = [_int(b.get("completed")) for b in batches]
        completed = None if None in done else min(sum(done), total or 0)  # type: ignore[arg-type]
        failed_now = [_int(b.get("failed")) for b in (current if latest >= base else first)]
        status = aggregate_phase(str(b.get("status")) for b in seen) if seen else "unknown"
        ended = status == wire.COMPLETED and len(seen) == len(current)
        waiting = bool(pilot) and base == 1 and ended
        if waiting:
            status = PILOT_DONE
        created = batches[0].get("created_at")
        rows.append({
            **_duration_and_cost(batches),
            "id": batches[0]["batch_id"], "job_id": batches[0].get("job_id") or "",
            "name": batches[0].get("job") or "", "status": status, "total": total,
            "completed": completed,
            "failed": None if None in failed_now else sum(failed_now),  # type: ignore[arg-type]
            "created_at": created.timestamp() if isinstance(created, pd.Timestamp) else None,
            "model": batches[0].get("model") or "",
            "source": "local" if batches[0].get("job_id") else "server",
            "attempts": latest + 1, "where": ", ".join(away),
            "cancellable": status in wire.CANCELLABLE and len(seen) == len(current),
            "pilot": "waiting" if waiting else ("proceeded" if base == 2 else ""),
            "collectable": spec.get("kind") == AUTOBATCH,
            "batches": [
                {"id": b["batch_id"], "attempt": _int(b.get("attempt")) or 0,
                 "status": str(b.get("status") or "unknown"), "total": _int(b.get("total")),
                 "completed": _int(b.get("completed")), "failed": _int(b.get("failed")),
                 "where": str(b.get("where") or "")}
                for b in batches
            ],
        })  # fmt: skip
    return rows


def review(job: Any, frame: pd.DataFrame | None = None, **options: Any) -> Any:
    """Label distributions, failures and paged samples (prompt beside answer) of a job.

    ``frame`` defaults to ``job.join()`` (or ``job.partial()`` while the job runs).
    """
    from .widgets.review import META_COLUMNS, ReviewWidget

    if frame is None:
        frame = job._join() if job.done else job._partial()  # unprefixed: read by name
    prompt = _prompt_lookup(job, frame)
    own = job.source_columns
    if own is not None and "answer_columns" not in options:
        # the answers are the columns the join added, not the rows' own
        options["answer_columns"] = [
            c for c in frame.columns if c not in own and c not in META_COLUMNS
        ]
    options.setdefault("first_retry", 2 if job.spec.get("pilot") else 1)  # after pilot and rest
    return ReviewWidget(frame, prompt=prompt, **options)


def _prompt_lookup(job: Any, frame: pd.DataFrame) -> Any:
    """row position -> the prompt text that was sent for it (None when not known)."""
    built = getattr(job, "built", None)
    if built is None or len(frame) != built.n_rows:
        return None
    request_of_row = {int(p): i for i, p in enumerate(built.positions)}

    def prompt(position: int) -> str | None:
        i = request_of_row.get(position)
        return None if i is None else built.prompt_text(i)

    return prompt
