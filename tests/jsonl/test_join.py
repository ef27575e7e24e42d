"""join_results: output and error lines become columns on a copy of the DataFrame."""

from __future__ import annotations

import random
import warnings
from typing import Literal

import numpy as np
import orjson
import pandas as pd
import pytest
from pydantic import BaseModel

import dw_notebook.jsonl.results as results
import dw_notebook.jsonl.results._table as result_lines
import dw_notebook.jsonl.results.join as join_module
from dw_notebook import wire
from dw_notebook.jsonl.requests import build_requests, make_custom_ids
from dw_notebook.jsonl.results import ResultTable, join_results, parse_results

from .result_lines import completion, embedding, failure, http_error, jsonl, ok


@pytest.fixture(params=["per_line", "arrow"])
def parser(request, monkeypatch):
    """Run each join test through both parsers: they must agree on everything."""
    monkeypatch.setattr(
        result_lines, "_FAST_MIN_BYTES", 10**12 if request.param == "per_line" else 0
    )
    return request.param


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [f"t{i}" for i in range(6)]},
        index=pd.Index([f"k{i}" for i in range(6)], name="key"),
    )


def test_every_status_and_shuffled_order(df, parser):
    built = build_requests(df, model="m", prompt="{text}")
    out = jsonl(ok("k3", "three", finish="length", completion_tokens=9), ok("k0", "zero"))
    err = jsonl(
        http_error("k1", 429, "rate_limit", "slow down"),
        failure("k2", wire.EXPIRED_CODE, "window passed"),
        failure("k4", wire.CANCELLED_CODE, "cancelled"),
    )
    joined = join_results(df, built, outputs=[out], errors=[err])
    assert joined.index.equals(df.index) and joined["text"].equals(df["text"])
    assert joined["status"].tolist() == ["ok", "failed", "expired", "ok", "cancelled", "not_run"]
    assert joined["content"].tolist()[0] == "zero" and joined["content"].iloc[3] == "three"
    assert joined["content"].isna().tolist() == [False, True, True, False, True, True]
    assert joined["error"].iloc[1] == "HTTP 429: rate_limit: slow down"
    assert joined["error"].iloc[2] == "batch_expired: window passed"
    assert joined["finish_reason"].tolist()[3] == "length"
    assert joined["completion_tokens"].tolist()[3] == 9
    assert joined["prompt_tokens"].dtype == "Int64"
    assert joined["prompt_tokens"].isna().tolist() == [False, True, True, False, True, True]
    assert list(joined["status"].cat.categories) == list(results.STATUSES)
    assert "content" not in df.columns, "the caller's DataFrame is untouched"


def test_other_failures_without_a_not_run_code_are_failed(df, parser):
    err = jsonl(
        failure("k0", "server_error", "x"),
        http_error("k1", 400, None, "bad body"),
        {"custom_id": "k2", "response": {"status_code": 503, "body": {}}, "error": None},
    )
    joined = join_results(df, make_custom_ids(df.index), errors=[err])
    assert joined["status"].tolist()[:3] == ["failed"] * 3
    assert joined["error"].tolist()[:3] == ["server_error: x", "HTTP 400: bad body", "HTTP 503"]


def test_an_answer_wins_over_a_failure_of_the_same_request(df, parser):
    ids = make_custom_ids(df.index)
    first = jsonl(ok("k0", "first"), failure("k1", "server_error"), failure("k2", "a"))
    later = jsonl(failure("k0", "server_error"), ok("k1", "retried"), failure("k2", "b"))
    joined = join_results(df, ids, outputs=[("batch_1", first), ("batch_2", later)])
    assert joined["status"].tolist()[:3] == ["ok", "ok", "failed"]
    assert joined["content"].tolist()[:2] == ["first", "retried"]
    assert joined["error"].iloc[2] == "b: no", "the latest failure is reported"
    assert joined["batch_id"].tolist()[:3] == ["batch_1", "batch_2", "batch_2"]


def test_skipped_rows_are_marked_skipped(parser):
    frame = pd.DataFrame({"t": ["a", None, "c"]})
    built = build_requests(frame, model="m", prompt="{t}", missing="skip")
    joined = join_results(frame, built, outputs=[jsonl(ok("0", "A"))])
    assert joined["status"].tolist() == ["ok", "skipped", "not_run"]


def test_ids_list_gives_the_same_join_as_the_build(df, parser):
    built = build_requests(df, model="m", prompt="{text}")
    out = jsonl(*(ok(cid, cid.upper()) for cid in reversed(built.custom_ids)))
    by_built = join_results(df, built, outputs=[out])
    by_ids = join_results(df, make_custom_ids(df.index), outputs=[out])
    pd.testing.assert_frame_equal(by_built, by_ids)
    assert by_ids["content"].tolist() == [f"K{i}" for i in range(6)]


def test_malformed_lines_are_reported_and_the_rest_joined(df, parser):
    out = jsonl(ok("k0", "a")) + b"{not json\n" + jsonl(ok("k1", "b")) + b'{"custom_id": 5}\n'
    out += b"[1, 2]\n" + jsonl({"custom_id": "k2"}) + jsonl(ok("k3", "d"))
    out += b"x" * (40 * 1024) + b"\n"  # big enough for the Arrow reader to be tried
    with pytest.warns(UserWarning, match="4 malformed result line"):
        with pytest.warns(UserWarning, match="1 answer"):
            joined = join_results(df, make_custom_ids(df.index), outputs=[out])
    assert joined["status"].tolist() == ["ok", "ok", "unreadable", "ok", "not_run", "not_run"]
    bad = joined.attrs["dw_malformed_lines"]
    assert [b["line"] for b in bad] == [2, 4, 5, 8]
    assert joined.attrs["dw_malformed_count"] == 4
    assert bad[0]["source"] == "outputs[0]" and bad[0]["text"] == "{not json"
    # a line that names its row but holds no outcome is the row's, reported with its number
    assert joined.attrs["dw_unreadable_count"] == 1
    assert joined["error"].iloc[2] == (
        "answer received but unreadable (outputs[0] line 6): "
        "line has neither a response nor an error"
    )


def test_results_for_other_rows_are_counted_not_joined(df, parser):
    with pytest.warns(UserWarning, match="None of the 2 result lines matched"):
        joined = join_results(
            df, make_custom_ids(df.index), outputs=[jsonl(ok("zz", "x"), ok("yy", "y"))]
        )
    assert joined.attrs["dw_unmatched_ids"] == 2
    assert (joined["status"] == "not_run").all()


class Label(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    confidence: float
    stars: int
    spam: bool
    status: str  # collides with a result column
    note: str | None = None


def test_schema_fields_become_typed_columns_with_parse_errors(df, parser):
    built = build_requests(df, model="m", prompt="{text}", response_format=Label)
    answers = {
        "k0": {
            "sentiment": "positive",
            "confidence": 0.9,
            "stars": 5,
            "spam": False,
            "status": "new",
            "note": None,
        },
        "k1": {
            "sentiment": "bogus",
            "confidence": 1,
            "stars": 2.0,
            "spam": True,
            "status": "x",
            "note": "n",
        },
        "k2": "not json at all",
        "k3": {
            "sentiment": "neutral",
            "confidence": "high",
            "stars": 1,
            "spam": True,
            "status": "y",
        },
        "k4": ["a list"],
    }
    lines = [
        ok(k, v if isinstance(v, str) else orjson.dumps(v).decode()) for k, v in answers.items()
    ]
    joined = join_results(df, built, outputs=[jsonl(*reversed(lines))])
    assert joined["sentiment"].dtype == "category"
    assert list(joined["sentiment"].cat.categories) == ["positive", "negative", "neutral"]
    assert joined["sentiment"].tolist()[:4] == ["positive", np.nan, np.nan, "neutral"]
    assert joined["confidence"].dtype == "Float64" and joined["confidence"].iloc[1] == 1.0
    assert joined["stars"].dtype == "Int64" and joined["stars"].tolist()[:2] == [5, 2]
    assert joined["spam"].dtype == "boolean"
    assert joined["answer_status"].tolist()[:2] == ["new", "x"]
    # an answer that does not fit the schema is not ok: it is unparsed, and says why
    assert joined["status"].tolist() == ["ok"] + ["unparsed"] * 4 + ["not_run"]
    errs = joined["parse_error"].tolist()
    assert pd.isna(errs[0])
    assert errs[1] == "'sentiment' 'bogus' is not one of ['positive', 'negative', 'neutral']"
    assert errs[2].startswith("answer is not valid JSON")
    assert errs[3] == "'confidence' expected number, got str"
    assert errs[4].startswith("answer is not a JSON object")
    assert pd.isna(errs[5])
    assert pd.isna(joined["confidence"].iloc[3]), "nothing of an invalid answer is guessed"


def test_missing_required_field_is_a_parse_error(df, parser):
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": ["integer", "null"]}},
        "required": ["a", "b"],
    }
    out = jsonl(
        ok("k0", '{"b": 1}'),
        ok("k1", '{"a": "x", "b": null}'),
        ok("k2", '{"a": "x", "b": 2, "extra": [1]}'),
        ok("k3", None),
    )
    with pytest.warns(UserWarning, match="1 answer"):
        joined = join_results(df, make_custom_ids(df.index), outputs=[out], schema=schema)
    assert joined["parse_error"].tolist()[:4] == [
        "'a' is missing or null",
        np.nan,
        np.nan,
        np.nan,
    ]
    assert joined["b"].tolist()[:3] == [1, pd.NA, 2]
    # a 200 without answer text is never ok: it is unreadable, and says why
    assert joined["status"].iloc[3] == "unreadable"
    assert "HTTP 200 with no answer in the body" in joined["error"].iloc[3]


def test_pretty_printed_answers_are_parsed(df, parser):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    out = jsonl(ok("k0", '{\n  "a": "x"\n}'), ok("k1", ' {"a": "y"} '))
    joined = join_results(df, make_custom_ids(df.index), outputs=[out], schema=schema)
    assert joined["a"].tolist()[:2] == ["x", "y"]
    assert joined["parse_error"].isna().all()


def test_nested_schema_fields_are_objects(df, parser):
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object", "properties": {"k": {"type": "integer"}}},
            "level": {"enum": [1, 2, 3]},
        },
    }
    out = jsonl(
        ok("k0", '{"tags": ["a", "b"], "meta": {"k": 1}, "level": 2}'),
        ok("k1", '{"tags": "a", "meta": {"k": 1}, "level": 7}'),
    )
    joined = join_results(df, make_custom_ids(df.index), outputs=[out], schema=schema)
    assert joined["tags"].iloc[0] == ["a", "b"] and joined["meta"].iloc[0] == {"k": 1}
    assert joined["level"].iloc[0] == 2
    assert joined["parse_error"].iloc[1] == (
        "'tags' expected array, got str; 'level' 7 is not one of [1, 2, 3]"
    )


def test_pydantic_refs_are_followed(df, parser):
    class Inner(BaseModel):
        kind: Literal["a", "b"]

    class Outer(BaseModel):
        inner: Inner
        choice: Literal["x", "y"]

    built = build_requests(df, model="m", prompt="{text}", response_format=Outer)
    out = jsonl(ok("k0", '{"inner": {"kind": "a"}, "choice": "y"}'))
    joined = join_results(df, built, outputs=[out])
    assert joined["inner"].iloc[0] == {"kind": "a"} and joined["choice"].iloc[0] == "y"


def test_tool_calls_give_name_and_parsed_arguments(df, parser):
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "rate", "arguments": '{"stars": 4}'}}
    ]
    bad = [{"id": "c2", "type": "function", "function": {"name": "rate", "arguments": "{oops"}}]
    out = jsonl(
        ok("k0", None, tool_calls=calls, finish="tool_calls"),
        ok("k1", None, tool_calls=bad),
        ok("k2", "plain"),
    )
    joined = join_results(df, make_custom_ids(df.index), outputs=[out])
    assert joined["tool_name"].tolist()[:3] == ["rate", "rate", np.nan]
    assert joined["tool_arguments"].tolist()[:3] == [{"stars": 4}, "{oops", None]
    assert joined["finish_reason"].iloc[0] == "tool_calls"


def test_embeddings_become_vectors(df, parser):
    out = jsonl(embedding("k1", [0.5, -1.0, 2.0]), embedding("k0", [1.0, 0.0, 0.0]))
    joined = join_results(df, make_custom_ids(df.index), outputs=[out], endpoint=wire.EMBEDDINGS)
    assert "content" not in joined.columns
    np.testing.assert_allclose(joined["embedding"].iloc[1], [0.5, -1.0, 2.0])
    assert joined["embedding"].iloc[2] is None
    assert joined["prompt_tokens"].iloc[0] == 5


def test_completions_text_is_the_content(df, parser):
    built = build_requests(df, model="m", prompt="{text}", endpoint="completions")
    joined = join_results(df, built, outputs=[jsonl(completion("k0", "Once upon"))])
    assert joined["content"].iloc[0] == "Once upon"
    assert joined["finish_reason"].iloc[0] == "length"


def test_results_can_arrive_in_pieces(df, parser):
    ids = make_custom_ids(df.index)
    lines = [ok(cid, f"answer {cid}") for cid in ids]
    whole = join_results(df, ids, outputs=[("b", jsonl(*lines))])
    table = ResultTable()
    for start in range(0, len(lines), 2):
        table.add(jsonl(*lines[start : start + 2]), batch_id="b")
    pieced = join_results(df, ids, results=table)
    pd.testing.assert_frame_equal(whole, pieced)
    assert len(table) == 6 and table.lines == 6


def test_empty_inputs_give_all_not_run(df, parser):
    joined = join_results(df, make_custom_ids(df.index), outputs=[b"", b"\n"], errors=[])
    assert (joined["status"] == "not_run").all()
    assert joined["content"].isna().all()


def test_ids_must_align_with_rows_and_be_unique(df):
    with pytest.raises(ValueError, match="6 rows"):
        join_results(df, ["a"], outputs=[])
    with pytest.raises(ValueError, match="unique"):
        join_results(df, ["a", "a", "b", "c", "d", "e"], outputs=[])
    built = build_requests(df.iloc[:3], model="m", prompt="{text}")
    with pytest.raises(ValueError, match="same DataFrame"):
        join_results(df, built, outputs=[])


def _random_lines(rng: random.Random, ids: list[str]) -> list[dict]:
    makers = [
        lambda c: ok(c, rng.choice(['{"a": "x"}', '{"a": 1}', "oops", '{"a": "y", "b": 2}'])),
        lambda c: ok(c, None, tool_calls=[{"function": {"name": "f", "arguments": "{}"}}]),
        lambda c: http_error(c, rng.choice([400, 429, 500]), rng.choice([None, "e"]), "m"),
        lambda c: failure(c, rng.choice(["batch_expired", "batch_cancelled", "x"])),
        lambda c: completion(c, "t"),
    ]
    return [rng.choice(makers)(rng.choice(ids + ["other"])) for _ in range(rng.randint(0, 40))]


@pytest.mark.parametrize("seed", range(8))
def test_arrow_reader_and_per_line_parser_agree(df, monkeypatch, seed):
    rng = random.Random(seed)
    ids = make_custom_ids(df.index)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    out, err = jsonl(*_random_lines(rng, ids)), jsonl(*_random_lines(rng, ids))
    frames = []
    for threshold in (10**12, 0):
        monkeypatch.setattr(result_lines, "_FAST_MIN_BYTES", threshold)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames.append(
                join_results(df, ids, outputs=[("b1", out)], errors=[("b1", err)], schema=schema)
            )
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_parse_results_reads_outputs_then_errors():
    table = parse_results([("b", jsonl(ok("x", "a")))], [("b", jsonl(failure("y")))])
    got = table.table().to_pydict()
    assert got["custom_id"] == ["x", "y"] and got["batch_id"] == ["b", "b"]


def test_one_bad_line_in_a_big_file_costs_only_its_block(monkeypatch):
    monkeypatch.setattr(result_lines, "_FAST_MIN_BYTES", 0)
    monkeypatch.setattr(result_lines, "_RETRY_BLOCK", 4096)
    frame = pd.DataFrame({"t": range(300)})
    ids = make_custom_ids(frame.index)
    lines = [orjson.dumps(ok(cid, f"answer {cid}")) for cid in ids]
    lines[149] = b'{"custom_id": "149", "response": {"status_code": 200, "body": {'  # cut off
    per_line: list[int] = []
    original = ResultTable._parse_lines

    def spy(self, raw, *args, **kwargs):
        per_line.append(raw.count(b"\n"))
        return original(self, raw, *args, **kwargs)

    monkeypatch.setattr(ResultTable, "_parse_lines", spy)
    with pytest.warns(UserWarning, match="1 answer"):
        joined = join_results(frame, ids, outputs=[b"\n".join(lines) + b"\n"])
    assert joined.attrs["dw_unreadable_lines"][0]["line"] == 150
    assert (joined["status"] == "ok").sum() == 299 and joined["status"].iloc[149] == "unreadable"
    assert joined["content"].iloc[299] == "answer 299"
    assert sum(per_line) < 60, "only the block holding the bad line is read line by line"


def test_results_in_order_shuffled_or_mixed_give_the_same_join(parser):
    frame = pd.DataFrame({"t": range(300)})
    ids = make_custom_ids(frame.index)
    lines = [ok(cid, f"answer {cid}") for cid in ids]
    shuffled = random.Random(0).sample(lines, len(lines))
    layouts = {
        "in order": [jsonl(*lines)],
        "files in order, read last first": [jsonl(*lines[200:]), jsonl(*lines[:200])],
        "shuffled": [jsonl(*shuffled)],
        "a row missing": [jsonl(*lines[:5], *lines[6:])],
        "lines for other rows": [jsonl(*lines[:150], ok("other", "x")), jsonl(*lines[150:])],
    }
    errors = jsonl(failure(ids[3]), failure(ids[7]), failure("elsewhere"))  # ok lines win
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joined = {
            name: join_results(frame, ids, outputs=outputs, errors=[errors])
            for name, outputs in layouts.items()
        }
    answered = pd.Series([f"answer {cid}" for cid in ids], name="content")
    for name, out in joined.items():
        content = answered.where(frame.index != 5) if name == "a row missing" else answered
        pd.testing.assert_series_equal(out["content"], content.astype(out["content"].dtype))
        expected = ["not_run" if name == "a row missing" and i == 5 else "ok" for i in range(300)]
        assert out["status"].astype(str).tolist() == expected, name
        other = 2 if name == "lines for other rows" else 1
        assert out.attrs["dw_unmatched_ids"] == other, name


def test_answers_of_other_shapes_after_the_first_lines_are_read_by_arrow(df, monkeypatch):
    monkeypatch.setattr(result_lines, "_FAST_MIN_BYTES", 0)
    monkeypatch.setattr("dw_notebook.jsonl.results._lines._SNIFF", 300)  # about one line
    ids = make_custom_ids(df.index)
    call = [{"type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    lines = [
        *(ok(ids[0], "chat"), ok(ids[1], "chat"), ok(ids[2], None, tool_calls=call)),
        *(completion(ids[3], "text"), embedding(ids[4], [0.5, 1.0]), ok(ids[5], "chat")),
    ]
    data = jsonl(*lines)
    assert b'"tool_calls"' not in data[:300] and b'"text"' not in data[:300]
    per_line = []
    monkeypatch.setattr(ResultTable, "_parse_lines", lambda *a, **k: per_line.append(a))
    fast = join_results(df, ids, outputs=[data])
    assert not per_line, "one Arrow read with every field, not the per-line parser"
    monkeypatch.undo()
    reference = join_results(df, ids, outputs=[data])  # the per-line parser
    pd.testing.assert_frame_equal(fast, reference)
    assert fast["tool_name"].tolist()[2] == "f" and fast["content"].tolist()[3] == "text"


def test_a_later_answer_with_text_and_a_tool_call_keeps_its_call(df, monkeypatch):
    # such a line counts as answered by its text: only a search of every byte finds its call
    monkeypatch.setattr(result_lines, "_FAST_MIN_BYTES", 0)
    monkeypatch.setattr("dw_notebook.jsonl.results._lines._SNIFF", 300)  # about one line
    ids = make_custom_ids(df.index)
    call = [{"type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]
    data = jsonl(
        ok(ids[0], "chat"), ok(ids[1], "chat"), ok(ids[2], "I will call f", tool_calls=call)
    )
    assert b'"tool_calls"' not in data[:300]
    out = join_results(df, ids, outputs=[data])
    assert out["tool_name"].tolist()[2] == "f" and out["content"].tolist()[2] == "I will call f"
    assert out["tool_arguments"].tolist()[2] == {"a": 1}


def test_tables_read_apart_merge_as_if_read_one_after_another():
    malformed = b'{"no": "custom_id"}\n' * 80
    files = [(f"b{k}", malformed + jsonl(ok(f"x{k}", "a")), f"file-{k}") for k in range(2)]
    whole = parse_results(files)
    merged = ResultTable.merged(parse_results([file]) for file in files)
    assert merged.malformed == whole.malformed and len(merged.malformed) == 100  # the first kept
    assert merged.malformed[-1]["source"] == "output file file-1"
    assert merged.malformed_count == whole.malformed_count == 160
    assert merged.lines == whole.lines == 2
    assert merged.table().equals(whole.table())


def test_a_second_join_of_the_same_rows_does_not_check_the_answers_again(df, monkeypatch):
    ids = make_custom_ids(df.index)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    table = parse_results([jsonl(*(ok(cid, f'{{"a": {i}}}') for i, cid in enumerate(ids)))])
    first = join_results(df, ids, results=table, schema=schema)
    checked = []
    original = join_module.parse_answers
    monkeypatch.setattr(join_module, "parse_answers", lambda *a: checked.append(1) or original(*a))
    again = join_results(df, ids, results=table, schema=schema)
    assert not checked
    pd.testing.assert_frame_equal(again, first)

    reordered = df.iloc[::-1]  # other rows, or another schema: checked again
    backwards = join_results(reordered, make_custom_ids(reordered.index), results=table,
                             schema=schema)  # fmt: skip
    assert backwards["a"].tolist() == first["a"].tolist()[::-1] and len(checked) == 1
    other = {**schema, "properties": {"a": {"type": "string"}}}
    assert join_results(df, ids, results=table, schema=other)["parse_error"].notna().all()
    assert len(checked) == 2


def test_results_in_the_order_sent_give_the_same_join_as_shuffled_ones(parser):
    frame = pd.DataFrame({"t": range(300)})
    ids = make_custom_ids(frame.index)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    lines = [ok(cid, f'{{"a": {i}}}', prompt_tokens=i) for i, cid in enumerate(ids)]
    shuffled = random.Random(1).sample(lines, len(lines))
    in_order = join_results(frame, ids, outputs=[jsonl(*lines[:200]), jsonl(*lines[200:])],
                            schema=schema)  # fmt: skip
    pd.testing.assert_frame_equal(
        in_order, join_results(frame, ids, outputs=[jsonl(*shuffled)], schema=schema)
    )
    assert in_order["a"].tolist() == in_order["prompt_tokens"].tolist() == list(range(300))
    assert in_order["status"].eq("ok").all() and in_order["parse_error"].isna().all()


def test_a_large_integer_answer_is_kept_exactly_beside_rows_without_one(df):
    # pandas reads an Arrow integer column with nulls through float64, which rounds it
    ids = make_custom_ids(df.index)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    big = 2**63 - 512
    out = join_results(df, ids, outputs=[jsonl(ok(ids[0], f'{{"n": {big}}}'))], schema=schema)
    assert out["n"].dtype == "Int64" and out["n"].iloc[0] == big and out["n"].isna().sum() == 5
