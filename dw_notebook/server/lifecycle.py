"""What happens to one batch: validation, saving results, finishing, closing early, retrying.

Only the runner thread calls these. Lines are written to the output/error files first (right
after the committed bytes), then request states and the new committed sizes are saved in one
SQLite transaction; a restart cuts each file back to its committed size and reruns requests not
marked done, so nothing is lost or done twice.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable

import orjson

from dw_notebook import wire
from dw_notebook.server import dw_upload, prices, records
from dw_notebook.server.clock import Clock
from dw_notebook.server.dialects import Dialect
from dw_notebook.server.estimate import RecentOutputs
from dw_notebook.server.files import FileStore, write_private
from dw_notebook.server.store import Store, Todo
from dw_notebook.server.validation import Parsed, parse_file

RETRIABLE = frozenset({408, 429, 500, 502, 503, 504})
_SPAN_SLACK = 1 << 20  # bytes of other lines a chunk's single read may cover


def usage_tokens(body: dict) -> tuple[int, int]:
    """(input, output) tokens of an answer (chat/completions/embeddings or Responses names)."""
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0
    return int(tokens_in), int(tokens_out)


def _has_output_tokens(body: dict) -> bool:
    usage = body.get("usage")
    return isinstance(usage, dict) and ("completion_tokens" in usage or "output_tokens" in usage)


def call_of(line: bytes, attempts: int) -> tuple[str, dict, int]:
    """(url, body, attempt) of one input line."""
    obj = orjson.loads(line)
    return obj["url"], obj["body"], attempts


class Lifecycle:
    """State changes and file writes of batches (no scheduling, no backend calls)."""

    def __init__(
        self,
        store: Store,
        files: FileStore,
        dialect: Dialect,
        shuffle: bool = False,
        max_attempts: int = 3,
        retry_backoff: float = 1.0,
    ) -> None:
        self.store, self.files, self.dialect = store, files, dialect
        self.shuffle = shuffle
        self.max_attempts = max_attempts
        self.models: frozenset[str] | None = None  # checked at validation when set (OpenAI)
        self.retry_backoff = retry_backoff
        self.recent = RecentOutputs()  # for the cost estimate's output tokens

    def recover(self) -> None:
        """Cut files back to their committed sizes (undoing writes a crash left half-recorded)."""
        for b in self.store.active_batches():
            for fid, size in ((b["out_id"], b["out_bytes"]), (b["err_id"], b["err_bytes"])):
                if self.files.size(fid) > size or not self.files.path(fid).exists():
                    self.files.truncate(fid, size)
                if self.store.get_file(fid):
                    self.store.set_file_bytes(fid, size)

    def _unknown_model(self, parsed: Parsed) -> list[dict]:
        """OpenAI checks the file's model against the models it lists, at validation."""
        if self.models is None or parsed.model is None or parsed.model in self.models:
            return []
        line = parsed.requests[0][0] if parsed.requests else None
        return [
            {
                "code": "model_not_found",
                "message": f"The model '{parsed.model}' does not exist or you do not have "
                "access to it.",
                "param": "body.model",
                "line": line,
            }
        ]

    def validate(self, b: dict, now: float) -> bool:
        """Check the input file: ``failed`` with every bad line, or ``in_progress`` with rows."""
        try:
            path = self.files.path(b["input_file_id"])
            if self.dialect.validate_at_upload:  # checked then; lines need not match endpoint
                parsed = Parsed(requests=dw_upload.scan(path).requests)
            else:
                parsed = parse_file(path, b["endpoint"], self.dialect.unique_custom_ids)
        except dw_upload.LineError as exc:
            errors = [{"code": None, "message": exc.message, "param": None, "line": None}]
        except FileNotFoundError:
            errors = [
                {
                    "code": "file_not_found",
                    "message": "The input file was deleted.",
                    "param": "input_file_id",
                    "line": None,
                }
            ]
        else:
            errors = parsed.errors or self._unknown_model(parsed)
        if errors:
            if self.dialect.validate_at_upload:  # the engine's mark_batch_failed: a message
                errors = {"message": "; ".join(e["message"] for e in errors[:5])}
            self.store.update_batch(
                b["id"],
                expect=wire.VALIDATING,
                status=wire.FAILED,
                failed_at=now,
                errors=orjson.dumps(errors).decode(),
            )
            return True
        n = len(parsed.requests)
        order = list(range(n))
        if self.shuffle:
            random.shuffle(order)
        rows = [(i, order[i], cid, off, ln) for i, (_, cid, off, ln) in enumerate(parsed.requests)]
        for fid in (b["out_id"], b["err_id"]):
            if not self.files.path(fid).exists():
                self.files.create_empty(fid)
        self.store.start_batch(
            b["id"],
            rows,
            {"status": wire.IN_PROGRESS, "in_progress_at": now, "total": n, "model": parsed.model},
        )
        return True

    def read_lines(self, b: dict, todo: list[Todo]) -> list[bytes]:
        """The input line of each request in ``todo`` (raises OSError when the file is gone).

        Requests usually sit together in the file, so their span is read in one go.
        """
        start = min(r[2] for r in todo)
        end = max(r[2] + r[3] for r in todo)
        with open(self.files.path(b["input_file_id"]), "rb") as fh:
            if end - start <= 2 * sum(r[3] for r in todo) + _SPAN_SLACK:
                fh.seek(start)
                span = fh.read(end - start)
                return [span[off - start : off - start + ln] for _, _, off, ln, _, _ in todo]
            lines = []
            for _, _, off, ln, _, _ in todo:
                fh.seek(off)
                lines.append(fh.read(ln))
            return lines

    def save(
        self, b: dict, todo: list[Todo], replies: Iterable[tuple[int, dict]], clock: Clock
    ) -> None:
        """Write the lines for ``replies`` and record the outcome of each request in ``todo``.

        ``replies`` may be lazy: each answer is made as it is saved, stamped with the time it
        is saved, and only its line is kept (less for the garbage collector to scan).
        Doubleword retries 429/5xx answers (``retry`` state, not yet counted as failed), timed
        from the start of this chunk so that equal retries are recorded in one statement.
        """
        started = clock.now()
        out, err, updates = [], [], []
        deltas = dict.fromkeys(
            ("completed", "failed", "retrying", "input_tokens", "output_tokens", "ok_requests",
             "cost_pico", "duration_ms"), 0
        )  # fmt: skip
        for (idx, custom_id, _, _, attempts, state), reply in zip(todo, replies, strict=True):
            status, body = reply[0], reply[1]
            now = clock.now()
            stamp = int(now)
            line_id = self.dialect.request_id(b["id"], idx)
            if state == "retry":
                deltas["retrying"] -= 1
            if status < 400:
                if body.get("created") == 0:
                    body["created"] = stamp
                tokens_in, tokens_out = usage_tokens(body)
                deltas["input_tokens"] += tokens_in
                deltas["output_tokens"] += tokens_out
                if 200 <= status < 300:
                    model = reply[2] if len(reply) > 2 else body.get("model", "")
                    if status == 200 and _has_output_tokens(body):
                        self.recent.add(model, tokens_out)
                    window = b["completion_window"]
                    deltas["ok_requests"] += 1
                    deltas["cost_pico"] += prices.pico_cost(model, window, tokens_in, tokens_out)
                    deltas["duration_ms"] += reply[3] if len(reply) > 3 else 0.0
                out.append(records.response_line(line_id, custom_id, status, body))
                deltas["completed"] += 1
                updates.append(("done", attempts + 1, None, idx))
            elif (
                self.dialect.retries_failures
                and status in RETRIABLE
                and attempts + 1 < self.max_attempts
            ):
                deltas["retrying"] += 1
                retry_at = started + self.retry_backoff * 2**attempts
                updates.append(("retry", attempts + 1, retry_at, idx))
            else:
                err.append(records.response_line(line_id, custom_id, status, body))
                deltas["failed"] += 1
                updates.append(("failed", attempts + 1, None, idx))
        fields = {}
        if out:
            fields["out_bytes"] = self.files.append_at(b["out_id"], b["out_bytes"], b"".join(out))
        if err:
            fields["err_bytes"] = self.files.append_at(b["err_id"], b["err_bytes"], b"".join(err))
        self.store.record(b["id"], updates, deltas, fields)
        self._sync_file_sizes(b, fields)

    def _sync_file_sizes(self, b: dict, fields: dict) -> None:
        if not self.dialect.files_from_creation:
            return
        if "out_bytes" in fields:
            self.store.set_file_bytes(b["out_id"], fields["out_bytes"])
        if "err_bytes" in fields:
            self.store.set_file_bytes(b["err_id"], fields["err_bytes"])

    def _publish(self, b: dict, now: float) -> dict:
        """File ids to show on a finished batch (OpenAI: only non-empty files, made now)."""
        b = self.store.get_batch(b["id"]) or b
        if self.dialect.files_from_creation:
            self.store.set_file_bytes(b["out_id"], b["out_bytes"])
            self.store.set_file_bytes(b["err_id"], b["err_bytes"])
            return {}
        ids = {}
        for fid, size, key, kind in (
            (b["out_id"], b["out_bytes"], "output_file_id", "output"),
            (b["err_id"], b["err_bytes"], "error_file_id", "error"),
        ):
            if size > 0:
                if not self.store.get_file(fid):
                    self.store.insert_file(
                        {
                            "id": fid,
                            "filename": f"{b['id']}_{kind}.jsonl",
                            "purpose": "batch_output",
                            "bytes": size,
                            "created_at": now,
                            "expires_at": None,
                            "status": "processed",
                            "batch_id": b["id"],
                        }
                    )
                ids[key] = fid
            else:
                self.files.delete(fid)
        return ids

    def finish(self, b: dict, now: float) -> None:
        """``finalizing`` to ``completed`` (Doubleword: ``failed`` when every request failed)."""
        ids = self._publish(b, now)
        all_failed = b["total"] > 0 and b["completed"] == 0 and b["failed"] == b["total"]
        if all_failed and self.dialect.all_failed_status == wire.FAILED:
            fields = {"status": wire.FAILED, "failed_at": now}
        else:
            fields = {"status": wire.COMPLETED, "completed_at": now}
        self.store.update_batch(b["id"], expect=wire.FINALIZING, **fields, **ids)
        self._drop_deleted_input(b)

    def _drop_deleted_input(self, b: dict) -> None:
        """The bytes of an input file deleted while this batch ran, once no batch reads them."""
        fid = b["input_file_id"]
        if self.store.get_file(fid) is None and not any(
            a["input_file_id"] == fid for a in self.store.active_batches()
        ):
            self.files.delete(fid)

    def close(
        self, b: dict, now: float, code: str, status: str, errors: list | None = None
    ) -> None:
        """End a batch early: requests that never ran get ``code`` lines in the error file."""
        lines, updates = [], []
        left = self.store.unfinished_requests(b["id"])
        for r in left:
            line_id = self.dialect.request_id(b["id"], r["idx"])
            lines.append(records.error_line(line_id, r["custom_id"], code))
            updates.append(("not_run", 0, None, r["idx"]))
        fields = {}
        if lines:
            fields["err_bytes"] = self.files.append_at(b["err_id"], b["err_bytes"], b"".join(lines))
        retrying = sum(1 for r in left if r["state"] == "retry")
        self.store.record(b["id"], updates, {"retrying": -retrying}, fields)
        self._sync_file_sizes(b, fields)
        ids = self._publish(b, now)
        if errors:
            ids["errors"] = orjson.dumps(errors).decode()
        stamp = {wire.EXPIRED: "expired_at", wire.CANCELLED: "cancelled_at"}.get(
            status, "failed_at"
        )
        self.store.update_batch(b["id"], expect=b["status"], status=status, **{stamp: now}, **ids)
        self._drop_deleted_input(b)

    def retry_failed(self, batch_id: str) -> int:
        """Doubleword retry: failed and canceled requests go back to pending (the failed
        ones' error lines are removed), and a cancel is overturned, as
        ``retry_failed_requests_for_batch`` does. Returns how many requests were re-pended."""
        b = self.store.get_batch(batch_id)
        if not b:
            return 0
        failed = self.store.failed_requests(batch_id)
        canceled = self.store.failed_requests(batch_id, "canceled")
        if not failed and not canceled and b["cancelling_at"] is None:
            return 0
        fields: dict = {
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
        }
        if b["in_progress_at"] is not None:  # populated: runs again (else validating for ever)
            fields["status"] = wire.IN_PROGRESS
        if failed:
            ids = {self.dialect.request_id(batch_id, r["idx"]) for r in failed}
            kept = [
                line
                for line in self.files.read(b["err_id"], b["err_bytes"]).splitlines(True)
                if records.line_id_of(line) not in ids
            ]
            tmp = self.files.path(b["err_id"]).with_suffix(".tmp")
            write_private(tmp, b"".join(kept))
            os.replace(tmp, self.files.path(b["err_id"]))
            fields["err_bytes"] = sum(len(line) for line in kept)
        # attempts keep counting: the next try is a new attempt, not a replay of the first
        updates = [("pending", r["attempts"], None, r["idx"]) for r in failed + canceled]
        self.store.record(batch_id, updates, {"failed": -len(failed)}, fields)
        self._sync_file_sizes(b, fields)
        return len(updates)
