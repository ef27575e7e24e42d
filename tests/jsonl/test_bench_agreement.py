"""The benchmark's contenders must produce the same results, or its ratios mean nothing.

Not timed: this only checks, on a small frame, that our build equals the per-row baselines and
that our join agrees with the json.loads loop.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench import bench_build_join as bench  # noqa: E402


def test_build_contenders_write_the_same_requests(tmp_path):
    df = bench.make_frame(300)
    ours = bench.build_ours(df)
    assert ours == bench.build_orjson_rows(df), "byte for byte, as orjson writes them"
    path = tmp_path / "cookbook.jsonl"
    bench.build_cookbook(df, str(path))
    cookbook = path.read_bytes().splitlines()
    assert [orjson.loads(x) for x in cookbook] == [orjson.loads(x) for x in ours.splitlines()]


def test_join_contenders_agree_on_every_row():
    df = bench.make_frame(500)
    out, err = bench.make_output(list(df.index))
    ours = bench.join_ours(df, out, err)
    loop = bench.join_loads_loop(df, out, err)
    pandas_way = bench.join_read_json(df, out, err)
    assert ours["sentiment"].astype(object).fillna("-").tolist() == (
        loop["sentiment"].fillna("-").tolist()
    )
    assert pandas_way["sentiment"].fillna("-").tolist() == loop["sentiment"].fillna("-").tolist()
    assert (ours["status"] == "expired").sum() == 5
