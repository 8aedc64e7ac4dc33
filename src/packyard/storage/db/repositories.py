"""Queries, one function per question the services ask. The only module with ``select()`` statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from packyard.storage.db.base import utcnow
from packyard.storage.db.models import (
    ChannelIndex,
    File,
    FileLabel,
    IndexEvent,
    Label,
    Owner,
    Package,
    Release,
    StagedUpload,
    Token,
)


def owner_by_login(s: Session, login: str) -> Owner | None:
    return s.scalar(select(Owner).where(Owner.login == login.lower()))


def token_by_hash(s: Session, secret_hash: str) -> Token | None:
    return s.scalar(select(Token).where(Token.secret_hash == secret_hash))


def tokens_of(s: Session, user_id: int) -> Sequence[Token]:
    return s.scalars(
        select(Token).where(Token.user_id == user_id, Token.revoked_at.is_(None)).order_by(Token.id)
    ).all()


def token_by_name(s: Session, user_id: int, name: str, acts_for_id: int | None = None) -> Token | None:
    return s.scalar(
        select(Token).where(
            Token.user_id == user_id,
            Token.name == name,
            Token.revoked_at.is_(None),
            Token.acts_for_id.is_(None) if acts_for_id is None else Token.acts_for_id == acts_for_id,
        )
    )


def package(s: Session, owner_id: int, name: str) -> Package | None:
    return s.scalar(select(Package).where(Package.owner_id == owner_id, Package.name_key == name.lower()))


def packages_of(s: Session, owner_id: int) -> Sequence[Package]:
    return s.scalars(select(Package).where(Package.owner_id == owner_id).order_by(Package.name_key)).all()


def search_packages(s: Session, query: str, package_type: str | None, limit: int = 200) -> Sequence[Package]:
    pattern = f"%{query.lower()}%"
    stmt = (
        select(Package)
        .where(or_(Package.name_key.like(pattern), func.lower(Package.summary).like(pattern)))
        .order_by(Package.name_key, Package.id)
        .limit(limit)
    )
    rows = s.scalars(stmt).all()
    if package_type:
        rows = [p for p in rows if package_type in (p.package_types or [])]
    return rows


def releases_of(s: Session, package_id: int) -> Sequence[Release]:
    return s.scalars(select(Release).where(Release.package_id == package_id).order_by(Release.id)).all()


def release(s: Session, package_id: int, version: str) -> Release | None:
    return s.scalar(select(Release).where(Release.package_id == package_id, Release.version == version))


def files_of_package(s: Session, package_id: int) -> Sequence[File]:
    return s.scalars(select(File).where(File.package_id == package_id).order_by(File.id)).all()


def files_of_release(s: Session, release_id: int) -> Sequence[File]:
    return s.scalars(select(File).where(File.release_id == release_id).order_by(File.id)).all()


def file(s: Session, package_id: int, basename: str) -> File | None:
    """A file of any release of the package (Python file names carry their version)."""
    return s.scalar(select(File).where(File.package_id == package_id, File.basename == basename).limit(1))


def release_file(s: Session, release_id: int, basename: str) -> File | None:
    return s.scalar(select(File).where(File.release_id == release_id, File.basename == basename))


def conda_file_in_owner(s: Session, owner_id: int, subdir: str, filename: str) -> File | None:
    return s.scalar(
        select(File).where(File.owner_id == owner_id, File.subdir == subdir, File.filename == filename)
    )


def file_in_channel(s: Session, owner_id: int, label: str, subdir: str | None, filename: str) -> File | None:
    """The file a channel or index URL names; ``subdir`` None means a Python file of the PyPI index."""
    where = (File.subdir == subdir) if subdir is not None else (File.type == "pypi")
    return s.scalar(
        select(File)
        .join(FileLabel, FileLabel.file_id == File.id)
        .join(Label, Label.id == FileLabel.label_id)
        .where(File.owner_id == owner_id, where, File.filename == filename, Label.name == label)
    )


def label(s: Session, owner_id: int, name: str) -> Label | None:
    return s.scalar(select(Label).where(Label.owner_id == owner_id, Label.name == name))


def staged_upload(s: Session, dist_id: str, lock: bool = False) -> StagedUpload | None:
    stmt = select(StagedUpload).where(StagedUpload.id == dist_id)
    return s.scalar(stmt.with_for_update() if lock else stmt)


def sha256_referenced(s: Session, sha256: str) -> bool:
    in_files = s.scalar(select(func.count()).select_from(File).where(File.sha256 == sha256))
    in_stage = s.scalar(
        select(func.count()).select_from(StagedUpload).where(
            StagedUpload.blob_sha256 == sha256, StagedUpload.state != "committed"
        )
    )
    return bool(in_files or in_stage)


# -- conda indexes ----------------------------------------------------------------------------------


def ensure_label(s: Session, owner_id: int, name: str) -> Label:
    """The label, created if missing; safe when concurrent uploads create the same label at once."""
    values = {"owner_id": owner_id, "name": name, "is_locked": False, "created_at": utcnow()}
    dialect = s.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(Label).values(**values)
    s.execute(ins.on_conflict_do_nothing(index_elements=["owner_id", "name"]))
    found = label(s, owner_id, name)
    assert found is not None
    return found


def lock_index(s: Session, owner_id: int, label_name: str, subdir: str) -> ChannelIndex:
    """Get or create the index row and lock it for this transaction.

    The lock is taken *before* an event id is allocated, so event ids on one index grow in commit order:
    a reader that has seen serial N can never later meet a committed event below N.
    """
    values = {"owner_id": owner_id, "label": label_name, "subdir": subdir, "serial": 0}
    dialect = s.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(ChannelIndex).values(**values)
    s.execute(ins.on_conflict_do_nothing(index_elements=["owner_id", "label", "subdir"]))
    stmt = select(ChannelIndex).where(
        ChannelIndex.owner_id == owner_id, ChannelIndex.label == label_name, ChannelIndex.subdir == subdir
    )
    index = s.scalar(stmt.with_for_update())
    assert index is not None
    if dialect == "sqlite":
        # SQLite has no row locks; the write below takes the database write lock now instead.
        s.execute(update(ChannelIndex).where(ChannelIndex.id == index.id).values(serial=ChannelIndex.serial))
    return index


def add_index_event(s: Session, index: ChannelIndex, filename: str, package_id: int, record: str | None) -> None:
    event = IndexEvent(index_id=index.id, filename=filename, package_id=package_id, record=record)
    s.add(event)
    s.flush()
    index.serial = event.id


# Built once: this query runs on every index request (the 304 path too), and building the statement cost
# about as much as executing it (benchmarks/repodata_serving.py).
_INDEX_SERIAL = (
    select(Owner.id, ChannelIndex.id, ChannelIndex.serial)
    .outerjoin(
        ChannelIndex,
        (ChannelIndex.owner_id == Owner.id)
        & (ChannelIndex.label == bindparam("label_name"))
        & (ChannelIndex.subdir == bindparam("subdir")),
    )
    .where(Owner.login == bindparam("login"))
)


def index_serial(s: Session, owner_login: str, label_name: str, subdir: str) -> tuple[int, int, int] | None:
    """(owner id, index id, serial) or (owner id, 0, 0) when the owner has no such index; None: no owner."""
    row = s.execute(
        _INDEX_SERIAL, {"label_name": label_name, "subdir": subdir, "login": owner_login.lower()}
    ).first()
    if row is None:
        return None
    return row[0], row[1] or 0, row[2] or 0


def index_records(s: Session, owner_id: int, label_name: str, kind: str) -> list[tuple[str, int, str]]:
    """(file name, package id, record) of the files an index lists; ``kind`` is a conda subdir or "pypi"."""
    in_index = File.type == "pypi" if kind == "pypi" else (File.subdir == kind) & (File.type != "pypi")
    rows = s.execute(
        select(File.filename, File.package_id, File.record)
        .join(FileLabel, FileLabel.file_id == File.id)
        .join(Label, Label.id == FileLabel.label_id)
        .where(File.owner_id == owner_id, in_index, Label.name == label_name)
    ).all()
    return [(fn, pid, rec) for fn, pid, rec in rows if rec is not None]


def index_events_since(s: Session, index_id: int, after: int, upto: int) -> list[tuple[str, int | None, str | None]]:
    rows = s.execute(
        select(IndexEvent.filename, IndexEvent.package_id, IndexEvent.record)
        .where(IndexEvent.index_id == index_id, IndexEvent.id > after, IndexEvent.id <= upto)
        .order_by(IndexEvent.id)
    ).all()
    return [(fn, pid, rec) for fn, pid, rec in rows]


def package_access(s: Session, package_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """package id → (access, name) for the given ids."""
    found: dict[int, tuple[str, str]] = {}
    ids = list(package_ids)
    for start in range(0, len(ids), 5000):  # SQLite caps a statement's parameters (32,766)
        chunk = ids[start:start + 5000]
        rows = s.execute(select(Package.id, Package.access, Package.name).where(Package.id.in_(chunk))).all()
        found.update({pid: (access, name) for pid, access, name in rows})
    return found


def owner_subdirs(s: Session, owner_id: int, label_name: str) -> list[str]:
    rows = s.execute(
        select(ChannelIndex.subdir).where(ChannelIndex.owner_id == owner_id, ChannelIndex.label == label_name)
    ).all()
    return [r[0] for r in rows]


def owner_index_serials(s: Session, owner_id: int, label_name: str) -> int:
    return int(
        s.scalar(
            select(func.coalesce(func.max(ChannelIndex.serial), 0)).where(
                ChannelIndex.owner_id == owner_id, ChannelIndex.label == label_name
            )
        )
        or 0
    )


def index_serial_by_id(s: Session, index_id: int) -> int:
    return int(s.scalar(select(ChannelIndex.serial).where(ChannelIndex.id == index_id)) or 0)


def channel_packages(s: Session, owner_id: int, label_name: str) -> Sequence[Any]:
    """Conda files of an owner's label, with the package fields channeldata.json shows."""
    return s.execute(
        select(File.package_id, File.subdir, File.record, Package.access, Package.summary, Package.home,
               Package.license, Package.dev_url, Package.doc_url)
        .join(Package, Package.id == File.package_id)
        .join(FileLabel, FileLabel.file_id == File.id)
        .join(Label, Label.id == FileLabel.label_id)
        .where(File.owner_id == owner_id, Label.name == label_name, File.record.is_not(None),
               File.subdir.is_not(None), File.type != "pypi")
    ).all()


def count_download(s: Session, file_id: int) -> None:
    s.execute(update(File).where(File.id == file_id).values(download_count=File.download_count + 1))


def expired_staged_uploads(s: Session, before: Any) -> Sequence[StagedUpload]:
    return s.scalars(select(StagedUpload).where(StagedUpload.expires_at <= before)).all()


def indexes_of_owner(s: Session, owner_id: int) -> Sequence[ChannelIndex]:
    return s.scalars(select(ChannelIndex).where(ChannelIndex.owner_id == owner_id).order_by(ChannelIndex.id)).all()


def file_label_links(s: Session, file_id: int) -> Sequence[FileLabel]:
    return s.scalars(select(FileLabel).where(FileLabel.file_id == file_id)).all()


def package_by_normalized_name(s: Session, owner_id: int, normalized: str) -> Package | None:
    """A package by its PEP 503 name (``Foo_Bar`` finds ``foo-bar``). Valid project names have no runs of
    separators, so replacing each one is the same as PEP 503's collapsing of runs."""
    key = func.replace(func.replace(Package.name_key, "_", "-"), ".", "-")
    return s.scalar(select(Package).where(Package.owner_id == owner_id, key == normalized).order_by(Package.id))


def labels_of(s: Session, owner_id: int) -> Sequence[Label]:
    return s.scalars(select(Label).where(Label.owner_id == owner_id).order_by(Label.name)).all()


def files_with_label(s: Session, label_id: int) -> Sequence[File]:
    return s.scalars(
        select(File).join(FileLabel, FileLabel.file_id == File.id).where(FileLabel.label_id == label_id)
        .order_by(File.id)
    ).all()


def file_label(s: Session, file_id: int, label_id: int) -> FileLabel | None:
    return s.get(FileLabel, (file_id, label_id))


def owner_files(s: Session, owner_id: int, package_id: int | None, version: str | None, basename: str | None
                ) -> Sequence[File]:
    """Files of a namespace narrowed by package, version and basename (each optional)."""
    stmt = select(File).where(File.owner_id == owner_id)
    if package_id is not None:
        stmt = stmt.where(File.package_id == package_id)
    if version is not None:
        stmt = stmt.join(Release, Release.id == File.release_id).where(Release.version == version)
    if basename is not None:
        stmt = stmt.where(File.basename == basename)
    return s.scalars(stmt.order_by(File.id)).all()


def files_of_type(s: Session, owner_id: int, file_type: str) -> Sequence[File]:
    return s.scalars(
        select(File).where(File.owner_id == owner_id, File.type == file_type).order_by(File.upload_time, File.id)
    ).all()
