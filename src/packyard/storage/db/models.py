"""ORM tables. Rules about them live in ``services/``; this module only says what is stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from packyard.storage.db.base import Base, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Owner(Base):
    """A namespace: a user (can log in) or an organization (kind="org")."""

    __tablename__ = "owners"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)  # stored lower-case
    kind: Mapped[str] = mapped_column(String(8), default="user")
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_superuser: Mapped[bool] = mapped_column(default=False)
    is_disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Token(Base):
    """An API token. Only the sha256 of the secret is kept."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    acts_for_id: Mapped[int | None] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    strength: Mapped[str] = mapped_column(String(8), default="strong")
    hostname: Mapped[str | None] = mapped_column(String(255))
    is_login: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class Package(Base):
    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("owner_id", "name_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))  # lower-case, for case-insensitive lookup
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(String(500))
    license_url: Mapped[str | None] = mapped_column(String(2000))
    license_family: Mapped[str | None] = mapped_column(String(100))
    home: Mapped[str | None] = mapped_column(String(2000))
    dev_url: Mapped[str | None] = mapped_column(String(2000))
    doc_url: Mapped[str | None] = mapped_column(String(2000))
    source_git_url: Mapped[str | None] = mapped_column(String(2000))
    access: Mapped[str] = mapped_column(String(16), default="public")
    package_types: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[Owner] = relationship(lazy="joined")


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("package_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    home_page: Mapped[str | None] = mapped_column(String(2000))
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class File(Base):
    """One uploaded file. ``record`` is the conda repodata record, serialized once at upload."""

    __tablename__ = "files"
    # Plain files keep one name across versions ("data.csv" in versions 1 and 2); conda and Python file
    # names carry their version anyway.
    __table_args__ = (UniqueConstraint("release_id", "basename"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    basename: Mapped[str] = mapped_column(String(300))
    subdir: Mapped[str | None] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(256))  # basename without the subdir
    type: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dependencies: Mapped[dict[str, Any] | None]
    record: Mapped[str | None] = mapped_column(Text)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("owners.id", ondelete="SET NULL"))
    upload_time: Mapped[dt.datetime] = mapped_column(default=utcnow)
    download_count: Mapped[int] = mapped_column(BigInteger, default=0)

    package: Mapped[Package] = relationship(lazy="raise")
    release: Mapped[Release] = relationship(lazy="raise")
    labels: Mapped[list[Label]] = relationship(secondary="file_labels", lazy="selectin")


Index("ix_files_owner_filename", File.owner_id, File.subdir, File.filename)


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    is_locked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FileLabel(Base):
    __tablename__ = "file_labels"

    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    label_id: Mapped[int] = mapped_column(
        ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class StagedUpload(Base):
    """An upload between ``stage`` and ``commit``. The id is the client's ``dist_id``; the storage POST
    is authorized by a single-use secret whose hash is kept here."""

    __tablename__ = "staged_uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    uploader_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    basename: Mapped[str] = mapped_column(String(300))
    distribution_type: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)  # description, attrs, labels, sha256
    state: Mapped[str] = mapped_column(String(16), default="staged")  # staged → stored → committed
    blob_sha256: Mapped[str | None] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class ChannelIndex(Base):
    """One conda index: (owner, label, subdir). ``serial`` is the id of the last event applied to it,
    which lets every worker tell whether the bytes it holds are current with one indexed read."""

    __tablename__ = "channel_indexes"
    __table_args__ = (UniqueConstraint("owner_id", "label", "subdir"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(128))
    subdir: Mapped[str] = mapped_column(String(32))
    serial: Mapped[int] = mapped_column(BigInteger, default=0)


class IndexEvent(Base):
    """A change to one index: a record added (``record`` set) or removed (``record`` null)."""

    __tablename__ = "index_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    index_id: Mapped[int] = mapped_column(ForeignKey("channel_indexes.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(256))
    package_id: Mapped[int | None] = mapped_column(BigInteger)
    record: Mapped[str | None] = mapped_column(Text)


Index("ix_index_events_index_id_id", IndexEvent.index_id, IndexEvent.id)


class Group(Base):
    """A group inside an organization. The group named ``owners`` (permission admin) holds the organization's
    owners; other groups give their permission on the packages listed for them."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    permission: Mapped[str] = mapped_column(String(8), default="read")  # read | write | admin
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), primary_key=True, index=True)


class GroupPackage(Base):
    __tablename__ = "group_packages"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Collaborator(Base):
    """A user with full read and write on one package, private or not."""

    __tablename__ = "collaborators"

    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]
