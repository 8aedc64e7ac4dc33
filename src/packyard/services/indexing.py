"""The write side of conda indexes: every change to what a channel lists is an ``IndexEvent``, written in
the same transaction as the change. Cost per change: one row lock and one insert per (label, subdir),
whatever the size of the channel."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from packyard.storage.db import repositories as repo
from packyard.storage.db.models import File


PYPI_INDEX = "pypi"  # the index kind of Python files (conda indexes are named by their subdir)


def index_kind(file: File) -> str | None:
    """Which index lists this file: its conda subdir, the PyPI index, or none (other file types)."""
    if file.record is None:
        return None
    return PYPI_INDEX if file.type == "pypi" else file.subdir


def publish(s: Session, file: File, labels: Iterable[str]) -> None:
    """List a file in the indexes of ``labels``."""
    _emit(s, file, labels, file.record)


def unpublish(s: Session, file: File, labels: Iterable[str]) -> None:
    """Stop listing a file in the indexes of ``labels``."""
    _emit(s, file, labels, None)


def _emit(s: Session, file: File, labels: Iterable[str], record: str | None) -> None:
    kind = index_kind(file)
    if kind is None:
        return
    for label in sorted(set(labels)):  # one lock order for every writer: no deadlocks between uploads
        index = repo.lock_index(s, file.owner_id, label, kind)
        repo.add_index_event(s, index, file.filename, file.package_id, record)


def touch_owner(s: Session, owner_id: int) -> None:
    """Make every index of an owner re-check package access (a package's visibility changed)."""
    for index in repo.indexes_of_owner(s, owner_id):
        locked = repo.lock_index(s, owner_id, index.label, index.subdir)
        repo.add_index_event(s, locked, "", 0, None)
