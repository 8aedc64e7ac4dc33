"""PEP 592: a yanked file stays listed with its reason; pip skips it unless pinned to it; un-yanking brings it
back. The change is visible at once (the page is rebuilt from the index event of the yank)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from support.clients import python_tools_env
from support.pypkg import build_wheel
from support.server import LiveServer

AUTH = ("alice", "alice-password")
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def _upload(server: LiveServer, wheel: Path, version: str) -> None:
    with wheel.open("rb") as fh:
        r = httpx.post(f"{server.url}/pypi/alice/", auth=AUTH, timeout=60,
                       data={":action": "file_upload", "protocol_version": "1", "name": "yankme",
                             "version": version, "filetype": "bdist_wheel", "pyversion": "py3"},
                       files={"content": (wheel.name, fh, "application/octet-stream")})
    assert r.status_code == 200, r.text


def _pip_download(server: LiveServer, spec: str, dest: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(dest), "--index-url",
         f"{server.url}/pypi/alice/simple/", spec],
        env=python_tools_env(), capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(p.name for p in dest.iterdir())


def _yank(server: LiveServer, version: str, filename: str, yanked: bool | str) -> None:
    r = httpx.patch(f"{server.api_url}/dist/alice/yankme/{version}/{filename}", auth=AUTH,
                    json={"yanked": yanked}, timeout=30)
    assert r.status_code == 200, r.text


def test_yank_and_unyank_a_wheel(server: LiveServer, workdir: Path) -> None:
    old = build_wheel(workdir / "yank", "yankme", "1.0")
    new = build_wheel(workdir / "yank", "yankme", "2.0")
    _upload(server, old, "1.0")
    _upload(server, new, "2.0")

    _yank(server, "2.0", new.name, "broken build")
    files = {f["filename"]: f for f in httpx.get(f"{server.url}/pypi/alice/simple/yankme/", headers=JSON).json()["files"]}
    assert files[new.name]["yanked"] == "broken build"
    assert files[old.name]["yanked"] is False
    html = httpx.get(f"{server.url}/pypi/alice/simple/yankme/", headers={"Accept": "text/html"}).text
    assert 'data-yanked="broken build"' in html
    assert _pip_download(server, "yankme", workdir / "dl1") == [old.name]  # the yanked 2.0 is skipped
    assert _pip_download(server, "yankme==2.0", workdir / "dl2") == [new.name]  # unless pinned

    _yank(server, "2.0", new.name, False)
    files = {f["filename"]: f for f in httpx.get(f"{server.url}/pypi/alice/simple/yankme/", headers=JSON).json()["files"]}
    assert files[new.name]["yanked"] is False
    assert _pip_download(server, "yankme", workdir / "dl3") == [new.name]


def test_yank_needs_write_access_and_an_existing_file(server: LiveServer) -> None:
    r = httpx.patch(f"{server.api_url}/dist/alice/yankme/1.0/yankme-1.0-py3-none-any.whl",
                    auth=("bob", "bob-password"), json={"yanked": True}, timeout=30)
    assert r.status_code in (403, 404), r.text
    r = httpx.patch(f"{server.api_url}/dist/alice/yankme/1.0/nope.whl", auth=AUTH, json={"yanked": True})
    assert r.status_code == 404
