"""The unmodified `anaconda` CLI (anaconda-client 1.16.0) against a live packyard, as a user sees it.

Login, upload, show, search, download and remove go through the CLI as subprocesses. Bad input the CLI
would never send (a corrupt archive, a forged basename, a tampered storage POST) goes through
anaconda-client's own Python API (``binstar_client.Binstar``) or plain httpx speaking the same 4-step
protocol (spec anaconda-api.md §5.4). Every refusal must be a 4xx whose message the client prints and must
leave nothing stored: no file row, no repodata entry, no new blob, an empty ``blobs/tmp``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx
import pytest
from binstar_client import Binstar
from binstar_client import errors as binstar_errors

from support.clients import AnacondaCLI
from support.condapkg import PackageFormat, build_conda_package, corrupt_copy, sha256_file
from support.server import LiveServer

pytestmark = pytest.mark.client

FORMATS: tuple[PackageFormat, ...] = ("tar.bz2", "conda")


# -- helpers --------------------------------------------------------------------------------------------


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI prints mostly to stderr; judge both streams together."""
    return proc.stdout + proc.stderr


def http(server: LiveServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, trust_env=False, timeout=60)


def repodata_files(server: LiveServer, owner: str, subdir: str) -> dict[str, dict[str, Any]]:
    """filename → record of ``/conda/<owner>/<subdir>/repodata.json`` (both package formats)."""
    with http(server) as c:
        r = c.get(f"/conda/{owner}/{subdir}/repodata.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    return {**doc.get("packages", {}), **doc.get("packages.conda", {})}


def dist_url(owner: str, package: str, version: str, basename: str) -> str:
    # ".." is sent percent-encoded, or the HTTP client would resolve it before the server sees it.
    return f"/api/dist/{owner}/{package}/{version}/{quote(basename, safe='/').replace('..', '%2E%2E')}"


def package_basenames(server: LiveServer, owner: str, package: str) -> list[str] | None:
    """The basenames the API lists for a package, or None when the package does not exist."""
    with http(server) as c:
        r = c.get(f"/api/package/{owner}/{package}")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return sorted(f["basename"] for f in r.json()["files"])


def assert_nothing_stored(
    server: LiveServer, blobs_before: set[str], owner: str, package: str, version: str, basename: str
) -> None:
    """No file row, no repodata entry, no new blob, nothing left in blobs/tmp."""
    with http(server) as c:
        assert c.get(dist_url(owner, package, version, basename)).status_code == 404
    listed = package_basenames(server, owner, package)
    assert listed is None or basename not in listed, listed
    filename = re.split(r"[/\\]", basename)[-1]
    subdir = basename.split("/")[0]
    for checked in [subdir] if subdir in ("noarch", "linux-64") else ["noarch", "linux-64"]:
        assert filename not in repodata_files(server, owner, checked)
    assert server.blob_files() == blobs_before
    assert server.tmp_files() == []


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


class RawUploader:
    """The 4-step upload protocol over plain httpx, so each step can be sent wrong on purpose."""

    def __init__(self, server: LiveServer, token: str | None) -> None:
        self.server = server
        self.client = http(server, token)

    def stage(
        self,
        owner: str,
        package: str,
        version: str,
        basename: str,
        data: bytes,
        dist_type: str = "conda",
        attrs: dict[str, Any] | None = None,
    ) -> httpx.Response:
        # The basename goes into the path as the client puts it there (quote, "/" kept; spec §3.2).
        return self.client.post(
            f"/api/stage/{owner}/{package}/{version}/{quote(basename, safe='/%')}",
            json={"distribution_type": dist_type, "description": None, "attrs": attrs or {},
                  "dependencies": None, "channels": [], "sha256": hashlib.sha256(data).hexdigest()},
        )  # fmt: skip

    def storage_post(
        self,
        staged: dict[str, Any],
        data: bytes,
        *,
        content_md5: str | None = None,
        content_length: str | None = None,
    ) -> httpx.Response:
        # Field order as the client sends it: form_data, Content-Length, Content-MD5, then the file; no auth.
        fields = dict(staged["form_data"])
        fields["Content-Length"] = content_length if content_length is not None else str(len(data))
        fields["Content-MD5"] = content_md5 if content_md5 is not None else md5_b64(data)
        with httpx.Client(trust_env=False, timeout=60) as bare:
            return bare.post(staged["post_url"], data=fields, files={"file": ("upload", data)})

    def commit(self, owner: str, package: str, version: str, basename: str, dist_id: Any) -> httpx.Response:
        return self.client.post(
            f"/api/commit/{owner}/{package}/{version}/{quote(basename, safe='/%')}", json={"dist_id": dist_id}
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def s3_code(response: httpx.Response) -> str | None:
    """<Code> of an S3-style XML error, as the CLI reads it (spec §5.4.5)."""
    node = ET.fromstring(response.text).find("Code")
    return None if node is None else node.text


def assert_json_error(response: httpx.Response, status: int, *fragments: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert isinstance(message, str) and message
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alice(server: LiveServer, workdir: Path) -> AnacondaCLI:
    """One logged-in CLI home for alice, shared by the module."""
    cli = AnacondaCLI(workdir / "alice-home")
    cli.configure(server.api_url)
    cli.login("alice", "alice-password")
    return cli


@pytest.fixture(scope="module")
def alice_token(alice: AnacondaCLI) -> str:
    token = alice.token()
    assert token is not None
    return token


@pytest.fixture(scope="module")
def api(server: LiveServer, alice_token: str) -> Binstar:
    """anaconda-client's own Python API, logged in as alice."""
    client = Binstar(token=alice_token, domain=server.api_url)
    client.session.trust_env = False
    return client


@pytest.fixture(scope="module")
def anonymous(server: LiveServer, workdir: Path) -> AnacondaCLI:
    """A CLI home pointed at the server, never logged in."""
    cli = AnacondaCLI(workdir / "anonymous-home")
    cli.configure(server.api_url)
    return cli


@pytest.fixture
def raw(server: LiveServer, alice_token: str) -> Iterator[RawUploader]:
    uploader = RawUploader(server, alice_token)
    yield uploader
    uploader.close()


def ensure_release(api: Binstar, package: str, version: str, owner: str = "alice") -> None:
    """What the CLI does before stage: create the package and the release when missing."""
    try:
        api.package(owner, package)
    except binstar_errors.NotFound:
        api.add_package(owner, package, summary=f"{package} summary")
    try:
        api.release(owner, package, version)
    except binstar_errors.NotFound:
        api.add_release(owner, package, version, [], None, {})


def api_upload(
    api: Binstar, path: Path, package: str, version: str, basename: str, attrs: dict[str, Any] | None = None
) -> Any:
    """``Binstar.upload`` (stage → storage POST → commit) with a given basename and stage attrs."""
    ensure_release(api, package, version)
    with path.open("rb") as fh:
        return api.upload(
            "alice", package, version, basename, fh, "conda", description=None, attrs=attrs or {}, channels=[]
        )


# -- login, whoami, logout --------------------------------------------------------------------------------


def test_login_and_whoami(server: LiveServer, alice: AnacondaCLI, alice_token: str) -> None:
    who = alice.run("org", "whoami")
    assert "Username: alice" in output(who)
    assert "Member since:" in output(who)
    # The token is stored where the client looks for it, in the charset conda accepts in /t/<token>/.
    assert re.fullmatch(r"[A-Za-z0-9-]+", alice_token)
    assert all(p.read_text() == alice_token for p in alice.token_paths() if p.exists())
    with http(server, alice_token) as c:
        assert c.get("/api/user").json()["login"] == "alice"


def test_wrong_password_fails_and_stores_no_token(server: LiveServer, workdir: Path) -> None:
    cli = AnacondaCLI(workdir / "wrong-password-home")
    cli.configure(server.api_url)
    proc = cli.login("alice", "not-alices-password", check=False)
    assert proc.returncode != 0
    assert "Invalid Username password combination" in output(proc)
    assert "login successful" not in output(proc)
    assert cli.token() is None
    assert not any(p.exists() for p in cli.token_paths())


def test_logout_forgets_and_revokes_the_token(server: LiveServer, workdir: Path) -> None:
    cli = AnacondaCLI(workdir / "logout-home")
    cli.configure(server.api_url)
    cli.login("alice", "alice-password")
    token = cli.token()
    assert token is not None
    proc = cli.logout()
    assert "logout successful" in output(proc)
    assert cli.token() is None
    assert "Anonymous User" in output(cli.run("org", "whoami"))
    # Logout revokes the token on the server too: a copy of it no longer works.
    with http(server, token) as c:
        assert_json_error(c.get("/api/user"), 401)


# -- upload, show, search, download -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def hello_files(alice: AnacondaCLI, workdir: Path) -> dict[str, Path]:
    """hello 1.0 uploaded by the CLI in both formats into noarch and linux-64: basename → local file."""
    files: dict[str, Path] = {}
    for subdir in ("noarch", "linux-64"):
        for fmt in FORMATS:
            path = build_conda_package(
                workdir / "hello" / subdir,
                "hello",
                "1.0",
                subdir=subdir,
                fmt=fmt,
                depends=["python >=3.8"] if subdir == "linux-64" else (),
            )
            files[f"{subdir}/{path.name}"] = path
    proc = alice.run("upload", *map(str, files.values()))
    assert output(proc).count("Upload complete") == 4, output(proc)
    return files


def test_upload_both_formats_to_two_subdirs(server: LiveServer, hello_files: dict[str, Path]) -> None:
    assert package_basenames(server, "alice", "hello") == sorted(hello_files)
    with http(server) as c:
        for basename, path in hello_files.items():
            dist = c.get(dist_url("alice", "hello", "1.0", basename)).json()
            assert (dist["sha256"], dist["size"], dist["type"]) == (
                sha256_file(path),
                path.stat().st_size,
                "conda",
            )
    for subdir in ("noarch", "linux-64"):
        listed = repodata_files(server, "alice", subdir)
        for fmt in FORMATS:
            record = listed[f"hello-1.0-0.{fmt}"]
            assert record["sha256"] == sha256_file(hello_files[f"{subdir}/hello-1.0-0.{fmt}"])
            assert (record["name"], record["version"], record["subdir"]) == ("hello", "1.0", subdir)
    assert repodata_files(server, "alice", "linux-64")["hello-1.0-0.conda"]["depends"] == ["python >=3.8"]


def test_show_user_package_release_and_file(alice: AnacondaCLI, hello_files: dict[str, Path]) -> None:
    user = output(alice.run("show", "alice"))
    assert "Username: alice" in user
    assert "alice/hello" in user and "hello test package" in user

    package = output(alice.run("show", "alice/hello"))
    assert re.search(r"Name:\s+hello", package)
    assert re.search(r"Summary:\s+hello test package", package)
    assert re.search(r"Versions:\s+\+ 1\.0", package)

    release = output(alice.run("show", "alice/hello/1.0"))
    assert "version 1.0" in release
    for basename in hello_files:
        assert f"+ {basename}" in release

    basename = "linux-64/hello-1.0-0.conda"
    dist = output(alice.run("show", f"alice/hello/1.0/{basename}"))
    assert basename in dist
    assert sha256_file(hello_files[basename]) in dist
    assert "'alice/hello/1.0/linux-64/hello-1.0-0.conda'" in dist  # full_name


def test_search(alice: AnacondaCLI, hello_files: dict[str, Path]) -> None:
    for args in (("search", "hello"), ("search", "-t", "conda", "hello")):
        found = output(alice.run(*args))
        assert "alice/hello" in found
        assert "Found 1 packages" in found
    assert "Found 0 packages" in output(alice.run("search", "-t", "pypi", "hello"))


def test_download_gives_the_uploaded_bytes(alice: AnacondaCLI, hello_files: dict[str, Path]) -> None:
    # The client writes <basename> relative to its working directory (its HOME here), subdir included.
    for subdir in ("noarch", "linux-64"):
        shutil.rmtree(alice.home / subdir, ignore_errors=True)
    proc = alice.run("download", "alice/hello")
    for basename, path in hello_files.items():
        assert f"alice/hello has been downloaded as {basename}" in output(proc)
        assert (alice.home / basename).read_bytes() == path.read_bytes()


# -- existing files: conflict, --force, --skip-existing ------------------------------------------------------


def test_existing_file_conflict_force_and_skip(
    server: LiveServer, alice: AnacondaCLI, tmp_path: Path
) -> None:
    def build(tag: str) -> Path:
        return build_conda_package(
            tmp_path / tag, "dup", "1.0", subdir="linux-64", files={"share/dup/TAG": tag.encode()}
        )

    first, second, third = build("first"), build("second"), build("third")
    assert len({sha256_file(p) for p in (first, second, third)}) == 3
    basename = "linux-64/dup-1.0-0.tar.bz2"
    alice.run("upload", str(first))
    assert repodata_files(server, "alice", "linux-64")["dup-1.0-0.tar.bz2"]["sha256"] == sha256_file(first)

    conflict = alice.run("upload", str(second), check=False)
    assert conflict.returncode != 0
    assert f"file {basename} already exists for package dup version 1.0" in output(conflict)
    assert "Conflict" in output(conflict)
    assert repodata_files(server, "alice", "linux-64")["dup-1.0-0.tar.bz2"]["sha256"] == sha256_file(first)

    first_blob = {b for b in server.blob_files() if b.endswith(sha256_file(first))}
    assert first_blob
    forced = alice.run("upload", "--force", str(second))
    assert "Upload complete" in output(forced)
    assert repodata_files(server, "alice", "linux-64")["dup-1.0-0.tar.bz2"]["sha256"] == sha256_file(second)
    with http(server) as c:
        assert c.get(dist_url("alice", "dup", "1.0", basename)).json()["sha256"] == sha256_file(second)
    assert package_basenames(server, "alice", "dup") == [basename]
    assert not first_blob & server.blob_files(), "the replaced file's bytes are still stored"

    skipped = alice.run("upload", "--skip-existing", str(third))
    assert skipped.returncode == 0
    assert "Skipping" in output(skipped)
    assert repodata_files(server, "alice", "linux-64")["dup-1.0-0.tar.bz2"]["sha256"] == sha256_file(second)


# -- remove ------------------------------------------------------------------------------------------------


def test_remove_file_release_and_package(server: LiveServer, alice: AnacondaCLI, tmp_path: Path) -> None:
    blobs_before = server.blob_files()
    v1_noarch = build_conda_package(tmp_path / "a", "gone", "1.0")
    v1_linux = build_conda_package(tmp_path / "b", "gone", "1.0", subdir="linux-64", fmt="conda")
    v2_noarch = build_conda_package(tmp_path / "c", "gone", "2.0", fmt="conda")
    alice.run("upload", str(v1_noarch), str(v1_linux), str(v2_noarch))
    assert {"gone-1.0-0.tar.bz2", "gone-2.0-0.conda"} <= set(repodata_files(server, "alice", "noarch"))
    assert "gone-1.0-0.conda" in repodata_files(server, "alice", "linux-64")

    with http(server) as c:
        alice.run("remove", "-f", "alice/gone/1.0/noarch/gone-1.0-0.tar.bz2")
        assert c.get(dist_url("alice", "gone", "1.0", "noarch/gone-1.0-0.tar.bz2")).status_code == 404
        assert "gone-1.0-0.tar.bz2" not in repodata_files(server, "alice", "noarch")
        assert "gone-1.0-0.conda" in repodata_files(server, "alice", "linux-64")

        alice.run("remove", "-f", "alice/gone/1.0")
        assert_json_error(c.get("/api/release/alice/gone/1.0"), 404)
        assert c.get(dist_url("alice", "gone", "1.0", "linux-64/gone-1.0-0.conda")).status_code == 404
        assert "gone-1.0-0.conda" not in repodata_files(server, "alice", "linux-64")
        assert "gone-2.0-0.conda" in repodata_files(server, "alice", "noarch")

        alice.run("remove", "-f", "alice/gone")
        assert_json_error(c.get("/api/package/alice/gone"), 404)
        assert "gone-2.0-0.conda" not in repodata_files(server, "alice", "noarch")
    assert server.blob_files() == blobs_before, "removed files' bytes are still stored"


# -- package --create, uploads into someone else's namespace -----------------------------------------------


def test_package_create_then_conflict(server: LiveServer, alice: AnacondaCLI) -> None:
    created = alice.run("package", "--create", "alice/newpkg", "--summary", "A brand new package")
    assert "Package created!" in output(created)
    with http(server) as c:
        body = c.get("/api/package/alice/newpkg").json()
    assert (body["summary"], body["files"]) == ("A brand new package", [])

    again = alice.run("package", "--create", "alice/newpkg", "--summary", "Another summary", check=False)
    assert again.returncode != 0
    assert "Conflict: ('Package alice/newpkg already exists', 409)" in output(again)


def test_upload_into_another_users_namespace_is_refused(
    server: LiveServer, alice: AnacondaCLI, tmp_path: Path
) -> None:
    blobs_before = server.blob_files()
    pkg = build_conda_package(tmp_path, "intruder", "1.0")
    proc = alice.run("upload", "-u", "bob", str(pkg), check=False)
    assert proc.returncode != 0
    assert re.search(r"BinstarError: \(.+, 403\)", output(proc)), output(proc)
    assert package_basenames(server, "bob", "intruder") is None
    assert_nothing_stored(server, blobs_before, "bob", "intruder", "1.0", "noarch/intruder-1.0-0.tar.bz2")


# -- bad input: refused with a clear 4xx, nothing stored -------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_archive(
    server: LiveServer, alice: AnacondaCLI, api: Binstar, tmp_path: Path, fmt: PackageFormat
) -> None:
    good = build_conda_package(tmp_path / "good", "broken", "1.0", fmt=fmt)
    bad = corrupt_copy(good, tmp_path / "bad")
    basename = f"noarch/{bad.name}"
    blobs_before = server.blob_files()

    # The CLI refuses to read it, so it never reaches the server that way ...
    cli = alice.run("upload", str(bad), check=False)
    assert cli.returncode != 0
    assert_nothing_stored(server, blobs_before, "alice", "broken", "1.0", basename)

    # ... but anaconda-client's API sends it as it is: the server must refuse it at commit.
    with pytest.raises(binstar_errors.UserError) as err:
        api_upload(api, bad, "broken", "1.0", basename)
    assert err.value.args[1] == 400
    assert "corrupt or truncated" in err.value.args[0]
    assert_nothing_stored(server, blobs_before, "alice", "broken", "1.0", basename)


@pytest.mark.parametrize("fmt", FORMATS)
def test_archive_without_index_json(
    server: LiveServer, api: Binstar, tmp_path: Path, fmt: PackageFormat
) -> None:
    pkg = build_conda_package(tmp_path, "noindex", "1.0", fmt=fmt, omit_index=True)
    basename = f"noarch/{pkg.name}"
    blobs_before = server.blob_files()
    with pytest.raises(binstar_errors.UserError) as err:
        api_upload(api, pkg, "noindex", "1.0", basename)
    assert err.value.args == ("not a conda package: info/index.json is missing", 400)
    assert_nothing_stored(server, blobs_before, "alice", "noindex", "1.0", basename)


def test_archive_name_differs_from_request(server: LiveServer, api: Binstar, tmp_path: Path) -> None:
    pkg = build_conda_package(tmp_path, "realname", "1.0")
    basename = "noarch/realname-1.0-0.tar.bz2"
    blobs_before = server.blob_files()
    with pytest.raises(binstar_errors.UserError) as err:
        api_upload(api, pkg, "othername", "1.0", basename)
    assert err.value.args == ("the archive is package 'realname', not 'othername'", 400)
    assert_nothing_stored(server, blobs_before, "alice", "othername", "1.0", basename)


def test_archive_version_differs_from_request(server: LiveServer, alice: AnacondaCLI, tmp_path: Path) -> None:
    # The CLI sends this one itself: --version overrides the version (and the basename) it uploads under.
    pkg = build_conda_package(tmp_path, "verpkg", "1.0")
    blobs_before = server.blob_files()
    proc = alice.run("upload", "--version", "9.9", str(pkg), check=False)
    assert proc.returncode != 0
    assert "UserError: (\"the archive is version '1.0', not '9.9'\", 400)" in output(proc)
    assert_nothing_stored(server, blobs_before, "alice", "verpkg", "9.9", "noarch/verpkg-9.9-0.tar.bz2")
    assert_nothing_stored(server, blobs_before, "alice", "verpkg", "1.0", "noarch/verpkg-1.0-0.tar.bz2")


def test_archive_subdir_differs_from_request(server: LiveServer, api: Binstar, tmp_path: Path) -> None:
    pkg = build_conda_package(tmp_path, "subpkg", "1.0", subdir="noarch")
    basename = "linux-64/subpkg-1.0-0.tar.bz2"
    blobs_before = server.blob_files()
    with pytest.raises(binstar_errors.UserError) as err:
        api_upload(api, pkg, "subpkg", "1.0", basename)
    assert err.value.args == ("the archive is for subdir 'noarch', but was uploaded to 'linux-64'", 400)
    assert_nothing_stored(server, blobs_before, "alice", "subpkg", "1.0", basename)


@pytest.mark.parametrize(
    ("basename", "wire", "fragment"),
    [
        # requests/httpx would resolve a literal "..", so it travels percent-encoded; the server decodes it.
        ("noarch/../pathpkg-1.0-0.tar.bz2", "noarch/%2E%2E/pathpkg-1.0-0.tar.bz2", "no '..'"),
        ("../pathpkg-1.0-0.tar.bz2", "%2E%2E/pathpkg-1.0-0.tar.bz2", "no '..'"),
        ("noarch\\pathpkg-1.0-0.tar.bz2", "noarch%5Cpathpkg-1.0-0.tar.bz2", "no backslashes"),
        ("/noarch/pathpkg-1.0-0.tar.bz2", "%2Fnoarch/pathpkg-1.0-0.tar.bz2", "absolute paths"),
    ],
    ids=["dotdot", "leading-dotdot", "backslash", "absolute"],
)
def test_bad_basename_refused_at_stage(
    server: LiveServer,
    api: Binstar,
    raw: RawUploader,
    tmp_path: Path,
    basename: str,
    wire: str,
    fragment: str,
) -> None:
    pkg = build_conda_package(tmp_path, "pathpkg", "1.0")
    ensure_release(api, "pathpkg", "1.0")
    blobs_before = server.blob_files()
    message = assert_json_error(raw.stage("alice", "pathpkg", "1.0", wire, pkg.read_bytes()), 400, fragment)
    assert "invalid file name" in message and repr(basename) in message
    assert_nothing_stored(server, blobs_before, "alice", "pathpkg", "1.0", basename)
    # anaconda-client's own upload() (which quotes the basename) is refused the same way where its URL
    # keeps the name intact.
    if ".." not in basename:
        with pytest.raises(binstar_errors.UserError) as err:
            api_upload(api, pkg, "pathpkg", "1.0", basename)
        assert err.value.args[1] == 400 and fragment in err.value.args[0]
        assert_nothing_stored(server, blobs_before, "alice", "pathpkg", "1.0", basename)


def test_unknown_subdir(server: LiveServer, alice: AnacondaCLI, tmp_path: Path) -> None:
    pkg = build_conda_package(tmp_path, "oddsub", "1.0", subdir="linux-65")
    blobs_before = server.blob_files()
    proc = alice.run("upload", str(pkg), check=False)
    assert proc.returncode != 0
    assert "UserError: (\"unknown subdir 'linux-65'" in output(proc)
    assert_nothing_stored(server, blobs_before, "alice", "oddsub", "1.0", "linux-65/oddsub-1.0-0.tar.bz2")
    with http(server) as c:
        assert c.get("/conda/alice/linux-65/repodata.json").status_code == 404


BIG = 70 * 1024  # over the 64 KiB metadata field limit


def test_oversized_string_in_stage_attrs(
    server: LiveServer, alice: AnacondaCLI, api: Binstar, tmp_path: Path
) -> None:
    # Through the CLI: index.json keys go into the stage attrs.
    pkg = build_conda_package(tmp_path, "bigattr", "1.0", extra_index={"notes": "n" * BIG})
    basename = "noarch/bigattr-1.0-0.tar.bz2"
    blobs_before = server.blob_files()
    proc = alice.run("upload", str(pkg), check=False)
    assert proc.returncode != 0
    assert "UserError: ('attrs holds a value longer than 65536 characters', 400)" in output(proc)
    assert_nothing_stored(server, blobs_before, "alice", "bigattr", "1.0", basename)

    # Through the API, with a normal archive and one huge attribute.
    small = build_conda_package(tmp_path / "small", "bigattr", "1.0")
    with pytest.raises(binstar_errors.UserError) as err:
        api_upload(api, small, "bigattr", "1.0", basename, attrs={"x": "y" * BIG})
    assert err.value.args == ("attrs holds a value longer than 65536 characters", 400)
    assert_nothing_stored(server, blobs_before, "alice", "bigattr", "1.0", basename)


def test_oversized_summary_in_about_json(
    server: LiveServer, alice: AnacondaCLI, api: Binstar, tmp_path: Path
) -> None:
    pkg = build_conda_package(tmp_path, "bigabout", "1.0", summary="s" * BIG)
    basename = "noarch/bigabout-1.0-0.tar.bz2"
    blobs_before = server.blob_files()
    # The CLI sends the summary with the package: refused there, before any bytes are sent.
    proc = alice.run("upload", str(pkg), check=False)
    assert proc.returncode != 0
    assert "UserError: ('summary is longer than 65536 characters', 400)" in output(proc)
    assert_nothing_stored(server, blobs_before, "alice", "bigabout", "1.0", basename)

    # The API sends only the archive (small stage attrs): the server finds the summary inside it.
    with pytest.raises(binstar_errors.UserError) as err:
        api_upload(api, pkg, "bigabout", "1.0", basename)
    assert err.value.args[1] == 400
    assert "longer than 65536" in err.value.args[0] and "about.json" in err.value.args[0]
    assert_nothing_stored(server, blobs_before, "alice", "bigabout", "1.0", basename)


def test_oversized_field_in_index_json(server: LiveServer, api: Binstar, tmp_path: Path) -> None:
    pkg = build_conda_package(tmp_path, "bigindex", "1.0", extra_index={"summary": "s" * BIG})
    basename = "noarch/bigindex-1.0-0.tar.bz2"
    blobs_before = server.blob_files()
    with pytest.raises(binstar_errors.UserError) as err:
        api_upload(
            api, pkg, "bigindex", "1.0", basename
        )  # stage attrs stay small: the archive is the problem
    assert err.value.args[1] == 400
    assert "longer than 65536" in err.value.args[0] and "index.json" in err.value.args[0]
    assert_nothing_stored(server, blobs_before, "alice", "bigindex", "1.0", basename)


@pytest.mark.parametrize("wrong", ["Content-MD5", "Content-Length"])
def test_storage_post_with_wrong_digest_or_length(
    server: LiveServer, api: Binstar, raw: RawUploader, tmp_path: Path, wrong: str
) -> None:
    pkg = build_conda_package(tmp_path, "digest", "1.0")
    data = pkg.read_bytes()
    basename = "noarch/digest-1.0-0.tar.bz2"
    ensure_release(api, "digest", "1.0")
    blobs_before = server.blob_files()
    staged = raw.stage("alice", "digest", "1.0", basename, data)
    assert staged.status_code == 200, staged.text
    if wrong == "Content-MD5":
        posted = raw.storage_post(staged.json(), data, content_md5=md5_b64(data + b"x"))
    else:
        posted = raw.storage_post(staged.json(), data, content_length=str(len(data) + 1))
    assert 400 <= posted.status_code < 500, (posted.status_code, posted.text)
    assert "xml" in posted.headers["content-type"]
    assert s3_code(posted) == "InvalidDigest"
    assert_nothing_stored(server, blobs_before, "alice", "digest", "1.0", basename)
    # The refused bytes cannot be committed either.
    assert_json_error(raw.commit("alice", "digest", "1.0", basename, staged.json()["dist_id"]), 400)
    assert_nothing_stored(server, blobs_before, "alice", "digest", "1.0", basename)


def test_commit_with_unknown_dist_id(server: LiveServer, api: Binstar, raw: RawUploader) -> None:
    ensure_release(api, "ghost", "1.0")
    blobs_before = server.blob_files()
    basename = "noarch/ghost-1.0-0.tar.bz2"
    assert_json_error(raw.commit("alice", "ghost", "1.0", basename, uuid.uuid4().hex), 400, "dist_id")
    assert_json_error(raw.commit("alice", "ghost", "1.0", basename, None), 400)
    assert_nothing_stored(server, blobs_before, "alice", "ghost", "1.0", basename)


def test_commit_with_used_dist_id(server: LiveServer, api: Binstar, raw: RawUploader, tmp_path: Path) -> None:
    first = build_conda_package(tmp_path / "a", "reuse", "1.0")
    other = build_conda_package(tmp_path / "b", "reuse", "1.0", subdir="linux-64")
    data = first.read_bytes()
    basename = "noarch/reuse-1.0-0.tar.bz2"
    ensure_release(api, "reuse", "1.0")
    staged = raw.stage("alice", "reuse", "1.0", basename, data)
    assert raw.storage_post(staged.json(), data).status_code == 201
    dist_id = staged.json()["dist_id"]
    assert raw.commit("alice", "reuse", "1.0", basename, dist_id).status_code == 200
    blobs_after_first = server.blob_files()
    listed = repodata_files(server, "alice", "noarch")["reuse-1.0-0.tar.bz2"]

    # The same commit again is refused, and does not duplicate or change the file.
    assert_json_error(raw.commit("alice", "reuse", "1.0", basename, dist_id), 400, "already committed")
    assert package_basenames(server, "alice", "reuse") == [basename]
    assert repodata_files(server, "alice", "noarch")["reuse-1.0-0.tar.bz2"] == listed

    # A used dist_id cannot smuggle in another file.
    other_basename = "linux-64/reuse-1.0-0.tar.bz2"
    assert_json_error(raw.commit("alice", "reuse", "1.0", other_basename, dist_id), 400)
    assert_nothing_stored(server, blobs_after_first, "alice", "reuse", "1.0", other_basename)
    assert sha256_file(other) not in {b.rsplit("/", 1)[-1] for b in server.blob_files()}


def test_upload_without_token_is_401(server: LiveServer, anonymous: AnacondaCLI, tmp_path: Path) -> None:
    pkg = build_conda_package(tmp_path, "anonpkg", "1.0")
    basename = "noarch/anonpkg-1.0-0.tar.bz2"
    blobs_before = server.blob_files()
    proc = anonymous.run("upload", "-u", "alice", str(pkg), check=False)
    assert proc.returncode != 0
    assert re.search(r"Unauthorized: \('.*authentication required.*', 401\)", output(proc)), output(proc)
    assert package_basenames(server, "alice", "anonpkg") is None
    assert_nothing_stored(server, blobs_before, "alice", "anonpkg", "1.0", basename)

    with RawUploader(server, None) as nobody:
        assert_json_error(nobody.stage("alice", "hello", "1.0", "noarch/hello-2.0-0.tar.bz2", b"x"), 401)
        assert_json_error(nobody.commit("alice", "hello", "1.0", "noarch/hello-2.0-0.tar.bz2", "0" * 32), 401)
    assert server.blob_files() == blobs_before


def test_upload_with_invalid_token_is_401(server: LiveServer, anonymous: AnacondaCLI, tmp_path: Path) -> None:
    pkg = build_conda_package(tmp_path, "badtokpkg", "1.0")
    basename = "noarch/badtokpkg-1.0-0.tar.bz2"
    blobs_before = server.blob_files()
    proc = anonymous.run("-t", "not-a-real-token", "upload", str(pkg), check=False)
    assert proc.returncode != 0
    assert re.search(r"Unauthorized: \('.*invalid token.*', 401\)", output(proc)), output(proc)
    assert_nothing_stored(server, blobs_before, "alice", "badtokpkg", "1.0", basename)

    with RawUploader(server, "not-a-real-token") as forged:
        assert_json_error(
            forged.stage("alice", "hello", "1.0", "noarch/hello-2.0-0.tar.bz2", b"x"), 401, "invalid token"
        )
    assert server.blob_files() == blobs_before


# -- crash safety ------------------------------------------------------------------------------------------


def test_uncommitted_upload_is_invisible_after_sigkill(
    server: LiveServer, api: Binstar, raw: RawUploader, tmp_path: Path
) -> None:
    pkg = build_conda_package(tmp_path, "crashpkg", "1.0")
    data = pkg.read_bytes()
    basename = "noarch/crashpkg-1.0-0.tar.bz2"
    ensure_release(api, "crashpkg", "1.0")
    staged = raw.stage("alice", "crashpkg", "1.0", basename, data)
    assert raw.storage_post(staged.json(), data).status_code == 201  # stored, never committed
    raw.close()

    server.kill()
    server.restart()

    with http(server) as c:
        assert c.get(dist_url("alice", "crashpkg", "1.0", basename)).status_code == 404
    assert package_basenames(server, "alice", "crashpkg") == []
    assert "crashpkg-1.0-0.tar.bz2" not in repodata_files(server, "alice", "noarch")
    assert server.tmp_files() == []


def _multipart(fields: dict[str, str], filename: str) -> tuple[str, bytes, bytes]:
    """(content type, everything before the file's bytes, everything after them)."""
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n'.encode()
    )
    return f"multipart/form-data; boundary={boundary}", head, f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("when", ["receiving-body", "writing-blob"])
def test_sigkill_during_large_storage_post(
    server: LiveServer, api: Binstar, alice_token: str, when: str
) -> None:
    """Kill the server while a 50 MB storage POST is in flight: while the body is still arriving, or while
    the server writes the received bytes into the blob store. After a restart nothing of it exists."""
    size = 50 * 1024 * 1024
    data = os.urandom(size)
    basename = f"big-{when}.bin"
    ensure_release(api, "bigfile", "1.0")
    blobs_before = server.blob_files()
    with RawUploader(server, alice_token) as uploader:
        staged = uploader.stage("alice", "bigfile", "1.0", basename, data, dist_type="file")
    assert staged.status_code == 200, staged.text
    ticket = staged.json()
    fields = {**ticket["form_data"], "Content-Length": str(size), "Content-MD5": md5_b64(data)}
    content_type, head, tail = _multipart(fields, basename)
    throttle = 0.02 if when == "receiving-body" else 0.0  # ~1 s for the body when throttled

    def body() -> Iterator[bytes]:
        yield head
        for start in range(0, size, 1024 * 1024):
            yield data[start : start + 1024 * 1024]
            time.sleep(throttle)
        yield tail

    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            with httpx.Client(trust_env=False, timeout=60) as bare:
                outcome["response"] = bare.post(
                    ticket["post_url"], content=body(),
                    headers={"Content-Type": content_type, "Content-Length": str(len(head) + size + len(tail))},
                )  # fmt: skip
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    if when == "receiving-body":
        time.sleep(0.3)
    else:
        deadline = time.monotonic() + 30
        while not server.tmp_files() and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.002)
        assert server.tmp_files(), f"never saw the blob being written ({outcome})"
    assert thread.is_alive(), f"the upload finished before the kill ({outcome})"
    server.kill()
    thread.join(30)
    assert "error" in outcome, outcome  # the client saw the connection die, not a 201

    server.restart()
    with http(server) as c:
        assert c.get(dist_url("alice", "bigfile", "1.0", basename)).status_code == 404
    assert package_basenames(server, "alice", "bigfile") == []
    assert server.blob_files() == blobs_before, "a partial or orphaned blob was left"
    assert server.tmp_files() == [], "a partial blob was left in blobs/tmp"
    # The upload never completed: its dist_id cannot be committed.
    with RawUploader(server, alice_token) as again:
        assert_json_error(
            again.commit("alice", "bigfile", "1.0", basename, ticket["dist_id"]), 400, "never received"
        )
