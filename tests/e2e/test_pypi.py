"""PyPI indexes end to end: real pip, uv, twine and the anaconda CLI as subprocesses against a live packyard.

What is checked (spec pypi.md §0, §1, §3, §5):

- installs: pip and ``uv pip install`` with ``--index-url`` and with ``--extra-index-url`` (behind an empty
  index), ``uv lock`` of a project whose ``[[tool.uv.index]]`` needs Basic credentials (a private project),
  with the token kept out of ``uv.lock``; from the server's access log, that resolving fetched only
  ``.metadata`` files (no wheel GET before the install step, no HEAD/GET of a wheel that was not installed);
- the pages: HTML and JSON from one URL by ``Accept`` (pip's and uv's exact headers), 406, ``Vary``, ``ETag``
  and 304, sha256 hashes, ``requires-python`` (escaped in HTML), PEP 700 fields, PEP 658 metadata whose
  advertised hash is the sha256 of the served bytes, which are the wheel's METADATA; name and slash redirects;
- uploads: twine and ``uv publish``, identical re-upload (200), conflicting re-upload (400
  ``File already exists``), malformed files (400 with a reason, nothing stored), 401, 403, and
  ``uv publish --check-url`` skipping a file that is already there;
- ``anaconda upload`` of a wheel and an sdist, then served by the same index;
- private projects through ``/pypi/t/<token>/``, ``/t/<token>/pypi/``, Basic ``__token__``; 404 without;
  403 for a token without a pypi scope;
- labels: ``/pypi/alice/label/dev/``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import pytest
from packaging.specifiers import SpecifierSet

from support.clients import python_tools_env, AnacondaCLI
from support.pypkg import build_sdist, build_wheel
from support.server import LiveServer

pytestmark = pytest.mark.client

JSON = "application/vnd.pypi.simple.v1+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"
# What the real clients send on simple pages (spec §1.2; pip 23.2 sends the same as pip 26.3).
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)
UV_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

REQUIRES_PYTHON = ">=3.8,<4"
APP_WHEEL = "app_with_deps-1.0-py3-none-any.whl"
DEP_WHEEL = "dep_lib-1.2-py3-none-any.whl"
INSTALLED = {APP_WHEEL, DEP_WHEEL}  # what installing app-with-deps must download, and nothing else
PRIVATE_WHEEL = "private_app-1.0-py3-none-any.whl"  # made private after upload

ACCESS_LOG = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# -- helpers --------------------------------------------------------------------------------------------


def run(
    cmd: Sequence[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def ok(proc: subprocess.CompletedProcess[str], what: str) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{what} exited {proc.returncode}\n{out}"
    return out


def uv_bin() -> str:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        assert found, "uv is not installed (pip install -e .[test])"
        return found


def uv_env(tmp: Path, **extra: str) -> dict[str, str]:
    return python_tools_env(
        UV_CACHE_DIR=str(tmp / "uv-cache"),
        UV_NO_CONFIG="1",
        XDG_CONFIG_HOME=str(tmp / "xdg"),
        XDG_CONFIG_DIRS=str(tmp / "xdg"),
        UV_PYTHON=sys.executable,
        **extra,
    )


def fresh_venv(path: Path) -> Path:
    """An empty venv; pip (the one running the tests) installs into it with ``--python``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    return path / "bin" / "python"


def pip_install(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-cache-dir", *args],
        env=python_tools_env(),
        timeout=180,
    )


def uv_pip_install(python: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([uv_bin(), "pip", "install", "--python", str(python), *args], env=uv_env(tmp), timeout=180)


def installed_versions(python: Path, *modules: str) -> list[str]:
    code = "import importlib,sys; print(' '.join(importlib.import_module(m).VERSION for m in sys.argv[1:]))"
    proc = subprocess.run(
        [str(python), "-c", code, *modules], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def twine(
    server: LiveServer, repo_path: str, user: str, password: str, *files: Path, verbose: bool = False
) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "twine",
        "upload",
        "--disable-progress-bar",
        "--non-interactive",
        "--repository-url",
        server.url + repo_path,
        "-u",
        user,
        "-p",
        password,
    ]
    if verbose:
        cmd.append("--verbose")
    return run([*cmd, *map(str, files)], env=python_tools_env(), timeout=120)


def uv_publish(
    server: LiveServer, tmp: Path, token: str, *files: Path, check_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [
        uv_bin(),
        "publish",
        "--publish-url",
        server.url + "/pypi/alice/",
        "--username",
        "__token__",
        "--password",
        token,
        "--trusted-publishing",
        "never",
    ]
    if check_url:
        cmd += ["--check-url", check_url]
    return run([*cmd, *map(str, files)], env=uv_env(tmp), timeout=120)


class LogWindow:
    """The access-log lines written between ``start`` and now: [(method, path, status)]."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.offset = len(server.log_text())

    def requests(self) -> list[tuple[str, str, int]]:
        text = self.server.log_text()[self.offset :]
        return [(m.group(1), m.group(2), int(m.group(3))) for m in ACCESS_LOG.finditer(text)]


def check_metadata_only_resolution(reqs: list[tuple[str, str, int]], installed: set[str]) -> None:
    """While resolving, only ``.metadata`` files were read; then exactly the installed files, once each."""
    dists = [(i, m, p, s) for i, (m, p, s) in enumerate(reqs) if p.endswith((".whl", ".tar.gz", ".zip"))]
    metas = [(i, m, p, s) for i, (m, p, s) in enumerate(reqs) if p.endswith(".metadata")]
    assert not [d for d in dists if d[1] != "GET"], f"HEAD (or other) on a distribution: {dists}"
    fetched = sorted(unquote(p.rsplit("/", 1)[-1]) for _, _, p, _ in dists)
    assert fetched == sorted(installed), f"downloaded {fetched}, installed {sorted(installed)}\n{reqs}"
    assert all(s == 200 for *_, s in dists)
    meta_names = {unquote(p.rsplit("/", 1)[-1])[: -len(".metadata")] for _, _, p, _ in metas}
    assert installed <= meta_names, f"resolved without metadata for {installed - meta_names}\n{reqs}"
    assert max(i for i, *_ in metas) < min(i for i, *_ in dists), (
        f"a wheel was fetched while resolving\n{reqs}"
    )


def token(server: LiveServer, user: str, scopes: list[str], note: str) -> str:
    r = httpx.post(
        server.api_url + "/authentications",
        auth=(user, f"{user}-password"),
        json={"scopes": scopes, "note": note},
        trust_env=False,
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["token"])


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, trust_env=False, timeout=30, **kwargs)


def page_json(url: str, **kwargs: Any) -> dict[str, Any]:
    r = get(url, headers={"Accept": JSON, **kwargs.pop("headers", {})}, **kwargs)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(JSON)
    return r.json()  # type: ignore[no-any-return]


def root_names(url: str, **kwargs: Any) -> set[str]:
    return {p["name"] for p in page_json(url, **kwargs)["projects"]}


class Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = dict(attrs)
            self.links.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.links[-1]
            self.links[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None


def anchors(html: str) -> dict[str, dict[str, str | None]]:
    parser = Anchors()
    parser.feed(html)
    return {text: attrs for attrs, text in parser.links}


def legacy_upload(
    server: LiveServer,
    path: str,
    auth: tuple[str, str],
    filename: str,
    content: bytes,
    name: str,
    version: str,
    filetype: str = "bdist_wheel",
) -> httpx.Response:
    """The multipart POST of twine 7 (fields as captured in spec §1.7)."""
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "metadata_version": "2.1",
        "filetype": filetype,
        "pyversion": "py3" if filetype == "bdist_wheel" else "source",
        "summary": "test",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(content, digest_size=32).hexdigest(),
    }
    return httpx.post(
        server.url + path,
        data=fields,
        auth=auth,
        trust_env=False,
        timeout=60,
        files={"content": (filename, content, "application/octet-stream")},
    )


def wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return zf.read(name)


# -- fixtures -------------------------------------------------------------------------------------------


@dataclass
class Tokens:
    alice: str  # scope pypi: install and upload
    alice_download: str  # pypi:download only
    alice_conda: str  # conda:download only
    bob: str  # scope pypi, bob's own


@pytest.fixture(scope="module")
def tokens(server: LiveServer) -> Tokens:
    return Tokens(
        alice=token(server, "alice", ["pypi"], "pypi"),
        alice_download=token(server, "alice", ["pypi:download"], "pypi-download"),
        alice_conda=token(server, "alice", ["conda:download"], "conda-only"),
        bob=token(server, "bob", ["pypi"], "bob-pypi"),
    )


@pytest.fixture(scope="module")
def dists(workdir: Path) -> dict[str, Path]:
    d = workdir / "dist"
    return {
        p.name: p
        for p in [
            build_wheel(
                d, "app-with-deps", "0.9", requires=("dep-lib>=1.0",), requires_python=REQUIRES_PYTHON
            ),
            build_wheel(
                d, "app-with-deps", "1.0", requires=("dep-lib>=1.0",), requires_python=REQUIRES_PYTHON
            ),
            build_wheel(d, "dep-lib", "1.0"),
            build_wheel(d, "dep-lib", "1.2"),
            build_wheel(d, "private-app", "1.0", requires=("dep-lib>=1.0",)),
        ]
    }


@pytest.fixture(scope="module")
def published(server: LiveServer, tokens: Tokens, dists: dict[str, Path]) -> dict[str, Path]:
    """Every file of ``dists`` uploaded to alice's main index with twine; private-app made private."""
    window = LogWindow(server)
    ok(twine(server, "/pypi/alice/", "__token__", tokens.alice, *dists.values()), "twine upload")
    posts = [r for r in window.requests() if r[0] == "POST"]
    assert posts == [("POST", "/pypi/alice/", 200)] * len(dists), posts
    r = httpx.patch(
        server.api_url + "/package/alice/private-app",
        json={"public": False},
        trust_env=False,
        headers={"Authorization": f"token {token(server, 'alice', ['all'], 'admin')}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return dists


# -- installing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["index-url", "extra-index-url"])
def test_pip_install_resolves_from_metadata_only(
    server: LiveServer, published: dict[str, Path], tmp_path: Path, form: str
) -> None:
    python = fresh_venv(tmp_path / "venv")
    alice = f"{server.url}/pypi/alice/simple/"
    args = (
        ["--index-url", alice]
        if form == "index-url"
        else ["--index-url", f"{server.url}/pypi/bob/simple/", "--extra-index-url", alice]
    )
    window = LogWindow(server)
    ok(pip_install(python, *args, "app-with-deps"), "pip install")
    assert installed_versions(python, "app_with_deps", "dep_lib") == ["1.0", "1.2"]
    reqs = window.requests()
    check_metadata_only_resolution(reqs, INSTALLED)
    if form == "extra-index-url":  # bob's empty index was asked first and said 404, so pip moved on
        assert ("GET", "/pypi/bob/simple/app-with-deps/", 404) in reqs


@pytest.mark.parametrize("form", ["index-url", "extra-index-url"])
def test_uv_pip_install_resolves_from_metadata_only(
    server: LiveServer, published: dict[str, Path], tmp_path: Path, form: str
) -> None:
    python = fresh_venv(tmp_path / "venv")
    alice = f"{server.url}/pypi/alice/simple/"
    args = (
        ["--index-url", alice]
        if form == "index-url"
        else ["--index-url", f"{server.url}/pypi/bob/simple/", "--extra-index-url", alice]
    )
    window = LogWindow(server)
    ok(uv_pip_install(python, tmp_path, *args, "app-with-deps"), "uv pip install")
    assert installed_versions(python, "app_with_deps", "dep_lib") == ["1.0", "1.2"]
    check_metadata_only_resolution(window.requests(), INSTALLED)


def test_uv_lock_private_project_with_basic_auth_keeps_token_out_of_lock(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path
) -> None:
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "pyproject.toml").write_text(f"""\
[project]
name = "consumer"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["private-app"]

[[tool.uv.index]]
name = "packyard"
url = "{server.url}/pypi/alice/simple/"
default = true
""")
    env = uv_env(
        tmp_path, UV_INDEX_PACKYARD_USERNAME="__token__", UV_INDEX_PACKYARD_PASSWORD=tokens.alice_download
    )
    del env["UV_NO_CONFIG"]  # it would also ignore [tool.uv] in pyproject.toml; XDG_* isolate the user config

    # Without credentials the private project does not exist (404), so the lock cannot be made.
    anon = {k: v for k, v in env.items() if not k.startswith("UV_INDEX_PACKYARD_")}
    refused = run([uv_bin(), "lock"], env=anon, cwd=project)
    assert refused.returncode != 0
    assert "private-app" in refused.stdout + refused.stderr

    window = LogWindow(server)
    ok(run([uv_bin(), "lock"], env=env, cwd=project), "uv lock")
    lock = (project / "uv.lock").read_text()
    assert tokens.alice_download not in lock and "__token__" not in lock
    assert f'source = {{ registry = "{server.url}/pypi/alice/simple/" }}' in lock
    wheel = published[PRIVATE_WHEEL]
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert (
        f'{{ url = "{server.url}/pypi/alice/files/{PRIVATE_WHEEL}", hash = "sha256:{sha}", '
        f'size = {wheel.stat().st_size}, upload-time = "'
    ) in lock
    assert 'name = "dep-lib"\nversion = "1.2"' in lock
    reqs = window.requests()
    assert not [r for r in reqs if r[1].endswith((".whl", ".tar.gz"))], (
        f"uv lock fetched a distribution: {reqs}"
    )
    assert {
        ("GET", f"/pypi/alice/files/{PRIVATE_WHEEL}.metadata", 200),
        ("GET", f"/pypi/alice/files/{DEP_WHEEL}.metadata", 200),
    } <= set(reqs)
    assert tokens.alice_download not in server.log_text()


# -- the pages ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "fmt", "content_type"),
    [
        (PIP_ACCEPT, "json", JSON),
        (UV_ACCEPT, "json", JSON),
        (JSON, "json", JSON),
        ("application/vnd.pypi.simple.latest+json", "json", JSON),
        ("text/html", "html", "text/html"),
        (V1_HTML, "html", V1_HTML),
        ("application/vnd.pypi.simple.v1+json;q=0.1, text/html", "html", "text/html"),  # q decides, not order
        ("*/*", "html", "text/html"),  # legacy clients and browsers
        (None, "html", "text/html"),
    ],
)
@pytest.mark.parametrize("page", ["/pypi/alice/simple/", "/pypi/alice/simple/app-with-deps/"])
def test_content_negotiation_etag_and_304(
    server: LiveServer, published: dict[str, Path], page: str, accept: str | None, fmt: str, content_type: str
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    with httpx.Client(trust_env=False, timeout=30) as c:
        if accept is None:
            c.headers.pop("Accept", None)
        r = c.get(server.url + page, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].split(";")[0] == content_type
        assert "Accept" in r.headers["vary"]
        if fmt == "json":
            assert r.json()["meta"]["api-version"] == "1.1"
        else:
            assert r.text.startswith("<!DOCTYPE html>")
            assert '<meta name="pypi:repository-version" content="1.1">' in r.text
        etag = r.headers["etag"]
        again = c.get(server.url + page, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag and "Accept" in again.headers["vary"]
        # The other format has its own ETag: a cached HTML page must not validate a JSON request.
        other = c.get(
            server.url + page,
            headers={"Accept": "text/html" if fmt == "json" else JSON, "If-None-Match": etag},
        )
        assert other.status_code == 200 and other.headers["etag"] != etag


@pytest.mark.parametrize(
    "accept",
    [
        "application/xml",
        "application/vnd.pypi.simple.v2+json",
        "text/html;q=0, application/vnd.pypi.simple.v1+json;q=0",
    ],
)
def test_unacceptable_accept_is_406(server: LiveServer, published: dict[str, Path], accept: str) -> None:
    for page in ("/pypi/alice/simple/", "/pypi/alice/simple/app-with-deps/"):
        r = get(server.url + page, headers={"Accept": accept})
        assert r.status_code == 406, (page, r.status_code, r.text)
        assert "Accept" in r.headers["vary"]


def test_project_page_hashes_pep700_and_pep658(server: LiveServer, published: dict[str, Path]) -> None:
    page = f"{server.url}/pypi/alice/simple/app-with-deps/"
    doc = page_json(page, headers={"Accept": PIP_ACCEPT})
    assert doc["name"] == "app-with-deps"
    assert doc["versions"] == ["0.9", "1.0"]
    files = {f["filename"]: f for f in doc["files"]}
    assert set(files) == {"app_with_deps-0.9-py3-none-any.whl", APP_WHEEL}
    html = get(page, headers={"Accept": "text/html"}).text
    links = anchors(html)
    assert set(links) == set(files)  # PEP 503: the anchor text is the file name
    for filename, f in files.items():
        local = published[filename]
        data = local.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        assert f["hashes"] == {"sha256": sha}
        assert f["size"] == len(data)
        assert UPLOAD_TIME.match(f["upload-time"]), f["upload-time"]
        # requires-python: raw in JSON (packaging may reorder the clauses), escaped in HTML.
        assert SpecifierSet(f["requires-python"]) == SpecifierSet(REQUIRES_PYTHON)
        escaped = f["requires-python"].replace(">", "&gt;").replace("<", "&lt;")
        assert f'data-requires-python="{escaped}"' in html and "&lt;4" in escaped
        assert f["yanked"] is False
        # The file itself, at the URL relative to the page, in both formats.
        url = urljoin(page, f["url"])
        href = links[filename]["href"]
        assert href is not None and urljoin(page, href) == f"{url}#sha256={sha}"
        assert links[filename]["data-requires-python"] == f["requires-python"]
        body = get(url)
        assert body.status_code == 200 and body.content == data
        # PEP 658: the metadata file is the wheel's METADATA, and the advertised hash is its sha256.
        meta = get(url + ".metadata")
        assert meta.status_code == 200
        assert meta.content == wheel_metadata(local)
        meta_sha = hashlib.sha256(meta.content).hexdigest()
        assert f["core-metadata"] == {"sha256": meta_sha} == f["dist-info-metadata"]
        assert links[filename]["data-core-metadata"] == f"sha256={meta_sha}"
        assert links[filename]["data-dist-info-metadata"] == f"sha256={meta_sha}"
        assert meta_sha != sha


def test_root_page_lists_projects(server: LiveServer, published: dict[str, Path]) -> None:
    doc = page_json(f"{server.url}/pypi/alice/simple/", headers={"Accept": UV_ACCEPT})
    names = {p["name"] for p in doc["projects"]}
    assert {"app-with-deps", "dep-lib"} <= names
    html = get(f"{server.url}/pypi/alice/simple/", headers={"Accept": "text/html"}).text
    links = anchors(html)
    assert links["app-with-deps"]["href"] == "app-with-deps/"
    assert links["dep-lib"]["href"] == "dep-lib/"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/pypi/alice/simple/App_With_Deps/", "/pypi/alice/simple/app-with-deps/"),
        ("/pypi/alice/simple/app.with.deps/", "/pypi/alice/simple/app-with-deps/"),
        ("/pypi/alice/simple/APP--with__deps/", "/pypi/alice/simple/app-with-deps/"),
        ("/pypi/alice/simple/app-with-deps", "/pypi/alice/simple/app-with-deps/"),
        ("/pypi/alice/simple/App_With_Deps", "/pypi/alice/simple/app-with-deps/"),
        ("/pypi/alice/simple", "/pypi/alice/simple/"),
    ],
)
def test_redirects_to_normalized_name_and_trailing_slash(
    server: LiveServer, published: dict[str, Path], path: str, target: str
) -> None:
    r = get(server.url + path, headers={"Accept": JSON})
    assert r.status_code == 301, (r.status_code, r.text)
    final = get(server.url + path, headers={"Accept": JSON}, follow_redirects=True)
    assert final.status_code == 200 and urlsplit(str(final.url)).path == target
    assert all(h.status_code == 301 for h in final.history)


# -- uploading ------------------------------------------------------------------------------------------


def test_identical_reupload_is_200_and_twine_succeeds(
    server: LiveServer, published: dict[str, Path], tokens: Tokens
) -> None:
    wheel = published[DEP_WHEEL]
    window = LogWindow(server)
    ok(twine(server, "/pypi/alice", "__token__", tokens.alice, wheel), "twine re-upload")
    assert window.requests() == [("POST", "/pypi/alice", 200)]  # no redirect, either
    r = legacy_upload(
        server, "/pypi/alice/", ("__token__", tokens.alice), wheel.name, wheel.read_bytes(), "dep-lib", "1.2"
    )
    assert r.status_code == 200, r.text
    files = page_json(f"{server.url}/pypi/alice/simple/dep-lib/")["files"]
    assert [f["filename"] for f in files].count(DEP_WHEEL) == 1


def test_conflicting_reupload_is_400_file_already_exists(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path
) -> None:
    other = build_wheel(tmp_path, "dep-lib", "1.2", module_code="VERSION = 'other bytes'\n")
    assert other.name == DEP_WHEEL and other.read_bytes() != published[DEP_WHEEL].read_bytes()
    blobs = server.blob_files()
    proc = twine(server, "/pypi/alice/", "__token__", tokens.alice, other, verbose=True)
    assert proc.returncode != 0
    assert "File already exists" in proc.stdout + proc.stderr
    r = legacy_upload(
        server, "/pypi/alice/", ("__token__", tokens.alice), other.name, other.read_bytes(), "dep-lib", "1.2"
    )
    assert r.status_code == 400 and "File already exists" in r.text
    assert server.blob_files() == blobs and server.tmp_files() == []
    served = get(f"{server.url}/pypi/alice/files/{DEP_WHEEL}")
    assert served.content == published[DEP_WHEEL].read_bytes()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _bad_upload(kind: str, tmp: Path) -> tuple[str, bytes, str, str, str]:
    """(filename, content, form name, form version, a word the refusal must contain)."""
    if kind == "filename-vs-metadata":  # the form agrees with the file name; the METADATA inside does not
        w = build_wheel(tmp, "real-name", "1.0")
        return "claimed_name-1.0-py3-none-any.whl", w.read_bytes(), "claimed-name", "1.0", "match"
    if kind == "form-vs-metadata":  # a lazy client: the form names another project than the file
        w = build_wheel(tmp, "real-name", "1.0")
        return w.name, w.read_bytes(), "claimed-name", "1.0", "metadata"
    if kind == "version-vs-metadata":
        w = build_wheel(tmp, "real-name", "1.0")
        return "real_name-2.0-py3-none-any.whl", w.read_bytes(), "real-name", "2.0", "version"
    if kind == "bad-version":  # not PEP 440, in the file name, the form and METADATA alike
        w = build_wheel(tmp, "bad-version", "banana")
        return w.name, w.read_bytes(), "bad-version", "banana", "PEP 440"
    if kind == "broken-zip":
        return (
            "broken_zip-1.0-py3-none-any.whl",
            b"PK\x03\x04" + os.urandom(600),
            "broken-zip",
            "1.0",
            "corrupt",
        )
    if kind == "truncated-zip":
        data = build_wheel(tmp, "truncated-zip", "1.0").read_bytes()
        return "truncated_zip-1.0-py3-none-any.whl", data[: len(data) // 2], "truncated-zip", "1.0", "corrupt"
    if kind == "no-metadata":
        data = _zip(
            {
                "no_metadata.py": b"VERSION = '1.0'\n",
                "no_metadata-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
            }
        )
        return "no_metadata-1.0-py3-none-any.whl", data, "no-metadata", "1.0", "METADATA"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "filename-vs-metadata",
        "form-vs-metadata",
        "version-vs-metadata",
        "bad-version",
        "broken-zip",
        "truncated-zip",
        "no-metadata",
    ],
)
def test_bad_upload_is_400_with_reason_and_stores_nothing(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path, kind: str
) -> None:
    filename, content, name, version, reason = _bad_upload(kind, tmp_path)
    blobs = server.blob_files()
    before = root_names(f"{server.url}/pypi/alice/simple/")
    r = legacy_upload(server, "/pypi/alice/", ("__token__", tokens.alice), filename, content, name, version)
    assert r.status_code == 400, (r.status_code, r.text)
    assert reason.lower() in r.text.lower(), r.text
    assert server.blob_files() == blobs, "a refused upload left a blob behind"
    assert server.tmp_files() == []
    assert root_names(f"{server.url}/pypi/alice/simple/") == before
    for project in {name, "real-name", "claimed-name"}:
        assert get(f"{server.url}/pypi/alice/simple/{project}/", headers={"Accept": JSON}).status_code == 404
    assert get(f"{server.url}/pypi/alice/files/{filename}").status_code == 404


def test_twine_reports_a_refused_file(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path
) -> None:
    """twine reads name and version from the file, so only the server can see the file name is wrong."""
    w = build_wheel(tmp_path, "real-name", "1.0")
    renamed = w.rename(tmp_path / "claimed_name-1.0-py3-none-any.whl")
    proc = twine(server, "/pypi/alice/", "__token__", tokens.alice, renamed, verbose=True)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "400" in out and "does not match" in out


def test_wrong_token_is_401_and_other_namespace_is_403(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path, "dep-lib", "9.0")
    data = wheel.read_bytes()
    blobs = server.blob_files()
    r = legacy_upload(
        server, "/pypi/alice/", ("__token__", "not-a-token"), wheel.name, data, "dep-lib", "9.0"
    )
    assert r.status_code == 401 and r.headers["www-authenticate"].lower().startswith("basic")
    proc = twine(server, "/pypi/alice/", "__token__", "not-a-token", wheel)
    assert proc.returncode != 0 and "401" in proc.stdout + proc.stderr
    # bob, into an existing public project of alice and into a new one there.
    r = legacy_upload(server, "/pypi/alice/", ("__token__", tokens.bob), wheel.name, data, "dep-lib", "9.0")
    assert r.status_code == 403, r.text
    assert "bob" in r.text
    new = build_wheel(tmp_path, "bobs-thing", "1.0")
    proc = twine(server, "/pypi/alice/", "__token__", tokens.bob, new)
    assert proc.returncode != 0 and "403" in proc.stdout + proc.stderr
    r = legacy_upload(
        server, "/pypi/alice/", ("bob", "bob-password"), new.name, new.read_bytes(), "bobs-thing", "1.0"
    )
    assert r.status_code == 403, r.text
    # A download-only token of alice may not upload either, and says why.
    r = legacy_upload(
        server, "/pypi/alice/", ("__token__", tokens.alice_download), wheel.name, data, "dep-lib", "9.0"
    )
    assert r.status_code == 403 and "pypi:upload" in r.text
    assert server.blob_files() == blobs and server.tmp_files() == []
    assert "9.0" not in page_json(f"{server.url}/pypi/alice/simple/dep-lib/")["versions"]
    assert get(f"{server.url}/pypi/alice/simple/bobs-thing/", headers={"Accept": JSON}).status_code == 404


def test_uv_publish_and_check_url_skips_existing(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "dist", "uv-published", "1.0", requires_python=">=3.9")
    window = LogWindow(server)
    ok(uv_publish(server, tmp_path, tokens.alice, wheel), "uv publish")
    assert [r for r in window.requests() if r[0] == "POST"] == [("POST", "/pypi/alice/", 200)]
    doc = page_json(f"{server.url}/pypi/alice/simple/uv-published/")
    assert [f["filename"] for f in doc["files"]] == [wheel.name]
    assert doc["files"][0]["hashes"]["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    # An identical file again: the server says 200, uv says nothing is wrong.
    ok(uv_publish(server, tmp_path, tokens.alice, wheel), "uv publish (identical again)")
    # With --check-url uv compares hashes with the index and does not even post.
    window = LogWindow(server)
    out = ok(
        uv_publish(server, tmp_path, tokens.alice, wheel, check_url=f"{server.url}/pypi/alice/simple/"),
        "uv publish --check-url",
    )
    assert "skipping" in out.lower(), out
    reqs = window.requests()
    assert not [r for r in reqs if r[0] == "POST"], reqs
    assert ("GET", "/pypi/alice/simple/uv-published/", 200) in reqs


# -- anaconda upload ------------------------------------------------------------------------------------


def test_anaconda_upload_wheel_and_sdist_served_by_the_index(
    server: LiveServer, published: dict[str, Path], workdir: Path, tmp_path: Path
) -> None:
    cli = AnacondaCLI(workdir / "alice-home")
    cli.configure(server.api_url)
    cli.login("alice", "alice-password")
    wheel = build_wheel(tmp_path / "dist", "ana-tool", "2.0", requires=("dep-lib>=1.1",))
    sdist = build_sdist(tmp_path / "dist", "ana-tool", "2.0", requires=("dep-lib>=1.1",))
    cli.run("upload", str(wheel), str(sdist))
    pkg = get(f"{server.url}/api/package/alice/ana-tool").json()
    assert pkg["package_types"] == ["pypi"]
    doc = page_json(f"{server.url}/pypi/alice/simple/ana-tool/")
    files = {f["filename"]: f for f in doc["files"]}
    assert set(files) == {wheel.name, sdist.name}
    for path in (wheel, sdist):
        assert files[path.name]["hashes"] == {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        assert files[path.name]["size"] == path.stat().st_size
    meta = get(f"{server.url}/pypi/alice/files/{wheel.name}.metadata").content
    assert meta == wheel_metadata(wheel)
    assert files[wheel.name]["core-metadata"] == {"sha256": hashlib.sha256(meta).hexdigest()}

    python = fresh_venv(tmp_path / "venv")
    window = LogWindow(server)
    ok(
        pip_install(python, "--index-url", f"{server.url}/pypi/alice/simple/", "ana-tool"),
        "pip install ana-tool",
    )
    assert installed_versions(python, "ana_tool", "dep_lib") == ["2.0", "1.2"]
    check_metadata_only_resolution(window.requests(), {wheel.name, DEP_WHEEL})


# -- private projects and tokens ------------------------------------------------------------------------


def _private_index(server: LiveServer, tok: str, form: str) -> str:
    host = server.url.removeprefix("http://")
    return {
        "pypi-t": f"{server.url}/pypi/t/{tok}/alice/simple/",
        "t-pypi": f"{server.url}/t/{tok}/pypi/alice/simple/",
        "basic": f"http://__token__:{tok}@{host}/pypi/alice/simple/",
    }[form]


def test_private_project_is_404_without_a_token(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path
) -> None:
    base = f"{server.url}/pypi/alice"
    assert get(f"{base}/simple/private-app/", headers={"Accept": JSON}).status_code == 404
    assert get(f"{base}/simple/private-app/", headers={"Accept": "text/html"}).status_code == 404
    assert "private-app" not in root_names(f"{base}/simple/")
    assert "private-app" not in get(f"{base}/simple/", headers={"Accept": "text/html"}).text
    assert get(f"{base}/files/{PRIVATE_WHEEL}").status_code == 404
    assert get(f"{base}/files/{PRIVATE_WHEEL}.metadata").status_code == 404
    # Another user's token does not open it either; it is simply not there.
    bob = {"Authorization": f"Bearer {tokens.bob}"}
    assert get(f"{base}/simple/private-app/", headers={"Accept": JSON, **bob}).status_code == 404
    assert "private-app" not in root_names(f"{base}/simple/", headers=bob)
    python = fresh_venv(tmp_path / "venv")
    proc = pip_install(python, "--index-url", f"{base}/simple/", "private-app")
    assert proc.returncode != 0


@pytest.mark.parametrize("form", ["pypi-t", "t-pypi", "basic"])
def test_private_project_installs_with_each_token_form(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path, form: str
) -> None:
    index = _private_index(server, tokens.alice_download, form)
    if form == "basic":
        page = page_json(
            f"{server.url}/pypi/alice/simple/private-app/", auth=("__token__", tokens.alice_download)
        )
    else:
        page = page_json(index + "private-app/")
        assert "private-app" in root_names(index)
    assert [f["filename"] for f in page["files"]] == [PRIVATE_WHEEL]
    python = fresh_venv(tmp_path / "venv")
    window = LogWindow(server)
    proc = pip_install(python, "--index-url", index, "private-app")
    out = ok(proc, f"pip install ({form})")
    assert installed_versions(python, "private_app", "dep_lib") == ["1.0", "1.2"]
    check_metadata_only_resolution(window.requests(), {PRIVATE_WHEEL, DEP_WHEEL})
    if form == "basic":
        assert tokens.alice_download not in out  # pip masks a password in the URL
    # The path token never reaches the access log (the middleware takes it out of the path first).
    assert tokens.alice_download not in server.log_text()


@pytest.mark.parametrize("form", ["pypi-t", "t-pypi"])
def test_redirects_keep_the_path_token(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, form: str
) -> None:
    index = _private_index(server, tokens.alice_download, form)
    r = get(index + "Private_App/", headers={"Accept": JSON}, follow_redirects=True)
    assert r.status_code == 200, (r.status_code, r.text, [h.headers.get("location") for h in r.history])
    assert str(r.url) == index + "private-app/"
    r = get(index.rstrip("/"), headers={"Accept": JSON}, follow_redirects=True)
    assert r.status_code == 200 and "private-app" in {p["name"] for p in r.json()["projects"]}


@pytest.mark.parametrize("how", ["pypi-t", "t-pypi", "basic", "bearer"])
def test_token_without_pypi_scope_is_403(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, how: str
) -> None:
    tok = tokens.alice_conda
    if how in ("pypi-t", "t-pypi"):
        base, kwargs = _private_index(server, tok, how), {}
    elif how == "basic":
        base, kwargs = f"{server.url}/pypi/alice/simple/", {"auth": ("__token__", tok)}
    else:
        base, kwargs = f"{server.url}/pypi/alice/simple/", {"headers": {"Authorization": f"Bearer {tok}"}}
    for url in (base, base + "private-app/", base + "dep-lib/"):
        r = get(url, **kwargs)
        assert r.status_code == 403, (url, r.status_code, r.text)
        assert "token lacks scope pypi:download" in r.text
    files = base.replace("/simple/", "/files/")
    r = get(files + DEP_WHEEL, **kwargs)
    assert r.status_code == 403 and "token lacks scope pypi:download" in r.text


# -- labels ---------------------------------------------------------------------------------------------


def test_label_upload_is_only_in_the_label_index(
    server: LiveServer, published: dict[str, Path], tokens: Tokens, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "dist", "dev-only", "0.1.dev1")
    ok(twine(server, "/pypi/alice/label/dev/", "__token__", tokens.alice, wheel), "twine upload to label dev")
    label = f"{server.url}/pypi/alice/label/dev"
    main = f"{server.url}/pypi/alice"
    doc = page_json(f"{label}/simple/dev-only/")
    assert [f["filename"] for f in doc["files"]] == [wheel.name]
    assert "dev-only" in root_names(f"{label}/simple/")
    assert get(f"{label}/files/{wheel.name}").content == wheel.read_bytes()
    assert get(f"{main}/simple/dev-only/", headers={"Accept": JSON}).status_code == 404
    assert "dev-only" not in root_names(f"{main}/simple/")
    assert get(f"{main}/files/{wheel.name}").status_code == 404
    # And a client can install from the label's index.
    python = fresh_venv(tmp_path / "venv")
    ok(
        uv_pip_install(
            python, tmp_path, "--index-url", f"{label}/simple/", "--prerelease", "allow", "dev-only"
        ),
        "uv pip install from label dev",
    )
    assert installed_versions(python, "dev_only") == ["0.1.dev1"]


def test_identical_file_uploaded_into_another_label_is_listed_there(
    server: LiveServer, published: dict[str, Path], tokens: Tokens
) -> None:
    """Re-uploading a file that is in main into label ``staging`` answers 200 and lists it in ``staging``
    (a 200 that left the label index without the file would be a silent failure)."""
    wheel = published[APP_WHEEL]
    blobs = server.blob_files()
    ok(
        twine(server, "/pypi/alice/label/staging/", "__token__", tokens.alice, wheel),
        "twine upload to staging",
    )
    staging = page_json(f"{server.url}/pypi/alice/label/staging/simple/app-with-deps/")
    assert [f["filename"] for f in staging["files"]] == [APP_WHEEL]
    main = page_json(f"{server.url}/pypi/alice/simple/app-with-deps/")
    assert APP_WHEEL in [f["filename"] for f in main["files"]]
    assert staging["files"][0]["hashes"] == next(
        f["hashes"] for f in main["files"] if f["filename"] == APP_WHEEL
    )
    assert server.blob_files() == blobs  # the same blob, no copy
