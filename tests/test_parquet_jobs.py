"""Datasets beyond memory: parquet files (paths, a glob, a directory, a pyarrow dataset) in,
read and built in bounded record batches; ``job.join(path=...)`` writes the joined rows piece by
piece."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from pydantic import BaseModel

import dw_notebook as dw
from dw_notebook.datasets import sample_reviews
from dw_notebook.jsonl.requests import BuildError, CustomIdError, MissingColumnsError
from dw_notebook.jsonl.requests import dataset as source

PROMPT = "Sentiment: {review}"


class Review(BaseModel):
    sentiment: Literal["positive", "negative", "neutral"]
    stars: int


def reviews(n: int) -> pd.DataFrame:
    df = sample_reviews(n).reset_index(drop=True)
    df.insert(0, "review_id", [f"r{i:05d}" for i in range(n)])
    df["extra"] = range(n)  # a column the prompt does not use
    return df


def write_parts(df: pd.DataFrame, folder, parts: int) -> list:
    folder.mkdir(exist_ok=True)
    size = -(-len(df) // parts)
    paths = []
    for k in range(parts):
        path = folder / f"part-{k:02d}.parquet"
        df.iloc[k * size : (k + 1) * size].to_parquet(path, index=False)
        paths.append(path)
    return paths


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_parquet_glob_joins_like_the_same_rows_as_a_frame(conn, tmp_path):
    df = reviews(450)
    write_parts(df, tmp_path / "reviews", 3)
    job = dw.submit(str(tmp_path / "reviews" / "*.parquet"), PROMPT, model="mock",
                    id_column="review_id", response_format=Review, max_requests=100,
                    name="from-parquet", batch_rows=70, **conn)  # fmt: skip
    assert len(job.wait_submitted().batch_ids) == 5  # 450 requests, 100 a file
    as_frame = dw.submit(df, PROMPT, model="mock", id_column="review_id",
                         response_format=Review, name="from-frame", **conn).join()  # fmt: skip

    written = job.join(path=tmp_path / "labelled.parquet")
    back = pd.read_parquet(written)
    assert len(back) == 450 and (back["status"] == "ok").all()
    keep = [c for c in as_frame.columns if c not in ("batch_id", "attempt")]
    pd.testing.assert_frame_equal(back[keep], as_frame[keep].reset_index(drop=True))
    pd.testing.assert_frame_equal(job.join()[keep], back[keep])


@pytest.mark.parametrize("dialect", ["openai"])
def test_join_path_of_a_frame_equals_join(conn, tmp_path, monkeypatch):
    from dw_notebook.job import pieces

    monkeypatch.setattr(pieces, "SLICE_ROWS", 40)  # several pieces
    df = reviews(130).set_index("review_id")
    df.loc[df.index[5], "review"] = None
    job = dw.submit(df, PROMPT, model="mock", response_format=Review, missing="skip", **conn)
    out = job.join()
    back = pd.read_parquet(job.join(path=tmp_path / "out.parquet"))
    assert set(out["status"]) == {"ok", "skipped"}
    pd.testing.assert_frame_equal(back, out)


def test_sources_a_directory_a_list_and_a_dataset_build_the_same_requests(tmp_path):
    df = reviews(120)
    paths = write_parts(df, tmp_path / "d", 4)
    args = {"model": "mock", "prompt": PROMPT, "id_column": "review_id", "batch_rows": 50}
    builds = [
        dw.prepare(tmp_path / "d", **args),
        dw.prepare([str(p) for p in paths], **args),
        dw.prepare(ds.dataset(str(tmp_path / "d"), format="parquet"), **args),
    ]
    assert {b.fingerprint() for b in builds} == {builds[0].fingerprint()}
    built = builds[0]
    assert built.n == 120 and built.columns == ["review_id", "review"]
    frame = dw.prepare(df, **{k: v for k, v in args.items() if k != "batch_rows"})
    assert built.preview(3) == frame.preview(3)
    assert dw.estimate(built, "24h").input_tokens == dw.estimate(frame, "24h").input_tokens


def test_a_dataset_needs_usable_unique_ids(tmp_path):
    df = reviews(90)
    write_parts(df, tmp_path / "ok", 3)
    args = {"model": "mock", "prompt": PROMPT, "batch_rows": 20}
    with pytest.raises(BuildError, match="id_column="):
        dw.prepare(tmp_path / "ok", **args)
    with pytest.raises(MissingColumnsError, match="nope"):
        dw.prepare(tmp_path / "ok", id_column="nope", **args)

    repeated = df.copy()
    repeated.loc[77, "review_id"] = "r00003"  # in another file and record batch than row 3
    write_parts(repeated, tmp_path / "dup", 3)
    with pytest.raises(CustomIdError, match=r"more than once.*rows 3, 77"):
        dw.prepare(tmp_path / "dup", id_column="review_id", **args)

    bad = df.copy()
    bad.loc[50, "review_id"] = "x" * 70
    write_parts(bad, tmp_path / "bad", 3)
    with pytest.raises(CustomIdError, match="row 50"):
        dw.prepare(tmp_path / "bad", id_column="review_id", **args)
    with pytest.raises(BuildError, match="no parquet file"):
        dw.prepare(str(tmp_path / "none" / "*.parquet"), id_column="review_id", **args)


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_dataset_job_is_found_again_after_a_restart(conn, tmp_path):
    df = reviews(200)
    write_parts(df, tmp_path / "r", 2)
    glob = str(tmp_path / "r" / "*.parquet")
    job = dw.submit(glob, PROMPT, model="mock", id_column="review_id", name="ds-restart",
                    max_requests=60, **conn)  # fmt: skip
    ids = job.wait_submitted().batch_ids
    again = dw.submit(glob, PROMPT, model="mock", id_column="review_id", max_requests=60, **conn)
    assert again.wait_submitted().batch_ids == ids  # the same cell run again: no new batch

    restarted = dw.attach("ds-restart", **conn)  # no frame: the files are in the registry
    out = pd.read_parquet(restarted.join(path=tmp_path / "o.parquet"))
    assert restarted.batch_ids == ids and (out["status"] == "ok").all()
    assert out["review_id"].tolist() == df["review_id"].tolist()

    changed = df.copy()
    changed.loc[3, "review"] = "changed"
    write_parts(changed, tmp_path / "r", 2)  # a changed file is another job
    assert dw.submit(glob, PROMPT, model="mock", id_column="review_id", max_requests=60,
                     **conn).wait_submitted().batch_ids != ids  # fmt: skip


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_dataset_submit_stopped_half_way_is_finished_by_attach(conn, tmp_path, monkeypatch):
    from dw_notebook.job import batches

    df = reviews(150)
    write_parts(df, tmp_path / "h", 2)
    real, calls = batches.create.create_batch, []

    def stop_after_one(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # the kernel stopped between two creates
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(batches.create, "create_batch", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        dw.submit(tmp_path / "h", PROMPT, model="mock", id_column="review_id", name="half",
                  max_requests=50, **conn).wait_submitted()  # fmt: skip
    monkeypatch.setattr(batches.create, "create_batch", real)
    job = dw.attach("half", **conn)
    assert len(job.batch_ids) == 3 and not job.missing_chunks()
    assert (job.join()["status"] == "ok").all()


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_dataset_job_retries_its_failed_rows(make_server, tmp_path):
    srv = make_server(rate=None, backend_options={"failure_rate": 0.3}, max_attempts=1)
    conn = {"api_key": srv.token, "base_url": srv.base_url}
    df = reviews(100)
    write_parts(df, tmp_path / "f", 2)
    job = dw.submit(tmp_path / "f", PROMPT, model="mock", id_column="review_id", **conn)
    failed = set(job.join().query("status == 'failed'")["review_id"])
    assert failed
    job.retry()
    out = job.join()
    assert set(out.loc[out["attempt"] == 1, "review_id"]) == failed


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_dataset_refuses_a_pilot_and_a_prompt_function(conn, tmp_path):
    write_parts(reviews(20), tmp_path / "p", 1)
    with pytest.raises(dw.JobError, match="pilot="):
        dw.submit(tmp_path / "p", PROMPT, model="mock", id_column="review_id", pilot=5, **conn)
    with pytest.raises(BuildError, match="template prompt"):
        dw.submit(tmp_path / "p", lambda row: row["review"], model="mock",
                  id_column="review_id", **conn)  # fmt: skip


@pytest.mark.parametrize("dialect", ["openai"])
def test_a_dataset_is_built_and_joined_batch_rows_at_a_time(conn, tmp_path, monkeypatch):
    from dw_notebook.job import pieces

    df = reviews(500)
    write_parts(df, tmp_path / "m", 2)
    built, joined = [], []
    build, join = source.build_requests, pieces.join_frame

    def counted_build(frame, **kwargs):
        built.append(len(frame))
        return build(frame, **kwargs)

    def counted_join(frame, *args, **kwargs):
        joined.append(len(frame))
        return join(frame, *args, **kwargs)

    monkeypatch.setattr(source, "build_requests", counted_build)
    monkeypatch.setattr(pieces, "join_frame", counted_join)
    job = dw.submit(tmp_path / "m", PROMPT, model="mock", id_column="review_id", batch_rows=64,
                    **conn)  # fmt: skip
    job.join(path=tmp_path / "m.parquet")
    assert max(built) <= 64 and sum(built) == 500
    assert max(joined) <= 64 and sum(joined) == 500


@pytest.mark.parametrize("dialect", ["openai"])
def test_join_of_a_frame_shares_its_columns_instead_of_copying_them(conn, tmp_path):
    df = reviews(60)
    df["score"] = [float(i) for i in range(60)]
    out = dw.submit(df, PROMPT, model="mock", **conn).join()
    assert np.shares_memory(out["score"].to_numpy(), df["score"].to_numpy())


def test_spooled_request_files_keep_the_limits_and_the_lines(tmp_path):
    df = reviews(300)
    write_parts(df, tmp_path / "s", 3)
    frame = dw.prepare(df, PROMPT, model="mock", id_column="review_id")
    limit = 9_000  # bytes: files end mid record batch and mid parquet file
    with source.build_dataset(tmp_path / "s", model="mock", prompt=PROMPT,
                              id_column="review_id", batch_rows=45, spool=True,
                              max_requests=70, max_bytes=limit) as built:  # fmt: skip
        chunks = built.chunks(70, limit)
        assert b"".join(c.data for c in chunks) == frame.data
        assert all(c.nbytes <= limit and c.n <= 70 for c in chunks)
        assert [c.rows[0] for c in chunks[1:]] == [c.rows[1] for c in chunks[:-1]]
        assert sum(c.n for c in chunks) == 300 and chunks[-1].rows[1] == 300
        folder = chunks[0].path.parent
    assert not folder.exists()  # close() deletes the request files


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_review_and_partial_of_a_dataset_job(conn, tmp_path):
    write_parts(reviews(40), tmp_path / "v", 2)
    job = dw.submit(tmp_path / "v", PROMPT, model="mock", id_column="review_id", **conn)
    job.wait()
    assert (job.partial()["status"] == "ok").sum() == 40
    overview = job.review().overview
    assert overview["rows"] == 40 and overview["answer_columns"] == ["content"]


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_review_of_a_dataset_job_charts_the_answers_not_the_datasets_own_columns(conn, tmp_path):
    write_parts(reviews(30), tmp_path / "s", 2)
    job = dw.submit(tmp_path / "s", PROMPT, model="mock", id_column="review_id",
                    response_format=Review, **conn).wait()  # fmt: skip
    assert job.review().overview["answer_columns"] == ["sentiment", "stars"]


@pytest.mark.parametrize("dialect", ["openai"])
def test_a_dataset_join_names_a_result_file_gone_from_the_service(server, conn, tmp_path):
    from dw_notebook.client import BatchClient

    write_parts(reviews(120), tmp_path / "g", 2)
    job = dw.submit(tmp_path / "g", PROMPT, model="mock", id_column="review_id",
                    max_requests=50, **conn).wait()  # fmt: skip
    with BatchClient(server.base_url, server.token) as client:
        gone = client.get_batch(job.batch_ids[1])["output_file_id"]
        client.delete_file(gone)
    with pytest.raises(dw.MissingResultFileError, match=gone):
        job.join(path=tmp_path / "never.parquet")
    assert not (tmp_path / "never.parquet").exists()
    out = pd.read_parquet(job.join(path=tmp_path / "rest.parquet", missing_files="not_run"))
    assert out["status"].value_counts()[["ok", "not_run"]].tolist() == [70, 50]
    assert (out.loc[50:99, "status"] == "not_run").all()  # the rows of the second file


@pytest.mark.parametrize("dialect", ["doubleword"])
def test_a_dataset_submit_returns_while_its_files_upload(proxy, server, tmp_path):
    write_parts(reviews(120), tmp_path / "u", 2)
    conn = {"api_key": server.token, "base_url": proxy.base_url}
    proxy.delay("POST", "/files$", 1.5)
    job = dw.submit(tmp_path / "u", PROMPT, model="mock", id_column="review_id",
                    max_requests=50, **conn)  # fmt: skip
    assert job.sending and not job.batch_ids
    proxy.wait_for(lambda: proxy.count("POST", "/files$") >= 1, what="an upload")
    assert job.snapshot().phase == "uploading" and job.snapshot().sending.files_total == 3
    again = dw.submit(tmp_path / "u", PROMPT, model="mock", id_column="review_id",
                      max_requests=50, **conn)  # fmt: skip
    assert again is job  # the same cell run during the upload: nothing sent twice

    assert len(job.wait_submitted().batch_ids) == 3
    assert (pd.read_parquet(job.join(path=tmp_path / "o.parquet"))["status"] == "ok").all()
    assert proxy.count("POST", "/files$") == 3 and proxy.count("POST", "/batches$") == 3


@pytest.mark.parametrize("dialect", ["openai"])
def test_a_dataset_join_names_the_error_file_of_a_line_it_could_not_read(make_server, tmp_path):
    from support.proxy import FaultProxy, Reply

    flaky = make_server(rate=None, backend_options={"failure_rate": 0.5}, max_attempts=1)
    write_parts(reviews(60), tmp_path / "e", 1)
    with FaultProxy(flaky.base_url) as proxy:
        job = dw.submit(tmp_path / "e", PROMPT, model="mock", id_column="review_id",
                        api_key=flaky.token, base_url=proxy.base_url).wait()  # fmt: skip
        error_file = job._tracker.batches[job.batch_ids[0]]["error_file_id"]
        assert error_file  # half the rows failed

        def spoil(reply: Reply, path: str) -> Reply:
            return Reply(reply.status, reply.headers, reply.body + b'{"no": "custom_id"}\n')

        proxy.rewrite("GET", rf"/files/{error_file}/content", spoil)
        with pytest.warns(UserWarning, match="no custom_id"):
            out = job.join()
    [line] = out.attrs["dw_malformed_lines"]
    assert line["source"] == f"error file {error_file}" and line["batch_id"] == job.batch_ids[0]
