"""Uploads that race: several clients creating packages in the same new label at once must all succeed
(on PostgreSQL two transactions used to create the same label and one failed)."""

from __future__ import annotations

import concurrent.futures as cf
from pathlib import Path

import httpx

from support.clients import AnacondaCLI
from support.condapkg import build_conda_package
from support.server import LiveServer


def test_parallel_first_uploads_into_a_new_label(server: LiveServer, workdir: Path) -> None:
    cli = AnacondaCLI(workdir / "racer")
    cli.configure(server.api_url)
    cli.login("bob", "bob-password")
    packages = [build_conda_package(workdir / "race", f"racer{i}", "1.0", fmt="conda") for i in range(6)]
    with cf.ThreadPoolExecutor(len(packages)) as pool:
        results = list(pool.map(lambda p: cli.run("upload", "--label", "rc", str(p), check=False), packages))
    failures = [r.stderr[-300:] for r in results if r.returncode != 0]
    assert not failures, failures
    listed = httpx.get(f"{server.url}/conda/bob/label/rc/noarch/repodata.json").json()["packages.conda"]
    assert sorted(listed) == sorted(p.name for p in packages)
