"""repodata.json assembled from pre-serialized records (domain/repodata.py): the bytes must be the JSON
document that json.loads-based expectations describe, whatever the records and file names hold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from packyard.domain.repodata import assemble_repodata, channeldata, serialize_record


def record(name: str, version: str = "1.0", build: str = "0", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "build": build,
        "build_number": 0,
        "depends": [],
        "subdir": "noarch",
        "md5": "0" * 32,
        "sha256": "1" * 64,
        "size": 123,
        **extra,
    }


def build(subdir: str, records: dict[str, dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    """(assembled bytes, the document they must parse to)."""
    body = assemble_repodata(subdir, {fn: serialize_record(rec) for fn, rec in records.items()})
    expected = {
        "info": {"subdir": subdir},
        "packages": {fn: rec for fn, rec in records.items() if not fn.endswith(".conda")},
        "packages.conda": {fn: rec for fn, rec in records.items() if fn.endswith(".conda")},
        "removed": [],
        "repodata_version": 1,
    }
    return body, expected


def test_empty_index() -> None:
    body = assemble_repodata("noarch", {})
    assert isinstance(body, bytes)
    assert json.loads(body) == {
        "info": {"subdir": "noarch"},
        "packages": {},
        "packages.conda": {},
        "removed": [],
        "repodata_version": 1,
    }


def test_conda_and_tar_bz2_are_split() -> None:
    records = {
        "a-1.0-0.tar.bz2": record("a"),
        "a-1.0-0.conda": record("a"),
        "b-2.0-py_0.conda": record("b", "2.0", "py_0", depends=["a >=1.0"]),
        "x.conda-1.0-0.tar.bz2": record("x.conda"),  # ".conda" inside the name, but a .tar.bz2
    }
    body, expected = build("noarch", records)
    doc = json.loads(body)
    assert doc == expected
    assert set(doc["packages"]) == {"a-1.0-0.tar.bz2", "x.conda-1.0-0.tar.bz2"}
    assert set(doc["packages.conda"]) == {"a-1.0-0.conda", "b-2.0-py_0.conda"}


def test_keys_are_sorted_and_bytes_are_canonical() -> None:
    records = {
        fn: record(fn.split("-")[0])
        for fn in [
            "zlib-1.3-0.tar.bz2",
            "abc-1-0.tar.bz2",
            "Mixed-1-0.conda",
            "_private-1-0.conda",
            "abc-1-0.conda",
        ]
    }
    body, expected = build("linux-64", records)
    doc = json.loads(body)
    assert list(doc) == sorted(doc)
    assert list(doc["packages"]) == sorted(doc["packages"])
    assert list(doc["packages.conda"]) == sorted(doc["packages.conda"])
    for section in ("packages", "packages.conda"):
        for rec in doc[section].values():
            assert list(rec) == sorted(rec)
    # For ASCII content the document is exactly what json.dumps would write with sorted keys, compact.
    assert body == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()


def test_same_records_in_any_order_give_the_same_bytes() -> None:
    records = {
        f"p{i}-1.0-0.{'conda' if i % 2 else 'tar.bz2'}": serialize_record(record(f"p{i}")) for i in range(50)
    }
    forward = assemble_repodata("noarch", records)
    backward = assemble_repodata("noarch", dict(reversed(list(records.items()))))
    assert forward == backward  # the ETag depends only on content


@pytest.mark.parametrize(
    "filename",
    [
        'quote"-1.0-0.tar.bz2',
        "back\\slash-1.0-0.conda",
        "ünïcødé-1.0-0.conda",
        "emoji-🐍-1.0-0.tar.bz2",
        "line\u2028sep-1.0-0.tar.bz2",
        "tab\tand\nnewline-1.0-0.conda",
        "ctrl\x00\x1f-1.0-0.tar.bz2",
        "</script><script>alert(1)</script>-1.0-0.conda",
        "brace}{,:-1.0-0.tar.bz2",
        "surrogate\ud800-1.0-0.conda",
    ],
)
def test_odd_filenames_are_escaped(filename: str) -> None:
    records = {filename: record("odd"), "plain-1.0-0.tar.bz2": record("plain")}
    body, expected = build("noarch", records)
    doc = json.loads(body)
    assert doc == expected
    section = "packages.conda" if filename.endswith(".conda") else "packages"
    assert filename in doc[section]


def test_odd_record_values_are_escaped() -> None:
    rec = record(
        "odd",
        depends=['a "quoted" >=1', "b\\c", "ü >=1"],
        license="GPL-3.0 \u2028 <b>",
        summary="tab\there",
        constrains=[],
        track_features="",
        nested={"k": [1, 2.5, None, True, {"x": "y"}]},
        big=2**63,
    )
    body, expected = build("noarch", {"odd-1.0-0.tar.bz2": rec})
    assert json.loads(body) == expected
    assert body.decode("utf-8")  # valid UTF-8 (non-ASCII is kept as UTF-8, not lost)


def test_subdir_is_escaped() -> None:
    body = assemble_repodata('we"ird', {})
    assert json.loads(body)["info"] == {"subdir": 'we"ird'}


def test_serialize_record_is_compact_sorted_and_round_trips() -> None:
    rec = {"version": "1.0", "name": "ü", "depends": ["a"], "size": 1}
    text = serialize_record(rec)
    assert json.loads(text) == rec
    assert text == '{"depends":["a"],"name":"ü","size":1,"version":"1.0"}'


def test_channeldata_document() -> None:
    packages = {
        "zeta": {"version": "2.0", "subdirs": ["noarch"]},
        "alpha": {"version": "1.0", "subdirs": ["linux-64", "noarch"], "summary": 'a "quoted" summary'},
    }
    body = channeldata({"noarch", "linux-64"}, packages)
    doc = json.loads(body)
    assert doc == {"channeldata_version": 1, "packages": packages, "subdirs": ["linux-64", "noarch"]}
    assert list(doc["packages"]) == ["alpha", "zeta"]
    assert channeldata(["noarch"], {}) == b'{"channeldata_version":1,"packages":{},"subdirs":["noarch"]}'
