"""Serving repodata.json: packyard (1 and 2 workers) vs nginx serving the same bytes as a static file.

    python benchmarks/repodata_serving.py [--files 2000] [--duration 8s]

A packyard data dir (SQLite) is seeded with 2,000 records in ``bench/linux-64`` (see
``_common.seed_channel``) and served by two packyard servers at once (1 worker; ``--workers 2``); the
repodata.json they serve is written to a file that a temporary nginx (free loopback port, ``etag on``)
serves. ``wrk -t2 -c32 -d8s`` then measures, in one run: the full body for the three servers, then the 304
answer to ``If-None-Match: <etag>`` for the three.
Anonymous requests (a public channel). wrk, the server and the workers share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    PASSWORD,
    USER,
    LiveServer,
    free_port,
    machine_line,
    seed_channel,
    sqlite_url,
    start_packyard,
    stop_process,
    table,
    wrk,
)

SUBDIR = "linux-64"

NGINX_CONF = """\
{user}worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/json;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        etag on;
        location / {{ root {root}; }}
    }}
}}
"""


def check_304(url: str, etag: str) -> None:
    r = httpx.get(url, headers={"If-None-Match": etag}, trust_env=False)
    if r.status_code != 304:
        raise RuntimeError(f"{url} answered {r.status_code} to If-None-Match {etag}, not 304")


def measure(name: str, url: str, kind: str, duration: str, results: dict[str, dict[str, Any]]) -> None:
    r = httpx.get(url, trust_env=False)
    r.raise_for_status()
    etag = r.headers["etag"]
    check_304(url, etag)
    headers = {"If-None-Match": etag} if kind == "304" else None
    results.setdefault(name, {})[kind] = wrk(url, headers=headers, duration=duration)
    results[name]["bytes"] = len(r.content)
    print(f"{name}, {kind}: {results[name][kind]['rps']:.0f} req/s", file=sys.stderr)


def cpu_breakdown(data_dir: Path, path: str, n: int = 3000) -> list[list[str]]:
    """CPU time per 304 request, in this process with no network (insensitive to other load on the machine):
    the whole ASGI app, then its parts. Requests are sent one at a time, so threads do not contend."""
    import asyncio

    from starlette.concurrency import run_in_threadpool

    from packyard.app import create_app
    from packyard.domain.permissions import ANONYMOUS
    from packyard.settings import Settings

    app = create_app(Settings(data_dir=data_dir))

    async def call(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
        out: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                out.update(status=msg["status"], headers=dict(msg["headers"]))

        await app(scope, receive, send)
        return out

    async def per_call(fn: Any) -> float:
        for _ in range(200):
            await fn()
        t0 = time.process_time()
        for _ in range(n):
            await fn()
        return (time.process_time() - t0) / n * 1e6

    async def run() -> list[list[str]]:
        started: list[Any] = []
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await queue.put({"type": "lifespan.startup"})

        async def lsend(msg: dict[str, Any]) -> None:
            started.append(msg)

        life = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                       queue.get, lsend))
        while not started:
            await asyncio.sleep(0.01)
        etag = (await call([]))["headers"][b"etag"]
        hdrs = [(b"host", b"bench"), (b"if-none-match", etag)]
        assert (await call(hdrs))["status"] == 304
        svc = app.state.container.channels

        async def inline() -> None:
            svc.repodata(ANONYMOUS, USER, "main", SUBDIR)

        async def pooled() -> None:
            await run_in_threadpool(svc.repodata, ANONYMOUS, USER, "main", SUBDIR)

        whole = await per_call(lambda: call(hdrs))
        via_pool = await per_call(pooled)
        direct = await per_call(inline)
        await queue.put({"type": "lifespan.shutdown"})
        await life
        return [
            ["whole app, one 304 (no network, no access log)", f"{whole:.0f}"],
            ["  `ChannelService.repodata()` (serial query in a Session, cached bytes)", f"{direct:.0f}"],
            ["  hand-off to FastAPI's threadpool (sync `def` route), uncontended", f"{via_pool - direct:.0f}"],
            ["  the rest: middleware, routing, dependencies, Response", f"{whole - via_pool:.0f}"],
        ]

    return asyncio.run(run())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2_000)
    ap.add_argument("--duration", default="8s")
    args = ap.parse_args()
    if not shutil.which("wrk") or not shutil.which("nginx"):
        print("needs wrk and nginx (Debian: apt-get install -y wrk nginx)", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="packyard-bench-serve-"))
    os.chmod(tmp, 0o755)  # nginx workers may run as another user
    data_dir = tmp / "packyard"
    one = LiveServer(data_dir)
    two = LiveServer(data_dir)  # same data (SQLite in WAL mode), its own port, started with --workers 2
    nginx: subprocess.Popen[bytes] | None = None
    workers2: subprocess.Popen[bytes] | None = None
    results: dict[str, dict[str, Any]] = {}
    path = f"/conda/{USER}/{SUBDIR}/repodata.json"
    try:
        one.create_user(USER, PASSWORD, superuser=True)
        seed_channel(sqlite_url(one), USER, args.files, subdir=SUBDIR)
        one.start()
        workers2 = start_packyard(two, workers=2)
        body = httpx.get(one.url + path, trust_env=False).content

        root = tmp / "static"
        (root / "conda" / USER / SUBDIR).mkdir(parents=True)
        (root / "conda" / USER / SUBDIR / "repodata.json").write_bytes(body)
        os.chmod(data_dir, 0o755)
        port = free_port()
        conf = tmp / "nginx.conf"
        user = "user root root;\n" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root))
        nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nginx_url = f"http://127.0.0.1:{port}{path}"
        for _ in range(100):
            try:
                if httpx.get(nginx_url, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)

        # All three run at once (idle ones cost nothing); measured back to back, each kind in turn, so a
        # change in the machine's load hits the compared numbers alike.
        targets = [("packyard, 1 worker", one.url + path), ("nginx (static file)", nginx_url),
                   ("packyard, --workers 2", two.url + path)]
        for kind in ("full", "304"):
            for name, url in targets:
                measure(name, url, kind, args.duration, results)
        breakdown = cpu_breakdown(data_dir, path)
    finally:
        for proc in (nginx, workers2):
            if proc is not None:
                stop_process(proc)
        one.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    ng = results["nginx (static file)"]
    size = ng["bytes"]
    print(f"# repodata.json serving: {args.files:,} records ({size / 1000:.0f} KB)\n")
    print(f"Machine: {machine_line()}. `wrk -t2 -c32 -d{args.duration}`, anonymous GET of "
          f"`{path}`; nginx `worker_processes auto` ({os.cpu_count()}), `etag on`, sendfile. "
          "Client and servers share the cores.\n")
    rows = []
    for name, r in results.items():
        flags = []
        for kind in ("full", "304"):
            if r[kind]["bad"] or r[kind]["errors"]:
                flags.append(f"{kind}: {r[kind]['bad']} bad, {r[kind]['errors']}")
        rows.append([name, f"{r['full']['rps']:,.0f}", f"{r['full']['rps'] / ng['full']['rps']:.2f}",
                     r["full"]["latency"], f"{r['304']['rps']:,.0f}", f"{r['304']['rps'] / ng['304']['rps']:.2f}",
                     r["304"]["latency"], "; ".join(flags) or "-"])
    print(table(["server", "full body req/s", "÷ nginx", "avg latency", "304 req/s", "÷ nginx", "avg latency",
                 "errors"], rows))
    print("\nWhere a 304 goes, in CPU µs per request (in-process, process CPU time, 3,000 requests):\n")
    print(table(["part", "CPU µs"], breakdown))
    print(f"\nTotal run time {time.perf_counter() - t_start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
