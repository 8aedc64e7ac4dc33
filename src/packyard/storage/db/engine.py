"""Engine construction: SQLite gets WAL and foreign keys; PostgreSQL a pre-pinged pool."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers (index requests) proceed while an upload commits; foreign keys make
            # ON DELETE CASCADE real. busy_timeout spreads concurrent writers instead of failing them.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # pysqlite's own transaction handling defers BEGIN until the first write, which lets two writers
        # both read and then deadlock on upgrade; emit BEGIN ourselves (documented SQLAlchemy recipe).
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        # A writing unit of work starts with BEGIN IMMEDIATE: in WAL mode a transaction that read first and
        # writes later fails at once (SQLITE_BUSY_SNAPSHOT) if another writer committed in between, while
        # IMMEDIATE waits for the write lock up front (busy_timeout) and then cannot fail that way.
        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get("packyard_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
