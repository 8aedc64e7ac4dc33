"""Build ``repodata.json`` documents from records serialized once at upload (pure functions).

A document is assembled by joining pre-serialized record fragments, not by re-serializing a dict of
20,000 records: the join is a memory copy, which keeps a rebuild cheap (measured in benchmarks/).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


def serialize_record(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _section(records: Mapping[str, str], names: list[str]) -> str:
    """``names`` sorted. When no name needs JSON escaping (conda file names are printable ASCII), quote them
    directly: one ``json.dumps`` per name cost more than the rest of the assembly (benchmarks/rebuild.py)."""
    joined = "".join(names)
    if joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined:
        return "{" + ",".join([f'"{fn}":{records[fn]}' for fn in names]) + "}"
    return "{" + ",".join([f"{json.dumps(fn)}:{records[fn]}" for fn in names]) + "}"


def assemble_repodata(subdir: str, records: Mapping[str, str]) -> bytes:
    """``records`` maps file name → serialized record; ``.conda`` files go to ``packages.conda``."""
    names = sorted(records)
    tar_bz2 = [fn for fn in names if not fn.endswith(".conda")]
    conda = [fn for fn in names if fn.endswith(".conda")]
    return (
        '{"info":{"subdir":' + json.dumps(subdir) + '},'
        '"packages":' + _section(records, tar_bz2) + ","
        '"packages.conda":' + _section(records, conda) + ","
        '"removed":[],"repodata_version":1}'
    ).encode()


def channeldata(subdirs: Iterable[str], packages: Mapping[str, Mapping[str, Any]]) -> bytes:
    """CEP 38 ``channeldata.json`` from per-name summaries built by the caller."""
    doc = {"channeldata_version": 1, "packages": dict(sorted(packages.items())), "subdirs": sorted(subdirs)}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
