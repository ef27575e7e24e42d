"""custom_id rule: the index when it is usable, else a stable derived id; any index works."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dw_notebook.jsonl.requests import make_custom_ids
from dw_notebook.jsonl.requests._ids import is_valid_custom_id


def _usable(ids: list[str]) -> bool:
    return len(set(ids)) == len(ids) and all(is_valid_custom_id(i) for i in ids)


@pytest.mark.parametrize(
    "index, expected",
    [
        (pd.RangeIndex(3), ["0", "1", "2"]),
        (pd.RangeIndex(10, 4, -3), ["10", "7"]),
        (pd.Index([5, -2, 9]), ["5", "-2", "9"]),
        (pd.Index(["a", "row 2", "c-3"]), ["a", "row 2", "c-3"]),
        (pd.Index(["x" * 64]), ["x" * 64]),
        (
            pd.DatetimeIndex(["2024-01-31", "2024-02-01 10:00"]),
            ["2024-01-31T00:00:00", "2024-02-01T10:00:00"],
        ),
        (pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]), ["a|1", "b|2"]),
        (
            pd.Index([dt.date(2024, 1, 1), dt.date(2024, 1, 2)], dtype=object),
            ["2024-01-01", "2024-01-02"],
        ),
    ],
)
def test_usable_labels_are_the_ids(index, expected):
    assert make_custom_ids(index) == expected


@pytest.mark.parametrize(
    "index",
    [
        pd.Index(["a", "a", "b"]),  # duplicates
        pd.Index(["ok", "é"]),  # not ASCII
        pd.Index(["ok", "x" * 65]),  # too long
        pd.Index(["ok", " lead"]),  # leading space
        pd.Index(["ok", "tab\there"]),  # control character
        pd.Index(["ok", ""]),  # empty
        pd.Index([1, "1"], dtype=object),  # distinct labels, same text
        pd.MultiIndex.from_tuples([("a|b", "c"), ("a", "b|c")]),  # same joined text
        pd.Index([1.5, 1.5]),
    ],
)
def test_unusable_labels_get_derived_unique_ids(index):
    ids = make_custom_ids(index)
    assert len(ids) == len(index)
    assert _usable(ids)
    assert ids == make_custom_ids(index.copy()), "deterministic"
    texts = [str(t) for t in index]
    for cid, text in zip(ids, texts, strict=True):
        assert cid == text or cid.startswith("#"), "a usable, unique label stays the id"


def test_only_the_rows_with_unusable_labels_get_derived_ids():
    ids = make_custom_ids(pd.Index(["ok", "x" * 65, "fine", "dup", "dup"]))
    assert ids[0] == "ok" and ids[2] == "fine"
    assert all(i.startswith("#") for i in (ids[1], ids[3], ids[4]))


def test_derived_ids_depend_on_label_and_values_not_position():
    a = make_custom_ids(pd.Index(["dup", "dup", "x"]), [b"one", b"two", b"three"])
    b = make_custom_ids(pd.Index(["x", "dup", "dup"]), [b"three", b"two", b"one"])
    assert a == [b[2], b[1], b[0]], "the same row gets the same id wherever it sits"


def test_identical_rows_are_told_apart_by_their_order_among_themselves():
    ids = make_custom_ids(pd.Index(["dup", "x", "dup"]), [b"v", b"w", b"v"])
    assert ids[0] != ids[2] and ids[2] == ids[0] + ".1"
    again = make_custom_ids(pd.Index(["dup", "dup"]), [b"v", b"v"])  # "x" filtered out
    assert again == [ids[0], ids[2]]


def test_derived_ids_are_stable_across_processes():
    # blake2b of the label text: no per-process hash seed involved
    import subprocess
    import sys

    code = (
        "import pandas as pd; from dw_notebook.jsonl.requests import make_custom_ids; "
        "print(make_custom_ids(pd.Index(['a','a'])))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    assert out.strip() == str(make_custom_ids(pd.Index(["a", "a"])))


def test_large_string_index_is_checked_without_falling_back():
    index = pd.Index([f"rev-{i:06d}" for i in range(50_000)])
    ids = make_custom_ids(index)
    assert ids[:2] == ["rev-000000", "rev-000001"] and len(ids) == 50_000


def test_nan_label_in_index_still_gets_an_id():
    ids = make_custom_ids(pd.Index(["a", np.nan, "b"], dtype=object))
    assert _usable(ids) and len(ids) == 3


def test_valid_custom_id_rule():
    assert is_valid_custom_id("a b")
    assert not is_valid_custom_id("a ")
    assert not is_valid_custom_id("")
    assert not is_valid_custom_id("\x7f")
    assert is_valid_custom_id("~" * 64) and not is_valid_custom_id("~" * 65)


labels = st.lists(
    st.one_of(st.sampled_from(["a", "b", "dup", "x" * 70, " lead", "é"]), st.integers(0, 3)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), raw=labels)
def test_a_reordered_frame_gives_every_row_the_same_id(data, raw):
    values = [data.draw(st.sampled_from([b"v", b"w"])) for _ in raw]
    index = pd.Index(raw, dtype=object)
    ids = make_custom_ids(index, values)
    assert len(set(ids)) == len(ids) and all(is_valid_custom_id(i) for i in ids)
    order = data.draw(st.permutations(range(len(raw))))
    moved = make_custom_ids(index[list(order)], [values[i] for i in order])
    groups: dict = {}
    for pos, i in enumerate(order):  # rows alike in label and values may swap ids, no others
        groups.setdefault((str(raw[i]), type(raw[i]), values[i]), ([], []))
        groups[(str(raw[i]), type(raw[i]), values[i])][0].append(ids[i])
        groups[(str(raw[i]), type(raw[i]), values[i])][1].append(moved[pos])
    for before, after in groups.values():
        assert sorted(before) == sorted(after)
