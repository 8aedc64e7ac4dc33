"""Labels, copies and the files people read rather than install, end to end with real clients.

- the unmodified ``anaconda`` CLI (anaconda-client 1.16.0) for every label command (spec anaconda-api.md
  §4 #30-#37, §5.8, §5.12, §5.13): ``upload --label``, ``label --list/--show/--copy/--remove/--lock/
  --unlock``, ``move``, ``copy`` (``--to-owner``, ``--replace``, ``--update``, the Conflict message), and
  what a locked label refuses;
- py-rattler and pip see a move at once; a file with no label is in no channel but still downloadable;
- plain files (``--package-type file``), ``show``, ``download``, ``search`` and download counts;
- environments uploaded with anaconda-client 1.13.0 (§5.4.4), listed at /envs/<owner> and fetched the way
  ``conda env create USER/ENV`` does (§6);
- notebooks uploaded through binstar_client's Python API, rendered at /notebooks/<owner>/<name>: a hostile
  corpus is checked statically and in real Chromium (no script runs, no dialog, no global set);
- projects through the anaconda-project protocol (/api/apps/<owner>/projects…).
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import fcntl
import hashlib
import html
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nbformat
import pytest
import yaml
from binstar_client import Binstar
from binstar_client import errors as binstar_errors
from nbformat import v4
from packaging.version import Version

from support.clients import python_tools_env, AnacondaCLI, rattler_error, rattler_install, rattler_records
from support.condapkg import build_conda_package
from support.pypkg import build_wheel, metadata_text
from support.server import LiveServer

pytestmark = pytest.mark.client

IN_CI = os.environ.get("CI", "").lower() == "true"
T = TypeVar("T")

CONFLICT = "File conflict while copying! Try to use --replace or --update options for force copying"
OLD_CLIENT = "anaconda-client==1.13.0"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


# -- helpers --------------------------------------------------------------------------------------------


def output(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI prints mostly to stderr (and errors to stdout): judge both streams together."""
    return proc.stdout + proc.stderr


def http(server: LiveServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"token {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, trust_env=False, timeout=60)


def parallel(*calls: Callable[[], T]) -> list[T]:
    """Run independent client commands side by side (each CLI start costs seconds)."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]


def dist(
    server: LiveServer, token: str | None, owner: str, package: str, version: str, basename: str
) -> httpx.Response:
    with http(server, token) as c:
        return c.get(f"/api/dist/{owner}/{package}/{version}/{basename}")


def labels_of(
    server: LiveServer, token: str | None, owner: str, package: str, version: str, basename: str
) -> list[str]:
    r = dist(server, token, owner, package, version, basename)
    assert r.status_code == 200, r.text
    return sorted(r.json()["labels"])


def channel_files(server: LiveServer, channel: str, subdir: str = "noarch") -> set[str]:
    """File names in ``/conda/<channel>/<subdir>/repodata.json`` (anonymous); empty if there is no channel."""
    with http(server) as c:
        r = c.get(f"/conda/{channel}/{subdir}/repodata.json")
    if r.status_code == 404:
        return set()
    assert r.status_code == 200, r.text
    doc = r.json()
    return set(doc.get("packages", {})) | set(doc.get("packages.conda", {}))


def label_table(server: LiveServer, token: str | None, owner: str) -> dict[str, Any]:
    with http(server, token) as c:
        r = c.get(f"/api/channels/{owner}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def conda_pkg(dest: Path, name: str, version: str, **kwargs: Any) -> tuple[Path, str]:
    """A noarch .tar.bz2 and its anaconda basename."""
    path = build_conda_package(dest, name, version, **kwargs)
    return path, f"{kwargs.get('subdir', 'noarch')}/{path.name}"


def run(cmd: Sequence[str], timeout: float = 180, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd),
        env=python_tools_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def ok(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode == 0, f"{what} exited {proc.returncode}\n{output(proc)}"
    return output(proc)


def failed(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode != 0, f"{what} should have failed\n{output(proc)}"
    return output(proc)


def binstar(server: LiveServer, token: str | None) -> Binstar:
    return Binstar(token=token, domain=server.api_url)


# -- fixtures -------------------------------------------------------------------------------------------


def _logged_in(server: LiveServer, home: Path, user: str) -> AnacondaCLI:
    cli = AnacondaCLI(home)
    cli.configure(server.api_url)
    cli.login(user, f"{user}-password")
    assert cli.token(), "login stored no token"
    return cli


@pytest.fixture(scope="module")
def clients(server: LiveServer, workdir: Path) -> tuple[AnacondaCLI, AnacondaCLI]:
    alice, bob = parallel(
        lambda: _logged_in(server, workdir / "alice-home", "alice"),
        lambda: _logged_in(server, workdir / "bob-home", "bob"),
    )
    return alice, bob


@pytest.fixture(scope="module")
def alice(clients: tuple[AnacondaCLI, AnacondaCLI]) -> AnacondaCLI:
    return clients[0]


@pytest.fixture(scope="module")
def bob(clients: tuple[AnacondaCLI, AnacondaCLI]) -> AnacondaCLI:
    return clients[1]


def _old_client_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "packyard-tests" / f"anaconda-client-1.13.0-py{sys.version_info[0]}.{sys.version_info[1]}"


def _install_old_client() -> Path:
    """A venv holding anaconda-client 1.13.0 (the last release that uploads environment files), kept in the
    user's cache between runs; returns its ``anaconda`` executable."""
    venv = _old_client_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / (venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        exe, marker = venv / "bin" / "anaconda", venv / ".packyard-installed"
        if marker.exists() and exe.exists():
            return exe
        shutil.rmtree(venv, ignore_errors=True)
        ok(run([sys.executable, "-m", "venv", str(venv)], timeout=120), "python -m venv")
        ok(
            run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input", OLD_CLIENT], timeout=600
            ),
            f"pip install {OLD_CLIENT}",
        )
        marker.write_text(OLD_CLIENT + "\n")
        return exe


@pytest.fixture(scope="module", autouse=True)
def old_client() -> Iterator[Future[Path]]:
    """Installed in the background from the start of the module (pip takes most of a minute)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(_install_old_client)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by playwright (installed with apt-get when missing and we are root).
    In CI a missing browser or playwright is a failure, never a skip."""

    def unavailable(why: str) -> None:
        if IN_CI:
            pytest.fail(why + " (required in CI)")
        pytest.skip(why)

    if not Path(CHROMIUM).exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "update", "-qq"], env=apt_env, capture_output=True, timeout=600, check=False
        )
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            env=apt_env,
            capture_output=True,
            timeout=1200,
            check=False,
        )
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e .[test])")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


# -- labels with the anaconda CLI -----------------------------------------------------------------------

Uploaded = dict[str, tuple[Path, str]]  # key -> (local file, its anaconda basename)


@pytest.fixture(scope="module")
def uploaded(server: LiveServer, alice: AnacondaCLI, workdir: Path) -> Uploaded:
    """What the label, count and search tests start from, uploaded side by side (each CLI start costs
    seconds): ``upload --label dev``, ``--label dev --label test``, ``--label beta``, ``--label solo``,
    no label (main), ``--private``, and twine into /pypi/alice/label/dev/."""
    d = workdir / "uploads"
    made: Uploaded = {
        "lbl-one": conda_pkg(d / "dev", "lbl-one", "1.0"),
        "mv-pkg-1": conda_pkg(d / "dev", "mv-pkg", "1.0"),
        "mv-pkg-2": conda_pkg(d / "dev", "mv-pkg", "2.0"),
        "cp-pkg": conda_pkg(d / "dev", "cp-pkg", "1.0"),
        "lbl-two": conda_pkg(d / "dev-test", "lbl-two", "1.0"),
        "lk-pkg-1": conda_pkg(d / "beta", "lk-pkg", "1.0"),
        "lk-pkg-2": conda_pkg(d / "beta", "lk-pkg", "2.0"),
        "orphan": conda_pkg(d / "solo", "orphan-pkg", "1.0"),
        "cnt-pkg": conda_pkg(d / "main", "cnt-pkg", "1.0"),
        "srch-alpha": conda_pkg(
            d / "main", "srch-alpha", "1.0", subdir="linux-64", summary="Zebra crossing toolkit"
        ),
        "srch-hidden": conda_pkg(d / "private", "srch-hidden", "1.0", summary="Zebra secrets"),
    }
    for key, folder, kwargs in (
        ("moved-wheel", "dev", {}),
        ("twined-wheel", "twine", {}),
        ("cnt-wheel", "main", {}),
        (
            "srch-beta",
            "main",
            {"metadata": metadata_text("srch-beta", "1.0", summary="Quokka helpers for Python")},
        ),
    ):
        wheel = build_wheel(d / folder, key, "1.0", **kwargs)
        made[key] = (wheel, wheel.name)

    def files_in(folder: str) -> list[str]:
        return [str(p) for p in sorted((d / folder).iterdir())]

    twine = [
        sys.executable,
        "-m",
        "twine",
        "upload",
        "--disable-progress-bar",
        "--non-interactive",
        "--repository-url",
        f"{server.url}/pypi/alice/label/dev/",
        "-u",
        "alice",
        "-p",
        "alice-password",
        *files_in("twine"),
    ]
    what = [
        "upload --label dev",
        "upload --label dev --label test",
        "upload --label beta",
        "upload --label solo",
        "upload (main)",
        "upload --private",
        "twine upload to /pypi/alice/label/dev/",
    ]
    results = parallel(
        lambda: alice.run("upload", "--label", "dev", *files_in("dev"), check=False),
        lambda: alice.run("upload", "--label", "dev", "--label", "test", *files_in("dev-test"), check=False),
        lambda: alice.run("upload", "--label", "beta", *files_in("beta"), check=False),
        lambda: alice.run("upload", "--label", "solo", *files_in("solo"), check=False),
        lambda: alice.run("upload", *files_in("main"), check=False),
        lambda: alice.run("upload", "--private", *files_in("private"), check=False),
        lambda: run(twine, timeout=120),
    )
    for proc, label in zip(results, what):
        ok(proc, label)
    return made


def test_upload_into_labels_then_list_and_show(
    server: LiveServer, alice: AnacondaCLI, bob: AnacondaCLI, uploaded: Uploaded
) -> None:
    (one, one_b), (two, two_b) = uploaded["lbl-one"], uploaded["lbl-two"]
    token = alice.token()
    assert labels_of(server, token, "alice", "lbl-one", "1.0", one_b) == ["dev"]
    assert labels_of(server, token, "alice", "lbl-two", "1.0", two_b) == ["dev", "test"]
    # A label is a channel of its own; main does not have these files.
    assert {one.name, two.name} <= channel_files(server, "alice/label/dev")
    assert two.name in channel_files(server, "alice/label/test")
    assert not {one.name, two.name} & channel_files(server, "alice")

    own, as_bob, shown = parallel(
        lambda: alice.run("label", "--list", check=False),
        lambda: bob.run("label", "-o", "alice", "--list", check=False),  # readable namespace: anyone may list
        lambda: alice.run("label", "--show", "dev", check=False),
    )
    for proc, who in ((own, "alice"), (as_bob, "bob")):
        listed = set(
            re.findall(r"^ \+ (\S+?)(?:\[locked\])?\s*$", ok(proc, f"label --list as {who}"), re.MULTILINE)
        )
        assert {"main", "dev", "test", "beta", "solo"} <= listed, output(proc)
    text = ok(shown, "label --show dev")
    assert re.search(r"^Label dev\s*$", text, re.MULTILINE), text
    assert f"+ alice/lbl-one/1.0/{one_b}" in text and f"+ alice/lbl-two/1.0/{two_b}" in text, text
    assert "lk-pkg" not in text, text


def test_move_one_version_and_rattler_sees_it_at_once(
    server: LiveServer, alice: AnacondaCLI, workdir: Path, uploaded: Uploaded
) -> None:
    (v1, v1_b), (v2, v2_b) = uploaded["mv-pkg-1"], uploaded["mv-pkg-2"]
    d = workdir / "move"
    rattler: dict[str, Any] = {"prefix": d / "prefix", "cache_dir": d / "rattler-cache", "solve_only": True}
    before = rattler_install([f"{server.url}/conda/alice"], ["mv-pkg"], **rattler)
    assert rattler_records(before) == [] and rattler_error(before), before.stdout + before.stderr

    text = ok(
        alice.run("move", "alice/mv-pkg/1.0", "--from-label", "dev", "--to-label", "main", check=False),
        "move",
    )
    assert "Traceback" not in text and "[ERROR]" not in text, text  # move only logs its errors
    token = alice.token()
    assert labels_of(server, token, "alice", "mv-pkg", "1.0", v1_b) == ["main"]
    assert labels_of(server, token, "alice", "mv-pkg", "2.0", v2_b) == ["dev"]  # only the named version moved
    assert v1.name in channel_files(server, "alice") and v2.name not in channel_files(server, "alice")
    dev = channel_files(server, "alice/label/dev")
    assert v2.name in dev and v1.name not in dev

    after = rattler_install([f"{server.url}/conda/alice"], ["mv-pkg"], **rattler)
    records = rattler_records(after)
    assert [(r.name, r.version) for r in records] == [("mv-pkg", "1.0")], after.stdout + after.stderr
    assert records[0].url.startswith(f"{server.url}/conda/alice/noarch/"), records


def test_label_copy_lock_unlock_remove(
    server: LiveServer, alice: AnacondaCLI, workdir: Path, uploaded: Uploaded
) -> None:
    (v1, v1_b), (_, v2_b) = uploaded["lk-pkg-1"], uploaded["lk-pkg-2"]
    new, new_b = conda_pkg(workdir / "lock", "lk-new", "1.0")
    token = alice.token()
    text = ok(alice.run("label", "--copy", "beta", "gamma", check=False), "label --copy")
    assert "Copied label beta to gamma" in text, text
    assert labels_of(server, token, "alice", "lk-pkg", "1.0", v1_b) == ["beta", "gamma"]
    assert labels_of(server, token, "alice", "lk-pkg", "2.0", v2_b) == ["beta", "gamma"]
    with http(server, token) as c:  # set-up only: take 2.0 back out of gamma (the move of §5.13, step 3)
        r = c.request(
            "DELETE",
            "/api/channels/alice/gamma",
            json={"package": "lk-pkg", "version": "2.0", "basename": None},
        )
        assert r.status_code == 201, r.text

    ok(alice.run("label", "--lock", "gamma", check=False), "label --lock")
    assert label_table(server, token, "alice")["gamma"]["is_locked"] is True
    listed, shown = parallel(
        lambda: alice.run("label", "--list", check=False),
        lambda: alice.run("label", "--show", "gamma", check=False),
    )
    assert re.search(r"^ \+ gamma\s*\[locked\]", ok(listed, "label --list"), re.MULTILINE), output(listed)
    shown_text = ok(shown, "label --show gamma")
    assert re.search(r"^Label gamma\s*\[locked\]", shown_text, re.MULTILINE), shown_text
    assert f"alice/lk-pkg/1.0/{v1_b}" in shown_text and f"alice/lk-pkg/2.0/{v2_b}" not in shown_text

    blobs_before = server.blob_files()
    upload, move_in, move_out, copy_in, copy_out, remove_file, remove_label = parallel(
        lambda: alice.run("upload", "--label", "gamma", str(new), check=False),
        lambda: alice.run(
            "move", "alice/lk-pkg/2.0", "--from-label", "beta", "--to-label", "gamma", check=False
        ),
        lambda: alice.run(
            "move", "alice/lk-pkg/1.0", "--from-label", "gamma", "--to-label", "beta", check=False
        ),
        lambda: alice.run(
            "copy", "alice/lk-pkg/1.0", "--from-label", "beta", "--to-label", "gamma", check=False
        ),
        lambda: alice.run(
            "copy", "alice/lk-pkg/1.0", "--from-label", "gamma", "--to-label", "delta", check=False
        ),
        lambda: alice.run("remove", "-f", f"alice/lk-pkg/1.0/{v1_b}", check=False),
        lambda: alice.run("label", "--remove", "gamma", check=False),
    )
    lock_message = re.compile(r"label 'gamma' is locked", re.IGNORECASE)
    # move only logs the failed step and exits 0 (spec §5.13); every other command fails.
    for proc, what in (
        (upload, "upload into a locked label"),
        (copy_in, "copy into a locked label"),
        (copy_out, "copy out of a locked label"),
        (remove_file, "remove a file of a locked label"),
        (remove_label, "label --remove of a locked label"),
    ):
        assert lock_message.search(failed(proc, what)), output(proc)
    for proc, what in ((move_in, "move into a locked label"), (move_out, "move out of a locked label")):
        assert lock_message.search(output(proc)), f"{what}\n{output(proc)}"

    # The locked label is exactly as it was, and the refused upload left nothing behind.
    assert dist(server, token, "alice", "lk-new", "1.0", new_b).status_code == 404
    assert server.blob_files() == blobs_before and server.tmp_files() == []
    assert "gamma" in labels_of(server, token, "alice", "lk-pkg", "1.0", v1_b)
    assert "gamma" not in labels_of(server, token, "alice", "lk-pkg", "2.0", v2_b)
    assert channel_files(server, "alice/label/gamma") == {v1.name}
    assert "delta" not in label_table(server, token, "alice")

    ok(alice.run("label", "--unlock", "gamma", check=False), "label --unlock")
    assert label_table(server, token, "alice")["gamma"]["is_locked"] is False
    ok(alice.run("label", "--remove", "gamma", check=False), "label --remove")
    assert "gamma" not in label_table(server, token, "alice")
    assert labels_of(server, token, "alice", "lk-pkg", "1.0", v1_b) == ["beta"]
    assert channel_files(server, "alice/label/gamma") == set()


def test_copy_between_labels_and_owners(
    server: LiveServer, alice: AnacondaCLI, bob: AnacondaCLI, uploaded: Uploaded
) -> None:
    pkg, pkg_b = uploaded["cp-pkg"]
    blobs_before = server.blob_files()
    # bob may write his own namespace and read alice's public package: a copy is metadata only.
    to_test, to_bob = parallel(
        lambda: alice.run(
            "copy", "alice/cp-pkg/1.0", "--from-label", "dev", "--to-label", "test", check=False
        ),
        lambda: bob.run("copy", "alice/cp-pkg/1.0", "--from-label", "dev", "--to-owner", "bob", check=False),
    )
    assert f"Copied file: {pkg_b}" in ok(to_test, "copy to label test"), output(to_test)
    assert labels_of(server, alice.token(), "alice", "cp-pkg", "1.0", pkg_b) == ["dev", "test"]
    assert pkg.name in channel_files(server, "alice/label/test")
    assert f"Copied file: {pkg_b}" in ok(to_bob, "copy --to-owner bob"), output(to_bob)
    assert pkg.name in channel_files(server, "bob")
    copied = dist(server, bob.token(), "bob", "cp-pkg", "1.0", pkg_b)
    assert copied.status_code == 200, copied.text
    assert copied.json()["labels"] == ["main"]
    assert copied.json()["sha256"] == hashlib.sha256(pkg.read_bytes()).hexdigest()
    assert server.blob_files() == blobs_before, "a copy must not write a new blob"

    conflict = bob.run("copy", "alice/cp-pkg/1.0", "--from-label", "dev", "--to-owner", "bob", check=False)
    assert CONFLICT in failed(conflict, "plain copy onto an existing file"), output(conflict)
    replaced, updated = parallel(
        lambda: bob.run(
            "copy", "alice/cp-pkg/1.0", "--from-label", "dev", "--to-owner", "bob", "--replace", check=False
        ),
        lambda: bob.run(
            "copy", "alice/cp-pkg/1.0", "--from-label", "dev", "--to-owner", "bob", "--update", check=False
        ),
    )
    ok(replaced, "copy --replace")
    ok(updated, "copy --update")
    assert pkg.name in channel_files(server, "bob")
    assert dist(server, bob.token(), "bob", "cp-pkg", "1.0", pkg_b).status_code == 200
    assert server.blob_files() == blobs_before

    # alice may not write bob's namespace.
    with http(server, alice.token()) as c:
        r = c.post(
            "/api/copy/package/alice/cp-pkg/1.0/",
            json={"to_owner": "bob", "from_channel": "dev", "to_channel": "stolen"},
        )
    assert r.status_code in (401, 403), r.text
    assert "stolen" not in label_table(server, bob.token(), "bob")


def test_file_without_label_is_in_no_channel_but_downloadable(
    server: LiveServer, alice: AnacondaCLI, uploaded: Uploaded
) -> None:
    pkg, pkg_b = uploaded["orphan"]
    assert pkg.name in channel_files(server, "alice/label/solo")
    ok(alice.run("label", "--remove", "solo", check=False), "label --remove")
    assert labels_of(server, alice.token(), "alice", "orphan-pkg", "1.0", pkg_b) == []
    assert pkg.name not in channel_files(server, "alice")
    assert pkg.name not in channel_files(server, "alice/label/solo")
    with http(server, alice.token()) as c:
        assert c.get(f"/conda/alice/label/solo/noarch/{pkg.name}").status_code == 404
        assert c.get(f"/conda/alice/noarch/{pkg.name}").status_code == 404

    text = ok(alice.run("download", "alice/orphan-pkg", check=False), "download of an unlabelled file")
    assert "has been downloaded" in text, text
    assert (alice.home / pkg_b).read_bytes() == pkg.read_bytes()


def test_pip_installs_a_moved_wheel_at_once(
    server: LiveServer, alice: AnacondaCLI, workdir: Path, uploaded: Uploaded
) -> None:
    projects = ("moved-wheel", "twined-wheel")  # uploaded with `anaconda upload --label dev` and with twine
    with http(server) as c:
        for project in projects:
            assert c.get(f"/pypi/alice/simple/{project}/").status_code == 404
            assert c.get(f"/pypi/alice/label/dev/simple/{project}/").status_code == 200

    moves = parallel(
        *[
            (
                lambda p=p: alice.run(
                    "move", f"alice/{p}/1.0", "--from-label", "dev", "--to-label", "main", check=False
                )
            )
            for p in projects
        ]
    )
    for proc in moves:
        assert "[ERROR]" not in ok(proc, "move"), output(proc)

    venv = workdir / "pip-venv"
    ok(run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=60), "venv")
    python = venv / "bin" / "python"
    ok(
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--no-cache-dir",
                "--index-url",
                f"{server.url}/pypi/alice/simple/",
                *projects,
            ]
        ),
        "pip install",
    )
    proc = run(
        [
            str(python),
            "-c",
            "import moved_wheel, twined_wheel; print(moved_wheel.VERSION, twined_wheel.VERSION)",
        ]
    )
    assert ok(proc, "import").split() == ["1.0", "1.0"]


# -- plain files, environments ---------------------------------------------------------------------------


def test_plain_file_versions_side_by_side(server: LiveServer, alice: AnacondaCLI, workdir: Path) -> None:
    d = workdir / "plain"
    contents = {"1": b"x,y\n1,2\n", "2": b"x,y\n3,4\n5,6\n"}
    for version, data in contents.items():
        path = d / version / "data.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        ok(
            alice.run(
                "upload",
                "--package-type",
                "file",
                "--version",
                version,
                "-p",
                "mydata",
                "-s",
                "My data",
                str(path),
                check=False,
            ),
            f"upload data.csv version {version}",
        )
    shown, downloaded = parallel(
        lambda: alice.run("show", "alice/mydata", check=False),
        lambda: alice.run("download", "alice/mydata", check=False),
    )
    text = ok(shown, "show alice/mydata")
    assert "Summary: My data" in text, text
    assert re.search(r"^\s+\+ 1\s*$", text, re.MULTILINE) and re.search(
        r"^\s+\+ 2\s*$", text, re.MULTILINE
    ), text
    ok(downloaded, "download alice/mydata")
    assert (alice.home / "data.csv").read_bytes() == contents["2"]  # the newest version of each basename
    with http(server, alice.token()) as c:
        for version, data in contents.items():
            r = c.get(f"/api/download/alice/mydata/{version}/data.csv", follow_redirects=True)
            assert r.status_code == 200 and r.content == data


ENVIRONMENT = """\
name: myenv
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.11
  - numpy>=1.26
  - pip
  - pip:
      - requests==2.32.3
"""


def test_environment_from_client_1_13_and_conda_env_create_flow(
    server: LiveServer, alice: AnacondaCLI, workdir: Path, old_client: Future[Path]
) -> None:
    old = AnacondaCLI(workdir / "alice-1.13-home", old_client.result(timeout=900))
    old.configure(server.api_url)
    old.login("alice", "alice-password")
    env_file = workdir / "envs" / "environment.yml"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text(ENVIRONMENT)
    ok(old.run("upload", str(env_file), check=False), "anaconda-client 1.13.0 upload environment.yml")

    with http(server) as c:
        page = c.get("/envs/alice")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "myenv" in page.text and "conda env create alice/myenv" in page.text, page.text
        listed = c.get("/envs/alice", headers={"Accept": "application/json"})
        assert listed.status_code == 200, listed.text
        entries = {e["name"]: e for e in listed.json()}
        assert entries["myenv"]["basename"] == "environment.yml"
        assert re.fullmatch(r"\d{4}\.\d\d\.\d\d\.\d{6}", entries["myenv"]["version"]), entries

    # What conda's BinstarSpec does (spec §6): the package, its env files, the newest version, the download.
    api = binstar(server, alice.token())
    package = api.package("alice", "myenv")
    env_files = [f for f in package["files"] if f["type"] == "env"]
    assert env_files, package
    version = max({f["version"] for f in env_files}, key=Version)
    basename = next(f["basename"] for f in env_files if f["version"] == version)
    fetched = api.download("alice", "myenv", version, basename)
    assert fetched is not None and fetched.status_code == 200
    assert yaml.safe_load(fetched.raw.read()) == yaml.safe_load(ENVIRONMENT)

    with http(server, alice.token()) as c:
        r = c.get(f"/api/download/alice/myenv/{version}/{basename}")
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location.startswith(server.url + "/"), location  # absolute
    bare = httpx.get(location, trust_env=False, timeout=30)  # no credentials, like requests.get in the client
    assert bare.status_code == 200
    assert yaml.safe_load(bare.text) == yaml.safe_load(ENVIRONMENT)


# -- notebooks -------------------------------------------------------------------------------------------


def notebook_text(marker: str, *cells: Any, metadata: dict[str, Any] | None = None) -> str:
    nb = v4.new_notebook(metadata=metadata or {})
    nb.cells = [v4.new_markdown_cell(f"# Notebook {marker}\n\nVISIBLE-{marker}-TEXT"), *cells]
    nbformat.validate(nb)
    return nbformat.writes(nb)


def upload_notebook(api: Binstar, path: Path, name: str, version: str, public: bool = True) -> None:
    try:
        api.package("alice", name)
    except binstar_errors.NotFound:
        api.add_package("alice", name, summary=f"notebook {name}", public=public)
    api.add_release("alice", name, version, [], None, {})
    with open(path, "rb") as fh:
        api.upload("alice", name, version, path.name, fh, "ipynb")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_notebook_pages_versions_download_and_privacy(
    server: LiveServer, alice: AnacondaCLI, bob: AnacondaCLI, workdir: Path
) -> None:
    d = workdir / "notebooks"
    api = binstar(server, alice.token())
    versions = {"1": notebook_text("first-version"), "2": notebook_text("second-version")}
    for version, text in versions.items():
        upload_notebook(api, write(d / version / "demo-nb.ipynb", text), "demo-nb", version)
    secret = write(d / "secret-nb.ipynb", notebook_text("secret-content"))
    upload_notebook(api, secret, "secret-nb", "1", public=False)

    with http(server) as c:
        latest = c.get("/notebooks/alice/demo-nb")
        assert latest.status_code == 200, latest.text
        assert "VISIBLE-second-version-TEXT" in latest.text and "first-version" not in latest.text
        first = c.get("/notebooks/alice/demo-nb/1")
        assert first.status_code == 200 and "VISIBLE-first-version-TEXT" in first.text
        assert "second-version-TEXT" not in first.text
        assert c.get("/notebooks/alice/demo-nb/9").status_code == 404
        # private: invisible to anonymous and to bob, visible to alice
        assert c.get("/notebooks/alice/secret-nb").status_code == 404
        assert (
            c.get("/notebooks/alice/secret-nb", headers={"Authorization": f"token {bob.token()}"}).status_code
            == 404
        )
        mine = c.get("/notebooks/alice/secret-nb", headers={"Authorization": f"token {alice.token()}"})
        assert mine.status_code == 200 and "VISIBLE-secret-content-TEXT" in mine.text

    text = ok(alice.run("download", "alice/demo-nb", check=False), "download alice/demo-nb")
    assert "has been downloaded" in text, text
    assert (alice.home / "demo-nb.ipynb").read_text() == versions["2"]


def test_corrupt_notebook_is_refused_and_nothing_stored(
    server: LiveServer, alice: AnacondaCLI, workdir: Path
) -> None:
    d = workdir / "corrupt"
    api = binstar(server, alice.token())
    cases = {
        "not-json-nb": b"{ this is not json",
        "not-utf8-nb": b"\xff\xfe\x00garbage",
        "bad-schema-nb": json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [{"cell_type": "bogus", "source": "x"}],
            }
        ).encode(),
        "no-cells-nb": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}).encode(),
    }
    for name, data in cases.items():
        path = write(d / f"{name}.ipynb", data)
        blobs_before = server.blob_files()
        with pytest.raises(binstar_errors.BinstarError) as refused:
            upload_notebook(api, path, name, "1")
        message, status = refused.value.args[0], refused.value.args[1]
        assert 400 <= status < 500, refused.value.args
        assert "not a valid Jupyter notebook" in message, message
        assert dist(server, alice.token(), "alice", name, "1", path.name).status_code == 404
        assert server.blob_files() == blobs_before, name
        assert server.tmp_files() == []


# The hostile corpus: every payload either sets window.__pwned or opens a dialog if it ever runs.
PWN = "window.__pwned=1;alert(document.domain)"
PWN_B64 = base64.b64encode(f"<script>{PWN}</script>".encode()).decode()
EVIL_SVG = (
    f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" '
    f'height="10" onload="{PWN}"><script>{PWN}</script><a xlink:href="javascript:{PWN}"><text>svg link'
    f'</text></a><foreignObject><body onload="{PWN}"></body></foreignObject><animate '
    f'attributeName="href" to="javascript:{PWN}"/></svg>'
)


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def _code(*outputs: Any) -> Any:
    return v4.new_code_cell("show()", outputs=list(outputs), execution_count=1)


def _html(markup: str) -> Any:
    return v4.new_output("display_data", data={"text/html": markup, "text/plain": "<display>"})


EVENT_HANDLERS = (
    f'<img src="x" onerror="{PWN}"><svg onload="{PWN}"><circle r="4"/></svg>'
    f'<body onload="{PWN}"><div onclick="{PWN}" onmouseover="{PWN}">click me</div>'
    f'<details open ontoggle="{PWN}"><summary>s</summary></details>'
    f'<input autofocus onfocus="{PWN}"><video><source onerror="{PWN}"></video>'
    f'<math><mtext><table><mglyph><style><img src=x onerror="{PWN}"></style></mglyph></table>'
    f'</mtext></math><noscript><p title="</noscript><img src=x onerror={PWN}>"></p></noscript>'
)
JS_URLS = (
    f'<a href="javascript:{PWN}">one</a> <a href="JaVaScRiPt:{PWN}">two</a> '
    f'<a href="&#106;avascript:{PWN}">three</a> <a href=" &#x09;javascript:{PWN}">four</a> '
    f'<a href="data:text/html;base64,{PWN_B64}">five</a> '
    f'<a href="data:text/html,&lt;script&gt;{PWN}&lt;/script&gt;">six</a> '
    f'<img src="javascript:{PWN}"> <img src="data:text/html;base64,{PWN_B64}">'
)
EMBEDS = (
    f'<iframe src="javascript:{PWN}"></iframe><iframe srcdoc="&lt;script&gt;parent.__pwned=1&lt;/script&gt;">'
    f'</iframe><object data="data:text/html;base64,{PWN_B64}"></object>'
    f'<embed src="data:text/html;base64,{PWN_B64}"><form action="javascript:{PWN}"><input type="submit" '
    f'value="go"><button formaction="javascript:{PWN}">button</button></form>'
    f'<meta http-equiv="refresh" content="0;url=javascript:{PWN}"><base href="javascript:{PWN}//">'
    f'<link rel="stylesheet" href="javascript:{PWN}"><frameset><frame src="javascript:{PWN}"></frameset>'
)
STYLES = (
    f"<style>body {{ background: url(javascript:{PWN}) }} p {{ width: expression(alert(1)) }}</style>"
    f'<div style="background-image: url(javascript:{PWN}); width: expression(alert(1))">styled</div>'
)

HOSTILE: dict[str, Callable[[str], str]] = {
    "script-in-markdown": lambda m: notebook_text(
        m,
        v4.new_markdown_cell(
            f"Before <script>{PWN}</script> after <SCRIPT>{PWN}</SCRIPT>\n\n"
            f"<scr<script>ipt>{PWN}</script>\n\n<svg><script>{PWN}</script></svg>"
        ),
    ),
    "script-in-html-output": lambda m: notebook_text(
        m, _code(_html(f'<b>bold</b><script>{PWN}</script><script src="http://evil.invalid/x.js"></script>'))
    ),
    "event-handlers": lambda m: notebook_text(
        m, v4.new_markdown_cell(EVENT_HANDLERS), _code(_html(EVENT_HANDLERS))
    ),
    "javascript-and-data-urls": lambda m: notebook_text(
        m,
        v4.new_markdown_cell(
            f"[md link](javascript:{PWN.replace('(', '%28').replace(')', '%29')})\n\n"
            f"![md image](javascript:alert)\n\n{JS_URLS}"
        ),
        _code(_html(JS_URLS)),
    ),
    "embedded-content": lambda m: notebook_text(
        m,
        _code(_html(EMBEDS)),
        v4.new_raw_cell(f"<script>{PWN}</script>{EMBEDS}", metadata={"format": "text/html"}),
        v4.new_markdown_cell(EMBEDS),
    ),
    "svg-output": lambda m: notebook_text(
        m,
        _code(v4.new_output("display_data", data={"image/svg+xml": EVIL_SVG})),
        v4.new_markdown_cell(EVIL_SVG),
    ),
    "javascript-output": lambda m: notebook_text(
        m,
        _code(
            v4.new_output("display_data", data={"application/javascript": PWN}),
            v4.new_output("execute_result", data={"application/javascript": PWN}, execution_count=1),
        ),
    ),
    "style-tricks": lambda m: notebook_text(m, v4.new_markdown_cell(STYLES), _code(_html(STYLES))),
    "attachment": lambda m: notebook_text(
        m,
        v4.new_markdown_cell(
            "![evil](attachment:evil.svg) ![html](attachment:page.html) ![dot](attachment:dot.png)",
            attachments={
                "evil.svg": {"image/svg+xml": base64.b64encode(EVIL_SVG.encode()).decode()},
                "page.html": {"text/html": PWN_B64},
                "dot.png": {"image/png": base64.b64encode(_png_1x1()).decode()},
            },
        ),
    ),
    "widget-state": lambda m: notebook_text(
        m,
        _code(
            v4.new_output(
                "display_data",
                data={
                    "application/vnd.jupyter.widget-view+json": {
                        "model_id": "m1",
                        "version_major": 2,
                        "version_minor": 0,
                    },
                    "text/plain": "HTML(value='...')",
                },
            )
        ),
        metadata={
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "version_major": 2,
                    "version_minor": 0,
                    "state": {
                        "m1": {
                            "model_name": "HTMLModel",
                            "model_module": "@jupyter-widgets/controls",
                            "model_module_version": "1.5.0",
                            "state": {"value": f'<img src=x onerror="{PWN}"></script><script>{PWN}</script>'},
                        }
                    },
                }
            }
        },
    ),
}
FORBIDDEN_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "form",
    "base",
    "frame",
    "frameset",
    "applet",
    "svg",
    "math",
    "link",
    "input",
    "button",
    "textarea",
    "select",
    "noscript",
    "template",
    "animate",
    "foreignobject",
    "video",
    "audio",
    "source",
}
RASTER_DATA_URL = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,", re.IGNORECASE)


class PageScan(HTMLParser):
    """Every tag and attribute of a page as a browser tokenizer sees them; collects anything dangerous."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "style":
            self.styles += 1
        if tag == "meta" and any(k == "http-equiv" for k, _ in attrs):
            self.problems.append("<meta http-equiv>")
        for name, value in attrs:
            squashed = re.sub(r"[\x00-\x20]", "", html.unescape(value or "")).lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=>")
            if name in (
                "style",
                "srcdoc",
                "formaction",
                "action",
                "xlink:href",
                "background",
                "dynsrc",
                "lowsrc",
            ):
                self.problems.append(f"<{tag} {name}=>")
            if "javascript:" in squashed or "vbscript:" in squashed:
                self.problems.append(f"<{tag} {name}={value!r}>")
            if squashed.startswith("data:") and not (
                tag == "img" and name == "src" and RASTER_DATA_URL.match(squashed)
            ):
                self.problems.append(f"<{tag} {name}={value[:40]!r}…>")

    handle_startendtag = handle_starttag


def static_problems(page: str) -> list[str]:
    """What the HTML itself says: no script at all, no handler, no javascript:, no embedding or navigation."""
    scan = PageScan()
    scan.feed(page)
    scan.close()
    problems = list(scan.problems)
    if scan.styles != 1:  # the page's own stylesheet, in <head>, and nothing else
        problems.append(f"{scan.styles} <style> elements")
    unescaped = html.unescape(page)
    # Markup patterns on the page as served (escaped text is inert); schemes also after unescaping.
    for pattern in (
        r"<\s*script",
        r"<[^>]*\son\w+\s*=",
        r"<\s*(iframe|object|embed|form|base|frame|applet)\b",
        r"http-equiv",
    ):
        if re.search(pattern, page, re.IGNORECASE):
            problems.append(f"/{pattern}/")
    for pattern in (r"javascript:", r"vbscript:", r"expression\s*\(", r"data:text/html", r"data:image/svg"):
        if re.search(pattern, page, re.IGNORECASE) or re.search(pattern, unescaped, re.IGNORECASE):
            problems.append(f"/{pattern}/")
    return problems


DOM_PROBLEMS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) bad.push(`${el.tagName} ${a.name}`);
      const raster = el.tagName === 'IMG' && a.name === 'src'
        && /^data:image\\/(png|jpeg|gif|webp);/i.test(a.value);
      if (/^\\s*(javascript|vbscript|data):/i.test(a.value) && !raster)
        bad.push(`${el.tagName} ${a.name}=${a.value.slice(0, 40)}`);
    }
  }
  const forbidden = ['script', 'iframe', 'object', 'embed', 'form', 'base', 'frame', 'meta[http-equiv]',
                     'svg', 'link'];
  for (const sel of forbidden)
    if (document.querySelector(sel)) bad.push(sel);
  return bad;
}"""


def test_hostile_notebooks_are_inert(
    server: LiveServer, alice: AnacondaCLI, workdir: Path, browser: Any
) -> None:
    d = workdir / "hostile"
    api = binstar(server, alice.token())
    for case, build in HOSTILE.items():
        upload_notebook(api, write(d / f"{case}.ipynb", build(case)), f"hostile-{case}", "1")

    pages: dict[str, str] = {}
    with http(server) as c:
        for case in HOSTILE:
            r = c.get(f"/notebooks/alice/hostile-{case}")
            assert r.status_code == 200, (case, r.text)
            assert f"VISIBLE-{case}-TEXT" in r.text, case  # rendered, not emptied
            csp = r.headers.get("content-security-policy", "")
            assert "default-src 'none'" in csp or "script-src 'none'" in csp, r.headers  # the second wall
            pages[case] = r.text
    found = {case: problems for case, page in pages.items() if (problems := static_problems(page))}
    assert not found, json.dumps(found, indent=1)
    assert re.search(r'<img[^>]+src="data:image/png;base64,', pages["attachment"]), (
        "the raster attachment is kept"
    )

    # The real browser, with the page's CSP switched off: the sanitized HTML alone must be inert.
    context = browser.new_context(bypass_csp=True, java_script_enabled=True)
    dialogs: list[str] = []  # any alert/confirm/prompt a payload opens
    try:
        for case in HOSTILE:
            page = context.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith(server.url) else route.abort()
                ),
            )
            page.goto(f"{server.url}/notebooks/alice/hostile-{case}", wait_until="load")
            for element in page.query_selector_all("article.notebook *")[:200]:
                element.dispatch_event("click")
                element.dispatch_event("mouseover")
            page.wait_for_timeout(150)
            assert page.evaluate("() => window.__pwned") is None, case
            assert dialogs == [], (case, dialogs)
            assert page.evaluate(DOM_PROBLEMS) == [], case
            assert page.locator(f"text=VISIBLE-{case}-TEXT").count() == 1, case
            page.close()
    finally:
        context.close()


# -- projects (anaconda-project protocol) ----------------------------------------------------------------


def project_archive(name: str, revision: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as tar:
        for path, data in (
            (f"{name}/anaconda-project.yml", f"name: {name}\ndescription: rev {revision}\n"),
            (f"{name}/main.py", f"print('revision {revision}')\n"),
        ):
            info = tarfile.TarInfo(path)
            info.size = len(data.encode())
            tar.addfile(info, io.BytesIO(data.encode()))
    return buf.getvalue()


def upload_project_revision(c: httpx.Client, name: str, data: bytes) -> None:
    """What anaconda-project's client does: stage, the storage POST (no auth), commit/<dist_id>."""
    r = c.post(
        f"/api/apps/alice/projects/{name}/stage",
        json={
            "basename": f"{name}.tar.bz2",
            "configuration": {"name": name, "description": "demo", "size": len(data), "num_of_files": 2},
        },
    )
    assert r.status_code in (200, 201), r.text
    stage = r.json()
    assert {"post_url", "form_data", "dist_id"} <= set(stage)
    assert stage["post_url"].startswith("http"), stage["post_url"]
    form = {
        **stage["form_data"],
        "Content-Length": str(len(data)),
        "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
    }
    posted = httpx.post(
        stage["post_url"], data=form, files={"file": (f"{name}.tar.bz2", data)}, trust_env=False, timeout=60
    )
    assert posted.status_code == 201, posted.text
    r = c.post(f"/api/apps/alice/projects/{name}/commit/{stage['dist_id']}", json={})
    assert r.status_code == 201, r.text


def test_projects_revisions_and_downloads(server: LiveServer, alice: AnacondaCLI) -> None:
    archives = {1: project_archive("proj-demo", 1), 2: project_archive("proj-demo", 2)}
    with http(server, alice.token()) as c:
        r = c.post(
            "/api/apps/alice/projects",
            json={"name": "proj-demo", "access": "public", "profile": {"description": "A demo project"}},
        )
        assert r.status_code == 201, r.text
        for rev in (1, 2):
            upload_project_revision(c, "proj-demo", archives[rev])
        r = c.post(
            "/api/apps/alice/projects",
            json={"name": "proj-secret", "access": "private", "profile": {"description": "hidden"}},
        )
        assert r.status_code == 201, r.text
        upload_project_revision(c, "proj-secret", project_archive("proj-secret", 1))

        revisions = c.get("/api/apps/alice/projects/proj-demo/revisions")
        assert revisions.status_code == 200, revisions.text
        assert [str(x["revision"]) for x in revisions.json()] == ["2", "1"]
        for x in revisions.json():
            assert dt.datetime.fromisoformat(x["created_at"]).tzinfo is not None, x
        assert {"proj-demo", "proj-secret"} <= {p["name"] for p in c.get("/api/apps/alice/projects").json()}

        for url, rev in (
            ("/api/apps/alice/projects/proj-demo/download", 2),
            ("/api/apps/alice/projects/proj-demo/revisions/1/download", 1),
        ):
            r = c.get(url)
            assert r.status_code == 200, r.text
            assert r.content == archives[rev]
            found = re.findall("filename=(.+);", r.headers["Content-Disposition"])  # anaconda-project's parse
            assert found and ast.literal_eval(found[0]) == "proj-demo.tar.bz2", r.headers[
                "Content-Disposition"
            ]

    with http(server) as anonymous:
        assert "proj-secret" not in {p["name"] for p in anonymous.get("/api/apps/alice/projects").json()}
        assert anonymous.get("/api/apps/alice/projects/proj-secret").status_code == 404
        assert anonymous.get("/api/apps/alice/projects/proj-secret/revisions").status_code == 404
        assert anonymous.get("/api/apps/alice/projects/proj-secret/download").status_code == 404
        assert anonymous.get("/api/apps/alice/projects/proj-demo/download").content == archives[2]


# -- download counts, search -----------------------------------------------------------------------------


def ndownloads(
    server: LiveServer, token: str | None, package: str, version: str, basename: str
) -> tuple[int, int]:
    """(the file's count from /api/dist, the package's total from /api/package)."""
    with http(server, token) as c:
        f = c.get(f"/api/dist/alice/{package}/{version}/{basename}")
        p = c.get(f"/api/package/alice/{package}")
    assert f.status_code == 200 and p.status_code == 200, (f.text, p.text)
    return f.json()["ndownloads"], p.json()["ndownloads"]


def test_download_counts(server: LiveServer, alice: AnacondaCLI, workdir: Path, uploaded: Uploaded) -> None:
    (pkg, pkg_b), (wheel, _) = uploaded["cnt-pkg"], uploaded["cnt-wheel"]
    upload_notebook(
        binstar(server, alice.token()),
        write(workdir / "counts" / "cnt-nb.ipynb", notebook_text("counted")),
        "cnt-nb",
        "1",
    )
    token = alice.token()
    assert ndownloads(server, token, "cnt-pkg", "1.0", pkg_b) == (0, 0)

    with http(server) as c:
        assert c.get(f"/conda/alice/noarch/{pkg.name}").content == pkg.read_bytes()
        assert c.head(f"/conda/alice/noarch/{pkg.name}").status_code == 200  # a HEAD is not a download
    assert ndownloads(server, token, "cnt-pkg", "1.0", pkg_b) == (1, 1)
    ok(alice.run("download", "alice/cnt-pkg", check=False), "anaconda download")
    assert (alice.home / pkg_b).read_bytes() == pkg.read_bytes()
    assert ndownloads(server, token, "cnt-pkg", "1.0", pkg_b) == (2, 2)
    shown = ok(alice.run("show", f"alice/cnt-pkg/1.0/{pkg_b}", check=False), "show the file")
    assert re.search(r"^ndownloads\s+:\s+2\s*$", shown, re.MULTILINE), shown

    with http(server) as c:
        assert c.get(f"/pypi/alice/files/{wheel.name}").content == wheel.read_bytes()
        assert ndownloads(server, token, "cnt-wheel", "1.0", wheel.name) == (1, 1)
        assert c.get(f"/pypi/alice/files/{wheel.name}").status_code == 200
        assert ndownloads(server, token, "cnt-wheel", "1.0", wheel.name) == (2, 2)
        for views in (1, 2):
            assert c.get("/notebooks/alice/cnt-nb").status_code == 200
            assert ndownloads(server, token, "cnt-nb", "1", "cnt-nb.ipynb") == (views, views)


def search_hits(text: str) -> set[str]:
    return set(re.findall(r"^\s+(\w+/[\w.-]+)\s+\|", text, re.MULTILINE))


def test_search_by_name_summary_type_and_platform(
    server: LiveServer, alice: AnacondaCLI, bob: AnacondaCLI, uploaded: Uploaded
) -> None:
    # srch-alpha: conda linux-64 "Zebra crossing toolkit"; srch-beta: a wheel "Quokka helpers for Python";
    # srch-hidden: alice's private conda package "Zebra secrets".
    by_name, by_summary, conda_only, pypi_only, platform = parallel(
        lambda: bob.run("search", "srch", check=False),
        lambda: bob.run("search", "zebra", check=False),
        lambda: bob.run("search", "-t", "conda", "srch", check=False),
        lambda: bob.run("search", "-t", "pypi", "srch", check=False),
        lambda: bob.run("search", "-p", "linux-64", "srch", check=False),
    )
    assert search_hits(ok(by_name, "search srch")) == {"alice/srch-alpha", "alice/srch-beta"}, output(by_name)
    assert "Found 2 packages" in output(by_name)
    assert search_hits(ok(by_summary, "search zebra")) == {"alice/srch-alpha"}, output(by_summary)
    assert search_hits(ok(conda_only, "search -t conda")) == {"alice/srch-alpha"}, output(conda_only)
    assert search_hits(ok(pypi_only, "search -t pypi")) == {"alice/srch-beta"}, output(pypi_only)
    assert search_hits(ok(platform, "search -p linux-64")) == {"alice/srch-alpha"}, output(platform)

    with http(server) as c:
        names = {p["full_name"] for p in c.get("/api/search", params={"name": "srch"}).json()}
        assert names == {"alice/srch-alpha", "alice/srch-beta"}
    with http(server, alice.token()) as c:  # the owner finds her own private package
        names = {p["full_name"] for p in c.get("/api/search", params={"name": "zebra"}).json()}
        assert names == {"alice/srch-alpha", "alice/srch-hidden"}
