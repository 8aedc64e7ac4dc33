"""Upload latency into a linux-64 channel holding 0 files vs 20,000 files (bar: ratio ≤ 1.3).

    python benchmarks/upload_latency.py [--files 20000] [--uploads 30] [--cli-uploads 5]

Two packyard servers (SQLite, each on its own temp data dir) run side by side; one is seeded with 20,000
files (see ``_common.seed_channel``: rows bulk-inserted while the server is stopped, shaped as real
uploads write them). Uploads alternate between the two servers so drift on the machine hits both alike.

(a) protocol, with httpx: POST release (untimed), then stage → multipart storage POST → commit, timed
    together; after each upload one GET of repodata.json is timed (the first one after the upload: it pays
    the incremental refresh), then a second GET (already current: transfer only).
(b) the real ``anaconda upload`` CLI (anaconda-client), wall time of the whole command.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    PASSWORD,
    USER,
    LiveServer,
    ProtocolUploader,
    RepodataFetcher,
    build_conda_package,
    check_seeded_shape,
    login_token,
    machine_line,
    median,
    ms,
    pct,
    seed_channel,
    sqlite_url,
    table,
)

from support.clients import AnacondaCLI

SUBDIR = "linux-64"
WARMUP = 2


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--uploads", type=int, default=30)
    ap.add_argument("--cli-uploads", type=int, default=5)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="packyard-bench-upload-"))
    servers: dict[str, LiveServer] = {}
    try:
        t_start = time.perf_counter()
        labels = ("0 files", f"{args.files:,} files")
        for key in labels:
            servers[key] = LiveServer(tmp / key.replace(" ", "_").replace(",", ""))
            servers[key].create_user(USER, PASSWORD, superuser=True)
        seeded = seed_channel(sqlite_url(servers[labels[1]]), USER, args.files, subdir=SUBDIR)
        print(f"seeded {seeded.files:,} files of {seeded.packages:,} packages in {seeded.seconds:.1f} s",
              file=sys.stderr)

        pkgs = tmp / "pkgs"
        proto_pkgs = [build_conda_package(pkgs, "bench-up", f"1.0.{i}", subdir=SUBDIR, fmt="conda")
                      for i in range(WARMUP + args.uploads)]
        cli_pkgs = [build_conda_package(pkgs, "bench-cli", f"2.0.{i}", subdir=SUBDIR, fmt="conda")
                    for i in range(args.cli_uploads)]

        path = f"/conda/{USER}/{SUBDIR}/repodata.json"
        uploaders, fetchers, cold = {}, {}, {}
        for key, srv in servers.items():
            srv.start()
            fetchers[key] = RepodataFetcher(srv, path)
            cold[key] = fetchers[key].get()  # cold: built from the database
            fetchers[key].get()  # warm
            uploaders[key] = ProtocolUploader(srv, login_token(srv))
            uploaders[key].ensure_package("bench-up")

        # (a) protocol
        up: dict[str, list[float]] = {k: [] for k in labels}
        parts: dict[str, list[tuple[float, float, float]]] = {k: [] for k in labels}
        first: dict[str, list[float]] = {k: [] for k in labels}
        again: dict[str, list[float]] = {k: [] for k in labels}
        sizes: dict[str, int] = {}
        for i, pkg in enumerate(proto_pkgs):
            order = labels if i % 2 == 0 else labels[::-1]
            for key in order:
                u, f = uploaders[key], fetchers[key]
                version = f"1.0.{i}"
                u.create_release("bench-up", version)
                st, post, commit = u.upload(pkg, "bench-up", version, SUBDIR)
                t1, status1, n1, _ = f.get()
                t2, status2, n2, _ = f.get()
                assert status1 == status2 == 200 and n1 == n2, (status1, status2, n1, n2)
                if i >= WARMUP:
                    up[key].append(st + post + commit)
                    parts[key].append((st, post, commit))
                    first[key].append(t1)
                    again[key].append(t2)
                    sizes[key] = n1

        # (b) the anaconda CLI
        cli_times: dict[str, list[float]] = {k: [] for k in labels}
        clis = {}
        for key, srv in servers.items():
            cli = AnacondaCLI(tmp / f"home-{key.replace(' ', '_').replace(',', '')}")
            cli.configure(srv.api_url)
            cli.login(USER, PASSWORD)
            clis[key] = cli
        for i, pkg in enumerate(cli_pkgs):
            order = labels if i % 2 == 0 else labels[::-1]
            for key in order:
                t0 = time.perf_counter()
                clis[key].run("upload", str(pkg))
                cli_times[key].append(time.perf_counter() - t0)

        shape = check_seeded_shape(sqlite_url(servers[labels[1]]), f"{SUBDIR}/{proto_pkgs[0].name}")
        for u in uploaders.values():
            u.close()
        for f in fetchers.values():
            f.close()
    finally:
        for srv in servers.values():
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    a, b = labels
    print(f"# Upload latency: {a} vs {b} in {USER}/label/main/{SUBDIR}\n")
    print(f"Machine: {machine_line()}. SQLite, one uvicorn worker per server. "
          f"{args.uploads} protocol uploads (+{WARMUP} warm-up) and {args.cli_uploads} CLI uploads per server, "
          f"alternating between the servers. Seeded shape check: {shape}.\n")
    rows = []

    def row(name: str, xs: dict[str, list[float]], q: float | None = None) -> None:
        f = (lambda v: pct(v, q)) if q is not None else median
        va, vb = f(xs[a]), f(xs[b])
        rows.append([name, ms(va), ms(vb), f"{vb / va:.2f}"])

    row("protocol upload (stage+POST+commit), median", up)
    row("protocol upload (stage+POST+commit), p90", up, 90)
    for j, part in enumerate(("stage", "storage POST", "commit")):
        row(f"  {part}, median", {k: [p[j] for p in parts[k]] for k in labels})
    row("`anaconda upload` CLI wall time, median", cli_times)
    row("first repodata.json GET after an upload, median", first)
    row("first repodata.json GET after an upload, p90", first, 90)
    row("second GET (already current), median", again)
    refresh = {k: [x - y for x, y in zip(first[k], again[k])] for k in labels}
    row("refresh cost = first − second, median", refresh)
    print(table(["measure (ms)", a, b, f"ratio {b} / {a}"], rows))
    print(f"\nrepodata.json size: {sizes[a]:,} bytes vs {sizes[b]:,} bytes. Cold build after a restart "
          f"(first GET, from the database): {ms(cold[a][0])} ms vs {ms(cold[b][0])} ms.")
    print(f"\nTotal run time {time.perf_counter() - t_start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
