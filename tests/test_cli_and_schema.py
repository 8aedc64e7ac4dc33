"""The `packyard` command and the schema: migrations apply on an empty database and match the models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.util import CommandError
from sqlalchemy import Column, Integer, Table, inspect

from packyard.settings import Settings
from packyard.storage.db import schema
from packyard.storage.db.base import Base
from packyard.storage.db.engine import make_engine


def packyard(data_dir: Path, db_url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKYARD_")}
    env["PACKYARD_DATA_DIR"] = str(data_dir)
    if db_url:
        env["PACKYARD_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "packyard", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_user_create_then_duplicate_and_bad_names(tmp_path: Path, fresh_database_url: str | None) -> None:
    first = packyard(tmp_path, fresh_database_url, "user", "create", "carol", "--password", "carol-password")
    assert first.returncode == 0, first.stderr
    assert "created user carol" in first.stderr
    again = packyard(tmp_path, fresh_database_url, "user", "create", "Carol", "--password", "carol-password")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    bad = packyard(tmp_path, fresh_database_url, "user", "create", "../etc", "--password", "carol-password")
    assert bad.returncode == 1 and "invalid name" in bad.stderr
    short = packyard(tmp_path, fresh_database_url, "user", "create", "dave", "--password", "short")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr


def test_first_start_creates_data_folder_and_schema(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    result = packyard(data_dir, None, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (data_dir / "packyard.db").exists()
    tables = set(inspect(make_engine(Settings(data_dir=data_dir).resolved_database_url())).get_table_names())
    assert {"owners", "packages", "releases", "files", "labels", "tokens", "index_events"} <= tables


def test_db_check_passes_on_head_and_catches_drift(tmp_path: Path, fresh_database_url: str | None) -> None:
    ok = packyard(tmp_path, fresh_database_url, "db", "check")
    assert ok.returncode == 0, ok.stderr
    assert "agree" in ok.stderr
    # A model change without a migration is drift: `db check` must notice it.
    url = Settings(data_dir=tmp_path, database_url=fresh_database_url).resolved_database_url()
    extra = Table("not_migrated", Base.metadata, Column("id", Integer, primary_key=True))
    try:
        with pytest.raises(CommandError):
            schema.check(url)
    finally:
        Base.metadata.remove(extra)
    schema.check(url)


def test_superuser_administration_commands(tmp_path: Path, fresh_database_url: str | None) -> None:
    from packyard.container import Container
    from packyard.errors import Unauthenticated

    assert packyard(tmp_path, fresh_database_url, "user", "create", "erin", "--password", "erin-password").returncode == 0
    reset = packyard(tmp_path, fresh_database_url, "user", "reset-password", "erin", "--password", "new-password")
    assert reset.returncode == 0, reset.stderr
    promoted = packyard(tmp_path, fresh_database_url, "user", "set-superuser", "erin")
    assert promoted.returncode == 0, promoted.stderr
    listing = packyard(tmp_path, fresh_database_url, "user", "list")
    assert "erin" in listing.stdout and "yes" in listing.stdout
    missing = packyard(tmp_path, fresh_database_url, "user", "disable", "nobody")
    assert missing.returncode == 1 and "does not exist" in missing.stderr

    c = Container(Settings(data_dir=tmp_path, database_url=fresh_database_url))
    try:
        assert c.accounts.authenticate_password("erin", "new-password").is_superuser
        with pytest.raises(Unauthenticated):
            c.accounts.authenticate_password("erin", "erin-password")
    finally:
        c.close()
