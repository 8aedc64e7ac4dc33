"""Shared helpers for the benchmark scripts (not a benchmark itself).

Imported as ``from _common import ...`` by ``python benchmarks/<name>.py`` (the script's folder is on
``sys.path``). Puts ``src/`` and ``tests/`` on the path so ``packyard`` and ``support`` import from the work
tree without installing anything.

Seeding (``seed_channel``): rows are bulk-inserted with SQLAlchemy Core into the database of a *stopped*
server, shaped exactly as the upload path writes them (see ``services/uploads.py``: ``commit`` and
``_fill_conda``, and ``services/indexing.py``: ``publish``):

- ``packages``: one per name, ``package_types=["conda"]``, public, summary/description/license/home set
  as ``anaconda upload`` sends them in ``public_attrs``;
- ``releases``: one per (name, version), attrs as ``anaconda upload`` sends them;
- ``files``: one per artifact, ``basename="linux-64/<fn>"``, ``attrs`` = index.json + has_prefix + subdir,
  ``dependencies`` in anaconda-client's ``{"depends": [...]}`` form, and ``record`` = the repodata record
  serialized with ``packyard.domain.repodata.serialize_record`` (index.json minus install-time fields, plus
  md5/sha256/size);
- ``file_labels`` to label ``main``; one ``channel_indexes`` row whose ``serial`` is the id of the last of
  the ``index_events`` (one add-event per file, carrying the same serialized record, in upload order).

What it leaves out: blobs (no request in these benchmarks reads a seeded file's bytes) and
``staged_uploads`` rows (after a real upload they are kept until they expire and are then deleted at the
next start, so a channel filled long ago has none). ``check_seeded_shape`` compares a seeded row with a
row written by a real upload, column by column and key by key, and the benchmarks print the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO / "tests", REPO / "src"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import httpx
from sqlalchemy import create_engine, insert, select, update

from packyard.domain.repodata import serialize_record
from packyard.storage.db.models import (
    ChannelIndex,
    File,
    FileLabel,
    IndexEvent,
    Label,
    Owner,
    Package,
    Release,
)
from support.condapkg import build_conda_package  # noqa: F401  (re-exported)
from support.server import LiveServer, free_port  # noqa: F401  (re-exported)

USER, PASSWORD = "bench", "bench-password-1"


def machine_line() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores, loopback (127.0.0.1), Python {sys.version.split()[0]}, {sys.platform}; "
            f"load average at the end {load} (other work on the machine makes numbers noisy: compare ratios)")


# -- statistics and tables -------------------------------------------------------------------------

def pct(values: Sequence[float], q: float) -> float:
    """Percentile by linear interpolation (q in 0..100)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# -- seeding ---------------------------------------------------------------------------------------

@dataclass
class SeedInfo:
    files: int
    packages: int
    seconds: float


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("0123456789abcdef", k=n))


def seed_channel(database_url: str, owner_login: str, n_files: int, subdir: str = "linux-64",
                 label: str = "main", builds_per_version: int = 5, versions_per_package: int = 4,
                 seed: int = 20_000) -> SeedInfo:
    """Bulk-insert ``n_files`` conda files of ``owner_login`` into ``label``/``subdir`` (server stopped)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    engine = create_engine(database_url)
    per_package = builds_per_version * versions_per_package
    n_packages = -(-n_files // per_package)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        owner_id = conn.scalar(select(Owner.id).where(Owner.login == owner_login))
        assert owner_id is not None, f"create user {owner_login} first"
        label_id = conn.scalar(select(Label.id).where(Label.owner_id == owner_id, Label.name == label))
        if label_id is None:
            label_id = conn.execute(insert(Label).values(owner_id=owner_id, name=label, is_locked=False,
                                                         created_at=now).returning(Label.id)).scalar_one()
        index_id = conn.scalar(select(ChannelIndex.id).where(ChannelIndex.owner_id == owner_id,
                                                             ChannelIndex.label == label,
                                                             ChannelIndex.subdir == subdir))
        if index_id is None:
            index_id = conn.execute(insert(ChannelIndex).values(owner_id=owner_id, label=label, subdir=subdir,
                                                                serial=0).returning(ChannelIndex.id)).scalar_one()
        base_pkg = (conn.scalar(select(Package.id).order_by(Package.id.desc()).limit(1)) or 0) + 1
        base_rel = (conn.scalar(select(Release.id).order_by(Release.id.desc()).limit(1)) or 0) + 1
        base_file = (conn.scalar(select(File.id).order_by(File.id.desc()).limit(1)) or 0) + 1
        base_event = (conn.scalar(select(IndexEvent.id).order_by(IndexEvent.id.desc()).limit(1)) or 0) + 1

        packages, releases, files, file_labels, events = [], [], [], [], []
        names = [f"seed-{_hex(rng, 3)}{i}" for i in range(n_packages)]
        for p, name in enumerate(names):
            pkg_id = base_pkg + p
            summary = f"{name}: a seeded benchmark package"
            home = f"https://example.invalid/{name}"
            packages.append({
                "id": pkg_id, "owner_id": owner_id, "name": name, "name_key": name.lower(), "summary": summary,
                "description": f"{summary} (long description)", "license": "BSD-3-Clause", "home": home,
                "access": "public", "package_types": ["conda"], "created_at": now, "updated_at": now,
            })
            for v in range(versions_per_package):
                version = f"{1 + p % 3}.{v}.{p % 7}"
                rel_id = base_rel + len(releases)
                releases.append({
                    "id": rel_id, "package_id": pkg_id, "version": version, "summary": summary,
                    "description": f"{summary} (long description)", "home_page": home, "created_at": now,
                    "attrs": {"dev_url": None, "doc_url": None, "home": home, "source_git_url": None,
                              "source_git_tag": None, "icon": None, "license": "BSD-3-Clause",
                              "license_url": None, "license_family": None},
                })
                for b in range(builds_per_version):
                    if len(files) >= n_files:
                        break
                    py = 8 + b
                    build = f"py3{py}h{_hex(rng, 5)}_{b % 3}"
                    depends = [f"python >=3.{py},<3.{py + 1}.0a0"]
                    if p and b % 3 == 0:
                        depends.append(f"{names[rng.randrange(p)]} >=1.0")
                    index = {"arch": "x86_64", "build": build, "build_number": b % 3, "depends": depends,
                             "license": "BSD-3-Clause", "name": name, "platform": "linux", "subdir": subdir,
                             "timestamp": 1_700_000_000_000 + rng.randrange(10**10), "version": version}
                    md5, sha256, size = _hex(rng, 32), _hex(rng, 64), rng.randrange(20_000, 5_000_000)
                    record = {k: v for k, v in index.items() if k not in ("arch", "platform")}
                    record.update(md5=md5, sha256=sha256, size=size)
                    serialized = serialize_record(record)
                    filename = f"{name}-{version}-{build}.conda"
                    file_id = base_file + len(files)
                    files.append({
                        "id": file_id, "package_id": pkg_id, "release_id": rel_id, "owner_id": owner_id,
                        "basename": f"{subdir}/{filename}", "subdir": subdir, "filename": filename, "type": "conda",
                        "size": size, "md5": md5, "sha256": sha256, "description": f"{summary} (long description)",
                        "attrs": {**index, "has_prefix": False, "subdir": subdir},
                        "dependencies": {"depends": [{"name": d.split(" ")[0], "specs": []} for d in depends]},
                        "record": serialized, "uploader_id": owner_id, "upload_time": now, "download_count": 0,
                    })
                    file_labels.append({"file_id": file_id, "label_id": label_id})
                    events.append({"id": base_event + len(events), "index_id": index_id, "filename": filename,
                                   "package_id": pkg_id, "record": serialized})
        conn.execute(insert(Package), packages)
        conn.execute(insert(Release), releases)
        conn.execute(insert(File), files)
        conn.execute(insert(FileLabel), file_labels)
        conn.execute(insert(IndexEvent), events)
        conn.execute(update(ChannelIndex).where(ChannelIndex.id == index_id).values(serial=events[-1]["id"]))
    engine.dispose()
    return SeedInfo(files=len(files), packages=len(packages), seconds=time.perf_counter() - t0)


def check_seeded_shape(database_url: str, real_basename: str) -> str:
    """Compare a seeded file row with the row a real upload wrote: same non-null columns, same keys in the
    JSON columns and in the serialized record. Returns "OK" or the differences."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            real = conn.execute(select(File).where(File.basename == real_basename)).mappings().one()
            seeded = conn.execute(select(File).where(File.basename.like("%/seed-%")).limit(1)).mappings().one()
            diffs = []
            for col in real:
                if (real[col] is None) != (seeded[col] is None):
                    diffs.append(f"{col}: null in one row only")
            for col in ("attrs",):
                if set(real[col]) != set(seeded[col]):
                    diffs.append(f"{col} keys: real {sorted(real[col])} vs seeded {sorted(seeded[col])}")
            rk, sk = set(json.loads(real["record"])), set(json.loads(seeded["record"]))
            if rk != sk:
                diffs.append(f"record keys: real {sorted(rk)} vs seeded {sorted(sk)}")
            if set(real["dependencies"] or {}) != set(seeded["dependencies"] or {}):
                diffs.append("dependencies differ in shape")
            n_idx = conn.execute(select(ChannelIndex.serial, ChannelIndex.id)).all()
            last = conn.scalar(select(IndexEvent.id).order_by(IndexEvent.id.desc()).limit(1))
            if not any(serial == last for serial, _ in n_idx):
                diffs.append("no index's serial equals the last event id")
    finally:
        engine.dispose()
    return "OK" if not diffs else "; ".join(diffs)


# -- talking to a server ---------------------------------------------------------------------------

def sqlite_url(server: LiveServer) -> str:
    return f"sqlite:///{(server.data_dir / 'packyard.db').resolve()}"


def login_token(server: LiveServer, user: str = USER, password: str = PASSWORD) -> str:
    r = httpx.post(server.api_url + "/authentications", auth=(user, password), json={"note": "bench"},
                   trust_env=False, timeout=30)
    r.raise_for_status()
    return str(r.json()["token"])


def run(cmd: Sequence[str], timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          check=False, **kw)



class ProtocolUploader:
    """The anaconda.org upload protocol as anaconda-client 1.16 speaks it, with httpx (one connection)."""

    def __init__(self, server: LiveServer, token: str, owner: str = USER) -> None:
        self.server, self.owner = server, owner
        self.client = httpx.Client(base_url=server.api_url, headers={"Authorization": f"token {token}"},
                                   trust_env=False, timeout=60)

    def close(self) -> None:
        self.client.close()

    def ensure_package(self, name: str, summary: str = "benchmark package") -> None:
        if self.client.get(f"/package/{self.owner}/{name}").status_code == 404:
            r = self.client.post(f"/package/{self.owner}/{name}", json={
                "public": True, "publish": False,
                "public_attrs": {"summary": summary, "package_types": ["conda"],
                                 "license": {"name": "MIT", "url": None, "family": None}}})
            r.raise_for_status()

    def create_release(self, name: str, version: str) -> None:
        r = self.client.post(f"/release/{self.owner}/{name}/{version}", json={
            "requirements": [], "announce": False, "description": None, "summary": "benchmark package",
            "home_page": None})
        r.raise_for_status()

    def upload(self, path: Path, name: str, version: str, subdir: str, label: str = "main"
               ) -> tuple[float, float, float]:
        """stage → multipart POST → commit; returns the three durations in seconds."""
        import base64

        data = path.read_bytes()
        basename = f"{subdir}/{path.name}"
        t0 = time.perf_counter()
        r = self.client.post(f"/stage/{self.owner}/{name}/{version}/{basename}", json={
            "distribution_type": "conda", "description": "", "attrs": {"subdir": subdir},
            "dependencies": {"depends": []}, "channels": [label], "sha256": hashlib.sha256(data).hexdigest()})
        r.raise_for_status()
        staged = r.json()
        t1 = time.perf_counter()
        form = dict(staged["form_data"])
        form["Content-Length"] = str(len(data))
        form["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        r = self.client.post(staged["post_url"], data=form, files={"file": (basename, data)})
        if r.status_code != 201:
            raise RuntimeError(f"storage POST -> {r.status_code}: {r.text}")
        t2 = time.perf_counter()
        r = self.client.post(f"/commit/{self.owner}/{name}/{version}/{basename}", json={"dist_id": staged["dist_id"]})
        r.raise_for_status()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2


class RepodataFetcher:
    """GET one repodata URL over a kept-alive http.client connection (less client overhead than httpx for
    multi-megabyte bodies). Returns (seconds, status, body length, etag)."""

    def __init__(self, server: LiveServer, path: str) -> None:
        import http.client

        self._conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.path = path

    def get(self, headers: dict[str, str] | None = None) -> tuple[float, int, int, str]:
        import http.client

        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                self._conn.request("GET", self.path, headers=headers or {})
                resp = self._conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                # uvicorn closes keep-alive connections idle for 5 s; the request never reached the app,
                # so retry (and time) it on a new connection.
                self._conn.close()
                if attempt == 2:
                    raise
                continue
            return time.perf_counter() - t0, resp.status, len(body), resp.getheader("ETag") or ""
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._conn.close()


def start_packyard(server: LiveServer, workers: int) -> subprocess.Popen[bytes]:
    """``python -m packyard serve --workers N`` on ``server``'s data dir, port and environment (for worker
    counts LiveServer does not start). Waits until it answers; stop it with ``stop_process``."""
    with open(server.data_dir / f"server-{workers}w.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "packyard", "serve", "--host", "127.0.0.1", "--port", str(server.port),
             "--workers", str(workers)],
            env=server.env, cwd=server.data_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"packyard --workers {workers} exited {proc.returncode}")
        try:
            if httpx.head(server.api_url, timeout=2, trust_env=False).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"packyard --workers {workers} not ready after 60 s")


def stop_process(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wrk(url: str, headers: dict[str, str] | None = None, threads: int = 2, connections: int = 32,
        duration: str = "8s") -> dict[str, Any]:
    """Run wrk once; return requests/s, the number of non-2xx/3xx responses and socket errors."""
    import re

    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    proc = run([*cmd, url], timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stderr or proc.stdout}")
    out = proc.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    lat = re.search(r"Latency\s+(\S+)", out)
    return {"rps": rps, "bad": int(bad.group(1)) if bad else 0, "errors": errors.group(0) if errors else "",
            "latency": lat.group(1) if lat else "", "raw": out}
