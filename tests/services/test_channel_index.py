"""The channel index at service level, on the real database under test (SQLite file or PostgreSQL):
uploads through UploadService (stage → store → commit) show up in ChannelService.repodata at once,
removals likewise, and several ChannelService instances ("workers") over one database stay in step through
the index serial and event log."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from packyard.container import Container
from packyard.domain.permissions import ANONYMOUS, Principal
from packyard.errors import AlreadyExists, InvalidDigest, NotFound, UploadExpired
from packyard.services.channels import IndexBytes
from packyard.settings import Settings
from packyard.storage.db import schema
from support.condapkg import build_conda_package, read_index_json

INSTALL_TIME_FIELDS = {
    "arch",
    "platform",
    "has_prefix",
    "mtime",
    "ucs",
    "requires_features",
    "binstar",
    "target-triplet",
    "machine",
    "operatingsystem",
}


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords are not what is tested here: argon2 with its default cost takes most of a second."""
    from argon2 import PasswordHasher

    from packyard.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def settings(tmp_path: Path, fresh_database_url: str | None) -> Settings:
    s = Settings(data_dir=tmp_path / "data", database_url=fresh_database_url)
    schema.upgrade(s.resolved_database_url())
    return s


def _container(settings: Settings) -> Iterator[Container]:
    c = Container(settings)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def worker(settings: Settings) -> Iterator[Container]:
    yield from _container(settings)


@pytest.fixture
def worker_b(settings: Settings) -> Iterator[Container]:
    """A second composition root over the same database and blobs: another worker process's services."""
    yield from _container(settings)


@pytest.fixture
def alice(worker: Container) -> Principal:
    worker.accounts.create_user("alice", "alice-password", email="alice@example.com")
    return worker.accounts.principal_for_password("alice", "alice-password")


@pytest.fixture
def bob(worker: Container) -> Principal:
    worker.accounts.create_user("bob", "bob-password")
    return worker.accounts.principal_for_password("bob", "bob-password")


@pytest.fixture
def pkgdir(tmp_path: Path) -> Path:
    return tmp_path / "pkgs"


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def upload(c: Container, who: Principal, path: Path, labels: list[str] | None = None) -> Any:
    """What the anaconda client does: package and release if missing, then stage → store → commit."""
    index = read_index_json(path)
    name, version, subdir = index["name"], index["version"], index["subdir"]
    assert who.login
    try:
        c.packages.create(who, who.login, name)
    except AlreadyExists:
        pass
    try:
        c.packages.create_release(who, who.login, name, version, {})
    except AlreadyExists:
        pass
    basename = f"{subdir}/{path.name}"
    data = path.read_bytes()
    body = {
        "distribution_type": "conda",
        "attrs": index,
        "channels": labels or [],
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    ticket = c.uploads.stage(who, who.login, name, version, basename, body)
    with open(path, "rb") as fh:
        c.uploads.store(ticket.dist_id, ticket.secret, fh, str(len(data)), content_md5(data))
    _, f = c.uploads.commit(who, who.login, name, version, basename, ticket.dist_id)
    return f


def doc(data: IndexBytes) -> dict[str, Any]:
    return json.loads(data.body)  # type: ignore[no-any-return]


def files_in(data: IndexBytes) -> set[str]:
    d = doc(data)
    return set(d["packages"]) | set(d["packages.conda"])


def listed(
    c: Container,
    who: Principal = ANONYMOUS,
    owner: str = "alice",
    label: str = "main",
    subdir: str = "noarch",
) -> set[str]:
    return files_in(c.channels.repodata(who, owner, label, subdir))


# -- one worker


def test_committed_upload_is_in_repodata_at_once(worker: Container, alice: Principal, pkgdir: Path) -> None:
    empty = worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    assert doc(empty)["packages"] == {} and doc(empty)["packages.conda"] == {}

    lib = build_conda_package(pkgdir, "hello-lib", "1.0", fmt="conda")
    app = build_conda_package(
        pkgdir,
        "hello-app",
        "0.1",
        depends=["hello-lib >=1.0"],
        extra_index={"constrains": ["hello-extra <0.2"]},
    )
    native = build_conda_package(pkgdir, "hello-native", "2.0", subdir="linux-64", fmt="conda")
    for path in (lib, app, native):
        upload(worker, alice, path)

    noarch = worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    d = doc(noarch)
    assert d["info"] == {"subdir": "noarch"} and d["repodata_version"] == 1
    assert set(d["packages"]) == {app.name} and set(d["packages.conda"]) == {lib.name}
    assert noarch.etag != empty.etag
    assert json.loads(zstandard.ZstdDecompressor().decompress(noarch.zst())) == d

    for path, section in ((app, d["packages"]), (lib, d["packages.conda"])):
        data = path.read_bytes()
        index = read_index_json(path)
        expected = {k: v for k, v in index.items() if k not in INSTALL_TIME_FIELDS}
        expected.update(
            md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
        )
        assert section[path.name] == expected

    linux = worker.channels.repodata(ANONYMOUS, "alice", "main", "linux-64")
    assert doc(linux)["info"]["subdir"] == "linux-64"
    assert files_in(linux) == {native.name}
    # Same index read twice without a change: the very same prepared bytes.
    again = worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    assert (again.body, again.etag) == (noarch.body, noarch.etag)

    # The package file behind a record.
    f = worker.channels.channel_file(ANONYMOUS, "alice", "main", "noarch", app.name)
    assert f.sha256 == hashlib.sha256(app.read_bytes()).hexdigest()
    with worker.blobs.open(f.sha256) as fh:
        assert fh.read() == app.read_bytes()


def test_unknown_owner_subdir_and_file_are_not_found(
    worker: Container, alice: Principal, pkgdir: Path
) -> None:
    upload(worker, alice, build_conda_package(pkgdir, "pkg", "1.0"))
    with pytest.raises(NotFound):
        worker.channels.repodata(ANONYMOUS, "nobody", "main", "noarch")
    with pytest.raises(NotFound):
        worker.channels.repodata(ANONYMOUS, "alice", "main", "linux-65")
    with pytest.raises(NotFound):
        worker.channels.channeldata(ANONYMOUS, "nobody", "main")
    with pytest.raises(NotFound):
        worker.channels.channel_file(ANONYMOUS, "alice", "main", "noarch", "missing-1.0-0.tar.bz2")
    with pytest.raises(NotFound):
        worker.channels.channel_file(ANONYMOUS, "alice", "main", "linux-64", "pkg-1.0-0.tar.bz2")
    with pytest.raises(NotFound):
        worker.channels.channel_file(ANONYMOUS, "alice", "dev", "noarch", "pkg-1.0-0.tar.bz2")
    # A user without uploads, and an unknown label of a known user: empty indexes, not errors.
    worker.accounts.create_user("carol", "carol-password")
    assert listed(worker, owner="carol") == set()
    assert listed(worker, label="nosuchlabel") == set()


def test_labels_are_separate_indexes(worker: Container, alice: Principal, pkgdir: Path) -> None:
    dev_only = build_conda_package(pkgdir, "devtool", "1.0")
    both = build_conda_package(pkgdir, "shared", "1.0", fmt="conda")
    main_only = build_conda_package(pkgdir, "stable", "1.0")
    upload(worker, alice, dev_only, ["dev"])
    upload(worker, alice, both, ["main", "dev"])
    upload(worker, alice, main_only)
    assert listed(worker) == {both.name, main_only.name}
    assert listed(worker, label="dev") == {dev_only.name, both.name}
    cd = json.loads(worker.channels.channeldata(ANONYMOUS, "alice", "dev").body)
    assert set(cd["packages"]) == {"devtool", "shared"}


def test_removals_disappear_at_once(worker: Container, alice: Principal, pkgdir: Path) -> None:
    a1 = build_conda_package(pkgdir, "gone", "1.0")
    a2 = build_conda_package(pkgdir, "gone", "2.0", fmt="conda")
    b = build_conda_package(pkgdir, "other", "1.0")
    for path in (a1, a2, b):
        upload(worker, alice, path)
    before = worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    assert files_in(before) == {a1.name, a2.name, b.name}

    worker.packages.delete_file(alice, "alice", "gone", "1.0", f"noarch/{a1.name}")
    after_file = worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    assert files_in(after_file) == {a2.name, b.name}
    assert after_file.etag != before.etag
    sha = hashlib.sha256(a1.read_bytes()).hexdigest()
    assert not worker.blobs.exists(sha), "the blob of a removed file is deleted"
    with pytest.raises(NotFound):
        worker.channels.channel_file(ANONYMOUS, "alice", "main", "noarch", a1.name)

    worker.packages.delete(alice, "alice", "gone")
    assert listed(worker) == {b.name}
    assert "gone" not in json.loads(worker.channels.channeldata(ANONYMOUS, "alice", "main").body)["packages"]

    worker.packages.delete_release(alice, "alice", "other", "1.0")
    assert listed(worker) == set()
    # Emptied again: the same document as a never-used index.
    emptied = doc(worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch"))
    never_used = doc(worker.channels.repodata(ANONYMOUS, "alice", "main", "win-64"))
    assert emptied == {**never_used, "info": {"subdir": "noarch"}}


def test_refused_bytes_leave_the_index_untouched(worker: Container, alice: Principal, pkgdir: Path) -> None:
    path = build_conda_package(pkgdir, "checked", "1.0")
    data = path.read_bytes()
    worker.packages.create(alice, "alice", "checked")
    worker.packages.create_release(alice, "alice", "checked", "1.0", {})
    before = worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    body = {"distribution_type": "conda", "attrs": read_index_json(path), "channels": []}
    basename = f"noarch/{path.name}"

    ticket = worker.uploads.stage(alice, "alice", "checked", "1.0", basename, body)
    with open(path, "rb") as fh, pytest.raises(InvalidDigest):
        worker.uploads.store(ticket.dist_id, ticket.secret, fh, str(len(data)), content_md5(b"other bytes"))
    with open(path, "rb") as fh, pytest.raises(InvalidDigest):
        worker.uploads.store(ticket.dist_id, ticket.secret, fh, str(len(data) + 1), content_md5(data))
    with pytest.raises(UploadExpired):
        worker.uploads.commit(alice, "alice", "checked", "1.0", basename, ticket.dist_id)
    assert worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch").etag == before.etag

    # The same ticket still accepts the right bytes afterwards.
    with open(path, "rb") as fh:
        worker.uploads.store(ticket.dist_id, ticket.secret, fh, str(len(data)), content_md5(data))
    worker.uploads.commit(alice, "alice", "checked", "1.0", basename, ticket.dist_id)
    assert listed(worker) == {path.name}


# -- several workers over one database


def test_two_workers_see_each_others_changes(
    worker: Container, worker_b: Container, alice: Principal, pkgdir: Path
) -> None:
    a, b = worker, worker_b
    seed = build_conda_package(pkgdir, "seed", "1.0")
    upload(a, alice, seed)
    # Both workers now hold this index: what follows is applied from the event log, not rebuilt.
    assert listed(a) == listed(b) == {seed.name}

    x = build_conda_package(pkgdir, "from-a", "1.0")
    upload(a, alice, x)
    assert listed(b) == {seed.name, x.name}, "worker B sees A's upload on its next request"

    y = build_conda_package(pkgdir, "from-b", "1.0", fmt="conda")
    upload(b, alice, y)
    assert listed(a) == {seed.name, x.name, y.name}

    b.packages.delete_file(alice, "alice", "from-a", "1.0", f"noarch/{x.name}")
    b.packages.delete(alice, "alice", "seed")
    assert listed(a) == {y.name}, "worker A sees B's removals"

    # Several changes between two reads of a warm worker are all applied, in order.
    z1 = build_conda_package(pkgdir, "burst", "1.0")
    z2 = build_conda_package(pkgdir, "burst", "2.0")
    upload(b, alice, z1)
    upload(b, alice, z2)
    b.packages.delete_file(alice, "alice", "burst", "1.0", f"noarch/{z1.name}")
    upload(b, alice, build_conda_package(pkgdir / "again", "from-a", "1.0"))  # re-added after removal
    assert listed(a) == {y.name, z2.name, x.name}

    # A change in another label or subdir does not disturb this one, and is seen there.
    dev = build_conda_package(pkgdir, "dev-only", "1.0", subdir="linux-64")
    upload(a, alice, dev, ["dev"])
    assert listed(b, label="dev", subdir="linux-64") == {dev.name}
    assert listed(b) == {y.name, z2.name, x.name}

    # Warm (incremental) and cold (built from the files) agree byte for byte.
    ra = a.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    rb = b.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    cold = Container(a.settings)
    try:
        rc = cold.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    finally:
        cold.close()
    assert ra.body == rb.body == rc.body
    assert ra.etag == rb.etag == rc.etag


def test_private_package_is_hidden_from_others_on_every_worker(
    worker: Container, worker_b: Container, alice: Principal, bob: Principal, pkgdir: Path
) -> None:
    public = build_conda_package(pkgdir, "open", "1.0")
    secret = build_conda_package(pkgdir, "secret", "1.0", fmt="conda")
    upload(worker, alice, public)
    upload(worker, alice, secret)
    for c in (worker, worker_b):  # both warm, everything public
        assert listed(c) == listed(c, bob) == {public.name, secret.name}

    worker.packages.update(alice, "alice", "secret", {"access": "private"})
    for c in (worker, worker_b):
        assert listed(c) == {public.name}, "anonymous"
        assert listed(c, bob) == {public.name}, "another user"
        assert listed(c, alice) == {public.name, secret.name}, "the owner"
        cd = json.loads(c.channels.channeldata(ANONYMOUS, "alice", "main").body)
        assert set(cd["packages"]) == {"open"}
        assert set(json.loads(c.channels.channeldata(alice, "alice", "main").body)["packages"]) == {
            "open",
            "secret",
        }
        with pytest.raises(NotFound):
            c.channels.channel_file(ANONYMOUS, "alice", "main", "noarch", secret.name)
        with pytest.raises(NotFound):
            c.channels.channel_file(bob, "alice", "main", "noarch", secret.name)
        assert c.channels.channel_file(alice, "alice", "main", "noarch", secret.name).filename == secret.name
    # Different views have different ETags (a cache must not hand one caller's view to another).
    assert (
        worker.channels.repodata(ANONYMOUS, "alice", "main", "noarch").etag
        != worker.channels.repodata(alice, "alice", "main", "noarch").etag
    )

    # A later upload into a private package stays private too.
    secret2 = build_conda_package(pkgdir, "secret", "2.0")
    upload(worker_b, alice, secret2)
    assert listed(worker) == {public.name}
    assert listed(worker, alice) == {public.name, secret.name, secret2.name}

    worker_b.packages.update(alice, "alice", "secret", {"access": "public"})
    for c in (worker, worker_b):
        assert listed(c) == {public.name, secret.name, secret2.name}


def test_authenticated_access_level(
    worker: Container, alice: Principal, bob: Principal, pkgdir: Path
) -> None:
    pkg = build_conda_package(pkgdir, "members", "1.0")
    upload(worker, alice, pkg)
    worker.packages.update(alice, "alice", "members", {"access": "authenticated"})
    assert listed(worker) == set()
    assert listed(worker, bob) == listed(worker, alice) == {pkg.name}


def test_concurrent_writers_on_two_workers_and_a_polling_reader_agree_with_a_cold_rebuild(
    settings: Settings, worker: Container, worker_b: Container, alice: Principal, pkgdir: Path
) -> None:
    """Event ids must grow in commit order per index, or a reader that catches up while writes are in flight
    skips an event for good. Three workers: two upload at once, one keeps reading all along."""
    upload(worker, alice, build_conda_package(pkgdir, "seed", "1.0"))
    reader = Container(settings)
    errors: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                reader.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
            except Exception as exc:  # noqa: BLE001 - collected, asserted empty below
                errors.append(repr(exc))

    def write(c: Container, tag: str) -> None:
        for i in range(6):
            try:
                upload(c, alice, build_conda_package(pkgdir / tag, f"{tag}{i}", "1.0"))
            except Exception as exc:  # noqa: BLE001 - collected, asserted empty below
                errors.append(f"{tag}{i}: {exc!r}")

    readers = [threading.Thread(target=poll) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(c, tag)) for c, tag in ((worker, "a"), (worker_b, "b"))]
    try:
        for th in readers + writers:
            th.start()
        for th in writers:
            th.join()
    finally:
        stop.set()
        for th in readers:
            th.join()
    assert errors == []
    warm = reader.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    reader.close()
    cold = Container(settings)
    try:
        rebuilt = cold.channels.repodata(ANONYMOUS, "alice", "main", "noarch")
    finally:
        cold.close()
    assert len(files_in(rebuilt)) == 13
    assert warm.body == rebuilt.body
