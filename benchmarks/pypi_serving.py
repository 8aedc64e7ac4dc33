"""Serving PyPI simple pages: packyard vs devpi-server vs pypiserver, the same 200 wheels in 50 projects.

    python benchmarks/pypi_serving.py [--duration 8s] [--rounds 2] [--peers-venv DIR] [--no-workers2]
                                      [--postgres]

In one run: 200 pure-Python wheels (50 projects × 4 versions, ~1 KB each, made with ``support.pypkg``) are
uploaded with twine to packyard (``/pypi/alice/``, SQLite, 1 worker) and to devpi-server (``alice/dev``,
non-volatile, set up as in spec pypi.md §2.2), and copied into the package folder of pypiserver
(``-a . -P . --disable-fallback``; with watchdog installed it uses its ``cached-dir`` backend, its fastest).
Then ``wrk -t2 -c32 -d8s`` measures, on loopback, a project page and the ``/simple/`` root of each, as HTML
(no Accept header, like curl) and as JSON (``Accept: application/vnd.pypi.simple.v1+json``); every URL is
checked once first (status, Content-Type, number of links). The servers take turns for ``--rounds`` rounds
and the table shows the median (each round in brackets). Then packyard with ``--workers 2`` and, with
``--postgres``, packyard (1 worker) on a fresh database of the local PostgreSQL.

devpi-server and pypiserver are installed into a separate venv (default ``/tmp/packyard-bench-peers``,
created on first use with pip, the global pip config ignored) so their dependencies never touch ours.
wrk comes from Debian (``apt-get install -y wrk``). Everything shares the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import LiveServer, free_port, machine_line, start_packyard, stop_process, table, wrk

from support.clients import python_tools_env
from support.pypkg import build_wheel

PROJECTS, VERSIONS = 50, ("1.0.0", "1.1.0", "1.2.0", "2.0.0")
PROJECT = "dummy-pkg-007"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
PEER_PACKAGES = ["pypiserver", "devpi-server", "devpi-client", "waitress", "watchdog", "passlib"]


def sh(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(
        cmd,
        env=env or python_tools_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} … exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def ensure_peers(venv: Path) -> dict[str, str]:
    bin_ = venv / "bin"
    if not all((bin_ / exe).exists() for exe in ("pypi-server", "devpi-server", "devpi-init", "devpi")):
        print(f"installing {' '.join(PEER_PACKAGES)} into {venv} …", flush=True)
        sh([sys.executable, "-m", "venv", str(venv)])
        sh([str(bin_ / "python"), "-m", "pip", "install", "-q", *PEER_PACKAGES])
    versions = json.loads(sh([str(bin_ / "python"), "-m", "pip", "list", "--format", "json"]))
    return {p["name"].lower(): p["version"] for p in versions if p["name"].lower() in PEER_PACKAGES}


def make_wheels(dest: Path) -> list[Path]:
    return [
        build_wheel(dest, f"dummy-pkg-{i:03d}", v, requires_python=">=3.8")
        for i in range(PROJECTS)
        for v in VERSIONS
    ]


def twine_upload(url: str, user: str, password: str, files: list[Path]) -> float:
    t0 = time.perf_counter()
    sh(
        [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--disable-progress-bar",
            "--non-interactive",
            "--repository-url",
            url,
            "-u",
            user,
            "-p",
            password,
            *map(str, files),
        ],
        timeout=900,
    )
    return time.perf_counter() - t0


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode} during startup")
        try:
            if httpx.get(url, trust_env=False, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready at {url} after {timeout} s")


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            cmd, env=env or python_tools_env(), stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT
        )


def check(url: str, fmt: str, project: bool) -> str:
    """One request before the load: 200, and the page lists what it should. Returns its Content-Type."""
    headers = {"Accept": JSON_ACCEPT} if fmt == "json" else {}
    r = httpx.get(url, headers=headers, trust_env=False, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"{url} ({fmt}) answered {r.status_code}")
    ctype = r.headers.get("content-type", "").split(";")[0]
    if "json" in ctype:
        doc = r.json()
        n = len(doc["files"]) if project else len(doc["projects"])
    else:
        n = len(re.findall(r"<a\s", r.text))
    expected = len(VERSIONS) if project else PROJECTS
    if n != expected:
        raise RuntimeError(f"{url} ({fmt}) lists {n} entries, expected {expected}")
    return ctype


def packyard_with_wheels(
    data_dir: Path, wheels: list[Path], database_url: str | None = None
) -> tuple[LiveServer, float]:
    """A running packyard with user alice and ``wheels`` uploaded by twine into /pypi/alice/."""
    server = LiveServer(data_dir, database_url=database_url)
    server.start()
    server.create_user("alice", "alice-password")
    tok = httpx.post(
        server.api_url + "/authentications",
        auth=("alice", "alice-password"),
        json={"scopes": ["pypi"], "note": "bench"},
        trust_env=False,
    ).json()["token"]
    return server, twine_upload(server.url + "/pypi/alice/", "__token__", tok, wheels)


def measure(
    name: str,
    base: str,
    project_path: str,
    root_path: str,
    duration: str,
    results: dict[str, dict[str, list[dict[str, Any]]]],
) -> None:
    for page, path in (("project", project_path), ("root", root_path)):
        for fmt in ("html", "json"):
            url = base + path
            ctype = check(url, fmt, page == "project")
            headers = {"Accept": JSON_ACCEPT} if fmt == "json" else None
            res = wrk(url, headers=headers, duration=duration)
            res["ctype"] = ctype
            results.setdefault(name, {}).setdefault(f"{page}-{fmt}", []).append(res)
            print(
                f"  {name:24s} {page:7s} {fmt:4s} {res['rps']:9.1f} req/s  latency {res['latency']:>8s}  "
                f"{ctype}{'  NON-2XX: ' + str(res['bad']) if res['bad'] else ''}",
                flush=True,
            )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", default="8s")
    ap.add_argument("--peers-venv", default="/tmp/packyard-bench-peers")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over all servers; the table shows medians")
    ap.add_argument("--no-workers2", action="store_true", help="skip packyard --workers 2")
    ap.add_argument(
        "--postgres",
        action="store_true",
        help="also packyard (1 worker) on the local PostgreSQL (127.0.0.1:5432), a fresh database",
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2

    peers = ensure_peers(Path(args.peers_venv))
    peer_bin = Path(args.peers_venv) / "bin"
    tmp = Path(tempfile.mkdtemp(prefix="pypi-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    setup: dict[str, str] = {}
    server = LiveServer(tmp / "packyard")  # replaced below by the running one
    try:
        wheels = make_wheels(tmp / "wheels")
        print(f"{len(wheels)} wheels, {sum(w.stat().st_size for w in wheels) // 1024} KiB; {machine_line()}")

        # -- packyard --------------------------------------------------------------------------------
        server, seconds = packyard_with_wheels(tmp / "packyard", wheels)
        setup["packyard"] = f"twine upload of {len(wheels)} files: {seconds:.1f} s"

        # -- devpi-server ----------------------------------------------------------------------------
        devpi_dir, devpi_port = tmp / "devpi-data", free_port()
        devpi_url = f"http://127.0.0.1:{devpi_port}"
        sh(
            [
                str(peer_bin / "devpi-init"),
                "--serverdir",
                str(devpi_dir),
                "--root-passwd",
                "rootpw",
                "--no-root-pypi",
            ]
        )
        procs.append(
            spawn(
                [
                    str(peer_bin / "devpi-server"),
                    "--serverdir",
                    str(devpi_dir),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(devpi_port),
                ],
                tmp / "devpi.log",
            )
        )
        wait_http(devpi_url + "/+api", procs[-1], "devpi-server")
        denv = python_tools_env(DEVPI_CLIENTDIR=str(tmp / "devpi-client"))
        devpi = str(peer_bin / "devpi")
        sh([devpi, "use", devpi_url], denv)
        sh([devpi, "login", "root", "--password", "rootpw"], denv)
        sh([devpi, "user", "-c", "alice", "password=alicepw", "email=a@example.invalid"], denv)
        sh([devpi, "login", "alice", "--password", "alicepw"], denv)
        sh([devpi, "index", "-c", "dev", "bases=", "volatile=False"], denv)
        seconds = twine_upload(devpi_url + "/alice/dev/", "alice", "alicepw", wheels)
        setup["devpi-server"] = f"twine upload of {len(wheels)} files: {seconds:.1f} s"

        # -- pypiserver ------------------------------------------------------------------------------
        pkgdir, pypi_port = tmp / "pypiserver-packages", free_port()
        pkgdir.mkdir()
        for w in wheels:
            shutil.copy2(w, pkgdir / w.name)
        pypi_url = f"http://127.0.0.1:{pypi_port}"
        procs.append(
            spawn(
                [
                    str(peer_bin / "pypi-server"),
                    "run",
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(pypi_port),
                    "-a",
                    ".",
                    "-P",
                    ".",
                    "--disable-fallback",
                    str(pkgdir),
                ],
                tmp / "pypiserver.log",
            )
        )
        wait_http(pypi_url + "/simple/", procs[-1], "pypiserver")
        setup["pypiserver"] = "files copied into its package folder"

        # -- load ------------------------------------------------------------------------------------
        print(f"wrk -t2 -c32 -d{args.duration}; {args.rounds} round(s), the servers taking turns")
        for _ in range(args.rounds):
            measure(
                "packyard (1 worker)",
                server.url,
                f"/pypi/alice/simple/{PROJECT}/",
                "/pypi/alice/simple/",
                args.duration,
                results,
            )
            measure(
                f"devpi-server {peers.get('devpi-server', '?')}",
                devpi_url,
                f"/alice/dev/+simple/{PROJECT}/",
                "/alice/dev/+simple/",
                args.duration,
                results,
            )
            measure(
                f"pypiserver {peers.get('pypiserver', '?')}",
                pypi_url,
                f"/simple/{PROJECT}/",
                "/simple/",
                args.duration,
                results,
            )
        workers2: subprocess.Popen[bytes] | None = None
        if not args.no_workers2:
            server.stop()
            workers2 = start_packyard(server, 2)
            procs.append(workers2)
            for _ in range(args.rounds):
                measure(
                    "packyard (--workers 2)",
                    server.url,
                    f"/pypi/alice/simple/{PROJECT}/",
                    "/pypi/alice/simple/",
                    args.duration,
                    results,
                )
        if args.postgres:
            from support.server import drop_postgres_database, fresh_postgres_url

            if workers2 is not None:
                stop_process(workers2)
            server.stop()
            url = fresh_postgres_url("packyard_bench_pypi")
            try:
                server, seconds = packyard_with_wheels(tmp / "packyard-pg", wheels, database_url=url)
                setup["packyard (PostgreSQL)"] = f"twine upload of {len(wheels)} files: {seconds:.1f} s"
                for _ in range(args.rounds):
                    measure(
                        "packyard (1 worker, PostgreSQL)",
                        server.url,
                        f"/pypi/alice/simple/{PROJECT}/",
                        "/pypi/alice/simple/",
                        args.duration,
                        results,
                    )
            finally:
                server.stop()
                drop_postgres_database(url)
    finally:
        for p in procs:
            stop_process(p)
        server.stop()

    def rps(name: str, key: str) -> float:
        return statistics.median(r["rps"] for r in results[name][key])

    def cell(name: str, key: str) -> str:
        runs = results[name][key]
        note = " (HTML: no JSON API)" if key.endswith("json") and "json" not in runs[0]["ctype"] else ""
        each = "/".join(f"{r['rps']:.0f}" for r in runs)
        spread = f" ({each})" if len(runs) > 1 else ""
        return f"{rps(name, key):.0f}{spread}{note}"

    keys = ["project-html", "project-json", "root-html", "root-json"]
    rows = [[name, *(cell(name, k) for k in keys)] for name in results]
    print()
    versions = ", ".join(f"{k} {v}" for k, v in sorted(peers.items()))
    print(f"Versions: {versions}; Python {sys.version.split()[0]}")
    for name, text in setup.items():
        print(f"setup {name}: {text}")
    print()
    print(table(["server", "project page HTML", "project page JSON", "/simple/ HTML", "/simple/ JSON"], rows))
    devpi_name = next(n for n in results if n.startswith("devpi"))
    for name in results:
        if name.startswith("packyard"):
            ratio = rps(name, "project-html") / rps(devpi_name, "project-html")
            ratio_j = rps(name, "project-json") / rps(devpi_name, "project-json")
            print(f"{name} / devpi-server, project page: {ratio:.1f}× (HTML), {ratio_j:.1f}× (JSON)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
