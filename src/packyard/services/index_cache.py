"""Per-worker caches of index records, kept current from the database's event log.

An index (conda: owner × label × subdir; PyPI: owner × label × "pypi") has a ``serial`` in the database:
the id of the last event applied to it. A worker holds the records it has applied and their serial. To
serve, it reads the serial (one indexed query); when the database is ahead, it applies only the events it
has not seen. So no worker needs to be told of a change, and an upload never pays for its channel's size.
"""

from __future__ import annotations

import hashlib
import threading

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zstandard

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from packyard.storage.db import repositories as repo

_MAX_VARIANTS = 16  # distinct views kept per index (public, owner, a group member, ...)


@dataclass
class IndexBytes:
    body: bytes
    etag: str
    last_modified: float
    _zst: bytes | None = None

    @property
    def has_zst(self) -> bool:
        return self._zst is not None

    def zst(self) -> bytes:
        # One zstd frame for the whole document: py-rattler reads only the first frame of a file.
        if self._zst is None:
            self._zst = zstandard.ZstdCompressor(level=3).compress(self.body)
        return self._zst


def etag(data: bytes, kind: str) -> str:
    return '"' + kind + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


@dataclass
class CachedIndex:
    serial: int
    records: dict[str, tuple[int, str]]  # file name → (package id, serialized record)
    access: dict[int, str] = field(default_factory=dict)  # package id → access level
    changed: set[str] = field(default_factory=set)  # file names changed by the last refresh
    views: dict[Any, Any] = field(default_factory=dict)  # derived bytes, dropped or patched on change
    lock: threading.Lock = field(default_factory=threading.Lock)

    def view(self, key: Any, build: Callable[[], Any]) -> Any:
        """A derived value (e.g. one visibility variant of the document), built once per serial."""
        found = self.views.get(key)
        if found is None:
            with self.lock:
                found = self.views.get(key)
                if found is None:
                    if len(self.views) >= _MAX_VARIANTS:
                        self.views.clear()
                    found = self.views[key] = build()
        return found


def probe_serial(engine: Engine, owner_login: str, label: str, kind: str) -> tuple[int, int, int] | None:
    """(owner id, index id, serial) with one indexed query on a plain connection (an ORM session costs about
    as much again); None for an unknown owner. On PostgreSQL in autocommit: no BEGIN/ROLLBACK round trips
    (+50% pages/s). Not on SQLite, whose connections keep the isolation settings of storage/db/engine.py."""
    probe = {"isolation_level": "AUTOCOMMIT"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**probe) as conn:
        return repo.index_serial(conn, owner_login, label, kind)  # type: ignore[arg-type]


def anonymous_hidden(index: CachedIndex) -> frozenset[int]:
    """The packages an anonymous caller may not see in this index (every non-public one), once per serial."""
    return index.view("anonymous-hidden",  # type: ignore[no-any-return]
                      lambda: frozenset(p for p, a in index.access.items() if a != "public"))


class IndexCache:
    def __init__(self, on_change: Callable[[CachedIndex], None] | None = None) -> None:
        self._indexes: dict[int, CachedIndex] = {}
        self._lock = threading.Lock()
        # What to drop from ``views`` after a refresh; default: everything.
        self._on_change = on_change or (lambda index: index.views.clear())

    def cached(self, index_id: int, serial: int) -> CachedIndex | None:
        """The index if this worker holds it as of ``serial`` (or newer), without a query; else None."""
        index = self._indexes.get(index_id)
        return index if index is not None and index.serial >= serial else None

    def current(self, s: Session, index_id: int, owner_id: int, label: str, kind: str, serial: int) -> CachedIndex:
        """The index's records as of ``serial`` (or newer)."""
        with self._lock:
            index = self._indexes.get(index_id)
            if index is None:
                index = self._indexes[index_id] = CachedIndex(serial=-1, records={})
        if index.serial >= serial:
            return index
        with index.lock:
            if index.serial >= serial:  # another thread caught up while we waited
                return index
            changed: set[str] = set()
            if index.serial < 0:
                # Cold start: the serial is read *before* the records, so events that commit in between are
                # replayed below; replaying an add or a remove twice is harmless.
                start = serial
                records = {fn: (pid, rec) for fn, pid, rec in repo.index_records(s, owner_id, label, kind)}
                s.rollback()  # a fresh snapshot for the events (PostgreSQL read committed; SQLite WAL)
                serial = max(serial, repo.index_serial_by_id(s, index_id))
                changed = set(records)
            else:
                start, records = index.serial, dict(index.records)
            for filename, package_id, record in repo.index_events_since(s, index_id, start, serial):
                if not filename:
                    continue  # a "touch": access to packages changed; recomputed below
                changed.add(filename)
                if record is None:
                    records.pop(filename, None)
                else:
                    records[filename] = (package_id or 0, record)
            access = {pid: a for pid, (a, _) in repo.package_access(s, list({p for p, _ in records.values()})).items()}
            if access != index.access:
                changed |= set(records)  # a visibility change can affect every derived view
            index.records, index.access, index.changed = records, access, changed
            index.serial = serial
            self._on_change(index)
        return index
