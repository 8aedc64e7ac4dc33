"""Conda channels end to end: files uploaded with the real ``anaconda`` CLI, read back by py-rattler (solve,
install, repodata revalidation) and by httpx (the HTTP contract: caching headers, 304, zstd, 404s, tokens).

One live server per module (``server``) plus a second server process over the same database and blobs
(``worker2``, like a second worker) with ``index_max_age=0``, so a client revalidates at once instead of
trusting its cache for 30 s.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
import zstandard

from support.clients import (
    AnacondaCLI,
    rattler_error,
    rattler_fetch_repodata,
    rattler_install,
    rattler_installed,
    rattler_names,
    rattler_records,
)
from support.condapkg import build_conda_package
from support.server import LiveServer

pytestmark = pytest.mark.client

# What the `channel` fixture uploads (file names are <name>-<version>-<build>.<ext>).
LIB = "hello-lib-1.0-0.conda"  # noarch
APP = "hello-app-0.1-0.tar.bz2"  # noarch, depends on hello-lib >=1.0
NATIVE = "hello-native-2.0-h1a2b3c_0.tar.bz2"  # linux-64
MULTI_OLD = "multi-1.9-0.tar.bz2"  # noarch
MULTI_NEW = "multi-1.10-0.conda"  # linux-64: newest version (1.10 > 1.9)
SECRET = "secret-pkg-1.0-0.tar.bz2"  # noarch, made private after upload
DEV = "devtool-3.0-0.conda"  # noarch, uploaded with --label dev only

REPODATA_PATH = re.compile(
    r'"(GET|HEAD) /conda/alice/noarch/(repodata\.json(?:\.zst|\.bz2)?) HTTP/1\.1" (\d{3})'
)


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, trust_env=False, timeout=30, **kwargs)  # type: ignore[arg-type]


def repodata(base: str, subdir: str = "noarch", **kwargs: object) -> dict:  # type: ignore[type-arg]
    r = get(f"{base}/{subdir}/repodata.json", **kwargs)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def all_files(doc: dict) -> set[str]:  # type: ignore[type-arg]
    return set(doc["packages"]) | set(doc["packages.conda"])


def repodata_requests(log: str) -> list[tuple[str, str, int]]:
    """(method, file, status) for each noarch repodata request in a server log excerpt."""
    return [(m[1], m[2], int(m[3])) for m in REPODATA_PATH.finditer(log)]


# -- fixtures


@pytest.fixture(scope="module")
def alice(server: LiveServer, workdir: Path) -> AnacondaCLI:
    cli = AnacondaCLI(workdir / "alice-home")
    cli.configure(server.api_url)
    cli.login("alice", "alice-password")
    assert cli.token(), "login stored no token"
    return cli


@pytest.fixture(scope="module")
def channel(server: LiveServer, alice: AnacondaCLI, workdir: Path) -> dict[str, Path]:
    """alice's channel: a noarch app with a dependency, a linux-64 package, two versions of one name in two
    subdirs, a private package, and a file only in label dev. Returns file name → local file."""
    d = workdir / "pkgs"
    main = [
        build_conda_package(d, "hello-lib", "1.0", fmt="conda"),
        build_conda_package(d, "hello-app", "0.1", depends=["hello-lib >=1.0"]),
        build_conda_package(
            d,
            "hello-native",
            "2.0",
            build="h1a2b3c_0",
            subdir="linux-64",
            files={"bin/hello-native": b"#!/bin/sh\necho native\n"},
        ),
        build_conda_package(d, "multi", "1.9"),
        build_conda_package(d, "multi", "1.10", subdir="linux-64", fmt="conda"),
        build_conda_package(d, "secret-pkg", "1.0"),
    ]
    alice.run("upload", *map(str, main))
    dev = build_conda_package(d / "dev", "devtool", "3.0", fmt="conda")
    alice.run("upload", "--label", "dev", str(dev))
    r = httpx.patch(
        f"{server.api_url}/package/alice/secret-pkg",
        json={"public": False},
        headers={"Authorization": f"token {alice.token()}"},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    files = {p.name: p for p in [*main, dev]}
    assert set(files) == {LIB, APP, NATIVE, MULTI_OLD, MULTI_NEW, SECRET, DEV}
    return files


@pytest.fixture(scope="module")
def worker2(
    server: LiveServer, database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A second server process on the same database and blob store, with ``index_max_age=0``."""
    db_url = database_url or f"sqlite:///{(server.data_dir / 'packyard.db').resolve()}"
    env = {
        "PACKYARD_STORAGE_URL": (server.data_dir / "blobs").resolve().as_uri(),
        "PACKYARD_SECRET_KEY": (server.data_dir / "secret_key").read_text().strip(),
        "PACKYARD_INDEX_MAX_AGE": "0",
    }
    with LiveServer(tmp_path_factory.mktemp("worker2"), database_url=db_url, extra_env=env) as srv:
        yield srv


# -- py-rattler: solve and install


def test_rattler_installs_app_with_dependency_and_linux64_package(
    server: LiveServer, channel: dict[str, Path], workdir: Path
) -> None:
    base = f"{server.url}/conda/alice"
    prefix = workdir / "env-main"
    proc = rattler_install([base], ["hello-app", "hello-native"], prefix, cache_dir=workdir / "cache-main")
    assert rattler_installed(proc), proc.stdout + proc.stderr

    records = {r.name: r for r in rattler_records(proc)}
    assert set(records) == {"hello-app", "hello-lib", "hello-native"}
    assert (records["hello-lib"].version, records["hello-native"].build) == ("1.0", "h1a2b3c_0")
    assert records["hello-app"].url == f"{base}/noarch/{APP}"
    assert records["hello-lib"].url == f"{base}/noarch/{LIB}"
    assert records["hello-native"].url == f"{base}/linux-64/{NATIVE}"

    assert (prefix / "share/hello-app/VERSION").read_text() == "0.1\n"
    assert (prefix / "share/hello-lib/VERSION").read_text() == "1.0\n"
    assert (prefix / "bin/hello-native").read_text() == "#!/bin/sh\necho native\n"
    for stem in ("hello-app-0.1-0", "hello-lib-1.0-0", "hello-native-2.0-h1a2b3c_0"):
        meta = json.loads((prefix / "conda-meta" / f"{stem}.json").read_text())
        assert meta["name"] == stem.rsplit("-", 2)[0]


def test_rattler_installs_from_label_dev_and_dev_file_is_not_in_main(
    server: LiveServer, channel: dict[str, Path], workdir: Path
) -> None:
    dev_base = f"{server.url}/conda/alice/label/dev"
    prefix = workdir / "env-dev"
    proc = rattler_install([dev_base], ["devtool"], prefix, cache_dir=workdir / "cache-dev")
    assert rattler_installed(proc), proc.stdout + proc.stderr
    assert [(r.name, r.version, r.url) for r in rattler_records(proc)] == [
        ("devtool", "3.0", f"{dev_base}/noarch/{DEV}")
    ]
    assert (prefix / "share/devtool/VERSION").read_text() == "3.0\n"

    # The dev label holds only the dev file; main does not list it or serve it.
    assert all_files(repodata(dev_base)) == {DEV}
    assert DEV not in all_files(repodata(f"{server.url}/conda/alice"))
    assert get(f"{server.url}/conda/alice/noarch/{DEV}").status_code == 404
    proc = rattler_install(
        [f"{server.url}/conda/alice"],
        ["devtool"],
        workdir / "env-nodev",
        cache_dir=workdir / "cache-nodev",
        solve_only=True,
    )
    assert rattler_error(proc) is not None and "devtool" in rattler_error(proc)  # type: ignore[operator]


# -- py-rattler: repodata caching


def test_rattler_honours_max_age_then_revalidates_with_304(
    server: LiveServer, worker2: LiveServer, channel: dict[str, Path], workdir: Path
) -> None:
    def check_names(proc: subprocess.CompletedProcess[str]) -> None:
        names = rattler_names(proc)
        assert sorted(names) == [1, 2] and names[1] == names[2], proc.stdout + proc.stderr
        assert {"hello-app", "hello-lib", "multi"} <= set(names[1])
        assert not {"secret-pkg", "devtool"} & set(names[1])  # private; label dev only

    # server: max-age=30, so the second pass answers from the cache without asking.
    start = len(server.log_text())
    proc = rattler_fetch_repodata(
        f"{server.url}/conda/alice", "noarch", workdir / "rd-fresh", "cache-or-fetch"
    )
    check_names(proc)
    gets = [r for r in repodata_requests(server.log_text()[start:]) if r[0] == "GET"]
    assert gets == [("GET", "repodata.json.zst", 200)]

    # worker2: max-age=0, so the second pass revalidates (If-None-Match) and gets a 304.
    start = len(worker2.log_text())
    proc = rattler_fetch_repodata(
        f"{worker2.url}/conda/alice", "noarch", workdir / "rd-stale", "cache-or-fetch"
    )
    check_names(proc)
    gets = [r for r in repodata_requests(worker2.log_text()[start:]) if r[0] == "GET"]
    assert gets == [("GET", "repodata.json.zst", 200), ("GET", "repodata.json.zst", 304)]


def test_package_is_installable_the_moment_its_upload_returns(
    server: LiveServer, worker2: LiveServer, alice: AnacondaCLI, channel: dict[str, Path], workdir: Path
) -> None:
    pkg = build_conda_package(workdir / "fresh", "fresh-pkg", "1.0", depends=["hello-lib"])
    # Both workers have this index cached before the upload: what is tested is that they notice the change.
    for srv in (server, worker2):
        assert pkg.name not in all_files(repodata(f"{srv.url}/conda/alice"))

    alice.run("upload", str(pkg))  # no sleep after this

    for srv in (server, worker2):
        doc = repodata(f"{srv.url}/conda/alice")
        assert doc["packages"][pkg.name]["sha256"] == _sha256(pkg)
        zst = get(f"{srv.url}/conda/alice/noarch/repodata.json.zst")
        assert pkg.name in json.loads(zstandard.ZstdDecompressor().decompress(zst.content))["packages"]
    base = f"{worker2.url}/conda/alice"
    proc = rattler_install([base], ["fresh-pkg"], workdir / "env-fresh", cache_dir=workdir / "cache-fresh")
    assert rattler_installed(proc), proc.stdout + proc.stderr
    assert {r.name: r.url for r in rattler_records(proc)} == {
        "fresh-pkg": f"{base}/noarch/{pkg.name}",
        "hello-lib": f"{base}/noarch/{LIB}",
    }


# -- tokens in URLs


def test_token_in_url_forms_install_a_private_package_and_never_reach_the_log(
    server: LiveServer, alice: AnacondaCLI, channel: dict[str, Path], workdir: Path
) -> None:
    login_token = alice.token()
    assert login_token
    r = httpx.post(
        f"{server.api_url}/authentications",
        auth=("alice", "alice-password"),
        json={"scopes": ["conda:download"], "note": "e2e-download"},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    created = r.json()["token"]
    assert re.fullmatch(r"[A-Za-z0-9-]+", created), "conda only recognises /t/<[A-Za-z0-9-]*>/"

    # Anonymous: the private package is not there.
    anon = rattler_install(
        [f"{server.url}/conda/alice"],
        ["secret-pkg"],
        workdir / "env-anon",
        cache_dir=workdir / "cache-anon",
        solve_only=True,
    )
    assert rattler_error(anon) is not None
    assert SECRET not in all_files(repodata(f"{server.url}/conda/alice"))
    assert get(f"{server.url}/conda/alice/noarch/{SECRET}").status_code == 404

    forms = {
        "conda-t": (login_token, f"{server.url}/conda/t/{login_token}/alice"),
        "root-t": (created, f"{server.url}/t/{created}/conda/alice"),
    }
    for form, (token, base) in forms.items():
        prefix = workdir / f"env-token-{form}"
        proc = rattler_install(
            [base], ["secret-pkg", "hello-app"], prefix, cache_dir=workdir / f"cache-{form}"
        )
        assert rattler_installed(proc), f"{form}: {proc.stdout}{proc.stderr}"
        urls = {r.name: r.url for r in rattler_records(proc)}
        assert urls == {
            "secret-pkg": f"{base}/noarch/{SECRET}",
            "hello-app": f"{base}/noarch/{APP}",
            "hello-lib": f"{base}/noarch/{LIB}",
        }, form
        assert (prefix / "share/secret-pkg/VERSION").read_text() == "1.0\n"

        # The same URL over plain HTTP: private record listed, and the response is not for shared caches.
        resp = get(f"{base}/noarch/repodata.json")
        assert resp.status_code == 200 and SECRET in resp.json()["packages"]
        assert "private" in resp.headers["cache-control"] and "public" not in resp.headers["cache-control"]

    log = server.log_text()
    assert "/conda/alice/noarch/secret-pkg-1.0-0.tar.bz2" in log  # the downloads were logged ...
    for token, _ in forms.values():
        assert token not in log  # ... without the token


def test_invalid_or_revoked_token_gets_401_json_naming_the_problem(
    server: LiveServer, alice: AnacondaCLI, channel: dict[str, Path], workdir: Path
) -> None:
    bad = "py-0000000000000000not-a-real-token"
    urls = [
        f"{server.url}/conda/t/{bad}/alice/noarch/repodata.json",
        f"{server.url}/t/{bad}/conda/alice/noarch/repodata.json",
        f"{server.url}/conda/t/{bad}/alice/noarch/repodata.json.zst",
        f"{server.url}/conda/t/{bad}/alice/noarch/{APP}",
        f"{server.url}/conda/t/{bad}/alice/channeldata.json",
    ]
    for url in urls:
        r = get(url)
        assert r.status_code == 401, url
        assert r.headers["content-type"].startswith("application/json"), url
        assert "invalid token" in r.json()["error"], (url, r.text)

    # A real client stops with the 401 instead of treating the channel as empty.
    proc = rattler_install(
        [f"{server.url}/conda/t/{bad}/alice"],
        ["hello-app"],
        workdir / "env-bad",
        cache_dir=workdir / "cache-bad",
        solve_only=True,
    )
    assert "401" in (rattler_error(proc) or ""), proc.stdout + proc.stderr

    # A revoked token: the message says so.
    r = httpx.post(
        f"{server.api_url}/authentications",
        auth=("alice", "alice-password"),
        json={"scopes": ["conda"], "note": "e2e-revoke-me"},
        trust_env=False,
    )
    revoked = r.json()["token"]
    assert get(f"{server.url}/t/{revoked}/conda/alice/noarch/repodata.json").status_code == 200
    r = httpx.delete(
        f"{server.api_url}/authentications/name/e2e-revoke-me",
        headers={"Authorization": f"token {alice.token()}"},
        trust_env=False,
    )
    assert r.status_code == 201, r.text
    r = get(f"{server.url}/t/{revoked}/conda/alice/noarch/repodata.json")
    assert r.status_code == 401 and "revoked" in r.json()["error"], r.text

    log = server.log_text()
    assert bad not in log and revoked not in log


# -- the HTTP contract

INDEX_PATHS = [
    "noarch/repodata.json",
    "noarch/repodata.json.zst",
    "linux-64/repodata.json",
    "channeldata.json",
    "label/dev/noarch/repodata.json",
    "label/dev/channeldata.json",
]


@pytest.mark.parametrize("path", INDEX_PATHS)
def test_index_caching_headers_and_conditional_get(
    server: LiveServer, channel: dict[str, Path], path: str
) -> None:
    url = f"{server.url}/conda/alice/{path}"
    r = get(url)
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag), etag
    parsedate_to_datetime(r.headers["last-modified"])  # a valid HTTP date
    cache_control = r.headers["cache-control"]
    assert re.search(r"\bmax-age=\d+\b", cache_control) and "public" in cache_control, cache_control
    if path.endswith(".zst"):
        assert r.headers["content-type"] == "application/zstd"
    else:
        assert r.headers["content-type"].startswith("application/json")
        r.json()

    again = get(url)
    assert (again.headers["etag"], again.content) == (etag, r.content), "unchanged index, same ETag and bytes"

    for inm in (etag, f'"other", {etag}'):
        nm = get(url, headers={"If-None-Match": inm})
        assert nm.status_code == 304, inm
        assert nm.headers["etag"] == etag
        assert nm.content == b""
        assert "max-age=" in nm.headers["cache-control"]
    assert get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200

    head = httpx.head(url, trust_env=False)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag
    assert int(head.headers["content-length"]) == len(r.content)


def test_json_and_zst_have_different_etags(server: LiveServer, channel: dict[str, Path]) -> None:
    base = f"{server.url}/conda/alice/noarch"
    plain, zst = get(f"{base}/repodata.json"), get(f"{base}/repodata.json.zst")
    assert plain.headers["etag"] != zst.headers["etag"]
    # One representation's ETag must not validate the other.
    assert (
        get(f"{base}/repodata.json.zst", headers={"If-None-Match": plain.headers["etag"]}).status_code == 200
    )
    assert get(f"{base}/repodata.json", headers={"If-None-Match": zst.headers["etag"]}).status_code == 200


@pytest.mark.parametrize("subdir", ["noarch", "linux-64"])
def test_zst_is_one_frame_with_the_same_json(
    server: LiveServer, channel: dict[str, Path], subdir: str
) -> None:
    base = f"{server.url}/conda/alice/{subdir}"
    plain = get(f"{base}/repodata.json")
    data = get(f"{base}/repodata.json.zst").content
    assert data[:4] == b"\x28\xb5\x2f\xfd", "zstd magic number"
    dobj = zstandard.ZstdDecompressor().decompressobj()
    first_frame = dobj.decompress(data)
    assert dobj.eof and dobj.unused_data == b"", "exactly one zstd frame, nothing after it"
    assert json.loads(first_frame) == plain.json()
    assert first_frame == plain.content


def test_repodata_records(server: LiveServer, channel: dict[str, Path]) -> None:
    noarch = repodata(f"{server.url}/conda/alice")
    assert noarch["info"]["subdir"] == "noarch"
    assert noarch["repodata_version"] == 1
    # Other tests add files of their own; the fixture's files are split by format, the rest are absent.
    assert {APP, MULTI_OLD} <= set(noarch["packages"]) and LIB not in noarch["packages"]
    assert LIB in noarch["packages.conda"] and not {APP, MULTI_OLD} & set(noarch["packages.conda"])
    assert not {SECRET, DEV, NATIVE, MULTI_NEW} & all_files(noarch)
    app = noarch["packages"][APP]
    path = channel[APP]
    assert app["depends"] == ["hello-lib >=1.0"]
    assert (app["md5"], app["sha256"], app["size"]) == (_md5(path), _sha256(path), path.stat().st_size)
    assert "arch" not in app and "platform" not in app

    # A URL without a label is label main.
    assert (
        get(f"{server.url}/conda/alice/label/main/noarch/repodata.json").content
        == get(f"{server.url}/conda/alice/noarch/repodata.json").content
    )

    linux = repodata(f"{server.url}/conda/alice", "linux-64")
    assert linux["info"]["subdir"] == "linux-64"
    assert set(linux["packages"]) == {NATIVE} and set(linux["packages.conda"]) == {MULTI_NEW}
    assert linux["packages"][NATIVE]["build"] == "h1a2b3c_0"


@pytest.mark.parametrize("filename", [LIB, APP, NATIVE])
def test_package_files_are_immutable_and_byte_exact(
    server: LiveServer, channel: dict[str, Path], filename: str
) -> None:
    subdir = "linux-64" if filename == NATIVE else "noarch"
    url = f"{server.url}/conda/alice/{subdir}/{filename}"
    r = get(url)
    assert r.status_code == 200
    assert r.content == channel[filename].read_bytes()
    cache_control = r.headers["cache-control"]
    assert "immutable" in cache_control and "max-age=31536000" in cache_control, cache_control
    head = httpx.head(url, trust_env=False)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == channel[filename].stat().st_size
    # The file is served only under its own subdir and label.
    other = "noarch" if subdir == "linux-64" else "linux-64"
    assert get(f"{server.url}/conda/alice/{other}/{filename}").status_code == 404
    assert get(f"{server.url}/conda/alice/label/dev/{subdir}/{filename}").status_code == 404


def test_fresh_user_without_uploads_has_an_empty_channel(server: LiveServer) -> None:
    # bob exists but has uploaded nothing (no test in this module uploads as bob).
    for subdir in ("noarch", "linux-64"):
        r = get(f"{server.url}/conda/bob/{subdir}/repodata.json")
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["packages"] == {} and doc["packages.conda"] == {}
        assert doc["info"]["subdir"] == subdir
        zst = get(f"{server.url}/conda/bob/{subdir}/repodata.json.zst")
        assert zst.status_code == 200
        assert json.loads(zstandard.ZstdDecompressor().decompress(zst.content)) == doc
        assert "etag" in r.headers and "max-age=" in r.headers["cache-control"]
    r = get(f"{server.url}/conda/bob/channeldata.json")
    assert r.status_code == 200 and r.json()["packages"] == {}


@pytest.mark.parametrize(
    "path",
    [
        "/conda/nobody/noarch/repodata.json",
        "/conda/nobody/noarch/repodata.json.zst",
        "/conda/nobody/channeldata.json",
        "/conda/nobody/noarch/" + APP,
        "/conda/nobody/label/dev/noarch/repodata.json",
        "/conda/alice/linux-65/repodata.json",
        "/conda/alice/notasubdir/repodata.json.zst",
        "/conda/alice/NOARCH/repodata.json",
        "/conda/alice/linux-65/" + APP,
        "/conda/alice/notices.json",
        "/conda/alice/noarch/current_repodata.json",
        "/conda/alice/noarch/current_repodata.json.zst",
        "/conda/alice/noarch/repodata_shards.msgpack.zst",
        "/conda/alice/noarch/repodata.json.bz2",
        "/conda/alice/noarch/" + "ab" * 32 + ".msgpack.zst",
        "/conda/alice/noarch/missing-1.0-0.tar.bz2",
        "/conda/alice/noarch/%2e%2e%2f%2e%2e%2fpackyard.db",
        "/conda/alice/noarch/..%2F..%2Fsecret_key.tar.bz2",
    ],
)
def test_absent_things_are_404(server: LiveServer, channel: dict[str, Path], path: str) -> None:
    for method in ("GET", "HEAD"):
        r = httpx.request(method, server.url + path, trust_env=False)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    assert "error" in get(server.url + path).json()


def test_removal_disappears_at_once_and_changes_the_etag(
    server: LiveServer, alice: AnacondaCLI, channel: dict[str, Path], workdir: Path
) -> None:
    old = build_conda_package(workdir / "gone", "gone-pkg", "1.0")
    new = build_conda_package(workdir / "gone", "gone-pkg", "1.1", fmt="conda")
    alice.run("upload", str(old), str(new))
    url = f"{server.url}/conda/alice/noarch/repodata.json"
    before = get(url)
    assert old.name in before.json()["packages"] and new.name in before.json()["packages.conda"]
    before_zst = get(url + ".zst").headers["etag"]

    alice.run("remove", "-f", f"alice/gone-pkg/1.0/noarch/{old.name}")
    after = get(url)
    assert old.name not in all_files(after.json()) and new.name in after.json()["packages.conda"]
    assert after.headers["etag"] != before.headers["etag"]
    assert get(url + ".zst").headers["etag"] != before_zst
    assert get(url, headers={"If-None-Match": before.headers["etag"]}).status_code == 200
    assert get(f"{server.url}/conda/alice/noarch/{old.name}").status_code == 404
    assert get(f"{server.url}/conda/alice/noarch/{new.name}").status_code == 200

    alice.run("remove", "-f", "alice/gone-pkg")  # the whole package
    final = get(url)
    assert not any(fn.startswith("gone-pkg-") for fn in all_files(final.json()))
    assert final.headers["etag"] not in (before.headers["etag"], after.headers["etag"])
    assert get(f"{server.url}/conda/alice/noarch/{new.name}").status_code == 404
    assert "gone-pkg" not in get(f"{server.url}/conda/alice/channeldata.json").json()["packages"]


def test_channeldata_lists_packages_with_subdirs_and_newest_version(
    server: LiveServer, channel: dict[str, Path]
) -> None:
    doc = get(f"{server.url}/conda/alice/channeldata.json").json()
    assert doc["channeldata_version"] == 1
    assert {"noarch", "linux-64"} <= set(doc["subdirs"])
    pkgs = doc["packages"]
    assert {"hello-lib", "hello-app", "hello-native", "multi"} <= set(pkgs)
    assert "secret-pkg" not in pkgs and "devtool" not in pkgs  # private; label dev only
    assert (pkgs["hello-app"]["subdirs"], pkgs["hello-app"]["version"]) == (["noarch"], "0.1")
    assert (pkgs["hello-native"]["subdirs"], pkgs["hello-native"]["version"]) == (["linux-64"], "2.0")
    assert (pkgs["multi"]["subdirs"], pkgs["multi"]["version"]) == (["linux-64", "noarch"], "1.10")
    assert pkgs["hello-lib"]["summary"] == "hello-lib test package"
    assert isinstance(pkgs["hello-lib"]["timestamp"], int)

    dev = get(f"{server.url}/conda/alice/label/dev/channeldata.json").json()
    assert set(dev["packages"]) == {"devtool"}
    assert dev["packages"]["devtool"]["subdirs"] == ["noarch"]

    token = httpx.post(
        f"{server.api_url}/authentications",
        auth=("alice", "alice-password"),
        json={"scopes": ["conda"], "note": "e2e-channeldata"},
        trust_env=False,
    ).json()["token"]
    assert "secret-pkg" in get(f"{server.url}/conda/t/{token}/alice/channeldata.json").json()["packages"]


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _md5(path: Path) -> str:
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()
