"""Rebuilding repodata.json for 20,000 records, through the service layer (no HTTP).

    python benchmarks/rebuild.py [--files 20000] [--runs 7]

A temp data dir is seeded with 20,000 linux-64 records (``_common.seed_channel``; the schema and the
user come from ``packyard user create``). Then, in this process, with
``Container(Settings(data_dir=..., database_url=...))``:

- cold: a new Container (so a new ChannelService with an empty cache) answers ``repodata()``: it reads
  the serial, the 20,000 records and the packages' access, assembles the document and hashes its ETag;
- assemble: ``assemble_repodata`` over the 20,000 serialized records the cache holds (what a worker does
  after applying new events), and the ETag hash of the result, separately;
- zstd: compressing the document for ``repodata.json.zst`` (done once per document, on first request);
- peer, measured here: ``json.dumps`` of the same 20,000 records as dicts, i.e. what re-serializing the
  whole document costs a design that does not keep serialized records;
- a request when the worker's bytes are current (what a 304 costs in the service), for the 20,000 records of
  1,000 names and for 20,000 records of 20,000 names (label ``names``): it must not grow with the channel.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard
from _common import (
    PASSWORD,
    USER,
    LiveServer,
    machine_line,
    median,
    ms,
    seed_channel,
    sqlite_url,
    table,
)

from packyard.container import Container
from packyard.domain.permissions import ANONYMOUS
from packyard.domain.repodata import assemble_repodata
from packyard.settings import Settings
from packyard.storage.db import repositories as repo

SUBDIR = "linux-64"


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="packyard-bench-rebuild-"))
    rows = []
    try:
        data_dir = tmp / "data"
        srv = LiveServer(data_dir)  # never started: only its `packyard user create` (migrates the schema)
        srv.create_user(USER, PASSWORD, superuser=True)
        url = sqlite_url(srv)
        seeded = seed_channel(url, USER, args.files, subdir=SUBDIR)
        # The same number of files, each its own package name, in another label: per-request work that walks
        # the packages of an index shows up here.
        names_seeded = seed_channel(url, USER, args.files, subdir=SUBDIR, label="names", versions_per_package=1,
                                    builds_per_version=1, seed=7)
        settings = Settings(data_dir=data_dir, database_url=url)

        def cold() -> bytes:
            c = Container(settings)
            try:
                with c.engine.connect():
                    pass  # open the pool's first connection outside the timing
                t0 = time.perf_counter()
                body = c.channels.repodata(ANONYMOUS, USER, "main", SUBDIR).body
                cold_times.append(time.perf_counter() - t0)
                return body
            finally:
                c.close()

        cold_times: list[float] = []
        _, body = timed(cold, args.runs)

        c = Container(settings)
        try:
            with c.session_factory() as s:
                found = repo.index_serial(s, USER, "main", SUBDIR)
                assert found is not None
                records = {fn: rec for fn, _, rec in repo.index_records(s, found[0], "main", SUBDIR)}
        finally:
            c.close()
        assert len(records) == seeded.files, (len(records), seeded.files)
        t_asm, assembled = timed(lambda: assemble_repodata(SUBDIR, records), args.runs)
        assert assembled == body, "assembled bytes differ from the served document"
        t_etag, _ = timed(lambda: hashlib.blake2b(body, digest_size=16).hexdigest(), args.runs)
        t_zst, zst = timed(lambda: zstandard.ZstdCompressor(level=3).compress(body), args.runs)
        dicts = {fn: json.loads(rec) for fn, rec in records.items()}
        doc = {"info": {"subdir": SUBDIR}, "packages": {}, "packages.conda": dicts, "removed": [],
               "repodata_version": 1}
        t_dumps, _ = timed(lambda: json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), args.runs)

        def per_request(label: str, n: int = 2000) -> list[float]:
            """CPU µs of one ``repodata()`` call when the worker's bytes are current (a 304's service work)."""
            c = Container(settings)
            try:
                c.channels.repodata(ANONYMOUS, USER, label, SUBDIR)
                out = []
                for _ in range(5):
                    t0 = time.process_time()
                    for _ in range(n):
                        c.channels.repodata(ANONYMOUS, USER, label, SUBDIR)
                    out.append((time.process_time() - t0) / n)
                return out
            finally:
                c.close()

        req_main, req_names = per_request("main"), per_request("names")
        for name, xs in (
            ("cold: new Container/ChannelService, first `repodata()` from the database", cold_times),
            ("assemble bytes from the cached serialized records (`assemble_repodata`)", t_asm),
            ("ETag of the document (blake2b-128)", t_etag),
            ("zstd level 3 of the document (`repodata.json.zst`, first request only)", t_zst),
            ("peer: `json.dumps` of the whole document from dicts (no cached fragments)", t_dumps),
        ):
            rows.append([name, ms(min(xs)), ms(median(xs))])
        req_rows = [
            [f"{args.files:,} records of {seeded.packages:,} names", f"{min(req_main) * 1e6:.0f}",
             f"{median(req_main) * 1e6:.0f}"],
            [f"{args.files:,} records of {names_seeded.packages:,} names", f"{min(req_names) * 1e6:.0f}",
             f"{median(req_names) * 1e6:.0f}"],
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"# Rebuilding repodata.json for {args.files:,} records ({len(body) / 1e6:.1f} MB; "
          f".zst {len(zst) / 1e6:.2f} MB)\n")
    print(f"Machine: {machine_line()}. SQLite. Service layer in-process, {args.runs} runs each "
          f"(gc.collect() before each run).\n")
    print(table(["step", "min (ms)", "median (ms)"], rows))
    print("\nOne `repodata()` call when the worker's bytes are current (the service's share of a 304), "
          "process CPU per call over 2,000 calls, 5 runs:\n")
    print(table(["index", "min (µs)", "median (µs)"], req_rows))
    print(f"\nTotal run time {time.perf_counter() - t_start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
