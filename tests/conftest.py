"""Shared fixtures. The database under test is chosen by ``PACKYARD_TEST_DATABASE``: ``sqlite`` (default)
or ``postgresql`` (the local server on 127.0.0.1:5432; each test module gets a fresh database).
In CI (``CI=true``) a missing PostgreSQL is a failure, never a skip."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import LiveServer, drop_postgres_database, fresh_postgres_url, postgres_available

DATABASE = os.environ.get("PACKYARD_TEST_DATABASE", "sqlite").lower()
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_report_header() -> str:
    return f"packyard test database: {DATABASE}"


def _database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if DATABASE == "sqlite":
        yield None
        return
    if DATABASE != "postgresql":
        raise pytest.UsageError(f"PACKYARD_TEST_DATABASE must be sqlite or postgresql, not {DATABASE!r}")
    if not postgres_available():
        if IN_CI:
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is not reachable (required in CI)")
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    prefix = "packyard_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:30]
    url = fresh_postgres_url(prefix)
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="module")
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A fresh database for this test module: None means SQLite in the server's data folder."""
    yield from _database_url(request)


@pytest.fixture
def fresh_database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A fresh database for one test."""
    yield from _database_url(request)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[LiveServer]:
    """One live packyard per test module, with users alice (superuser: no) and bob."""
    data_dir = tmp_path_factory.mktemp("server")
    with LiveServer(data_dir, database_url=database_url) as srv:
        srv.create_user("alice", "alice-password", email="alice@example.com")
        srv.create_user("bob", "bob-password")
        yield srv


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work")
