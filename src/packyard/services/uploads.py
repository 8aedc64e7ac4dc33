"""Uploads through the anaconda.org protocol: ``stage`` (what is coming) → storage POST (the bytes) →
``commit`` (the file becomes visible, in one transaction with its index entries).

Nothing is visible before commit: a server killed at any point leaves at most a staged row and an
unreferenced blob, both invisible and removed by ``cleanup``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from packyard.domain import names
from packyard.domain.conda_meta import read_conda_artifact, longest_string
from packyard.domain.permissions import Action, Principal
from packyard.domain.python_meta import check_pep440, normalize, read_python_artifact
from packyard.domain.repodata import serialize_record
from packyard.domain.tokens import hash_token
from packyard.errors import AlreadyExists, InvalidDigest, InvalidInput, NotFound, UploadExpired
from packyard.services import files
from packyard.services.packages import PACKAGE_TYPES, get_package
from packyard.services.uow import UnitOfWork
from packyard.storage.blobs.base import BlobStore, StoredBlob
from packyard.storage.db import repositories as repo
from packyard.storage.db.base import utcnow
from packyard.storage.db.models import File, Owner, Package, Release, StagedUpload


class _ContentRefused(InvalidInput):
    """The stored bytes are not an acceptable file: they can never be committed, so they are dropped."""


@dataclass(frozen=True)
class StagedInfo:
    version: str
    basename: str


@dataclass(frozen=True)
class StagedTicket:
    dist_id: str
    secret: str
    basename: str


class UploadService:
    def __init__(self, uow: Callable[..., UnitOfWork], blobs: BlobStore, ttl: int, max_field: int) -> None:
        self._uow = uow
        self._blobs = blobs
        self._ttl = ttl
        self._max_field = max_field

    def stage(self, principal: Principal, owner_login: str, name: str, version: str, basename: str,
              body: dict[str, Any]) -> StagedTicket:
        """Check everything that can be checked before the bytes arrive; raise ``InvalidInput``,
        ``NotFound``, ``AlreadyExists`` or an access error."""
        names.check_basename(basename)
        dist_type = body.get("distribution_type") or "file"
        if dist_type not in PACKAGE_TYPES:
            raise InvalidInput(f"unknown distribution_type {dist_type!r}; known: {', '.join(PACKAGE_TYPES)}")
        if dist_type == "conda":
            names.split_conda_basename(basename)
        elif "/" in basename:
            raise InvalidInput(f"invalid file name {basename!r}: only conda files have a subdir")
        labels = body.get("channels") or ["main"]  # the client sends [] for "no --label"
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise InvalidInput("channels must be a list of label names")
        for label in labels:
            names.check_label(label)
        sha256 = body.get("sha256")
        if sha256 is not None and (not isinstance(sha256, str) or len(sha256) != 64):
            raise InvalidInput("sha256 must be 64 hexadecimal characters")
        for key in ("attrs", "dependencies", "description"):
            if longest_string(body.get(key)) > self._max_field:
                raise InvalidInput(f"{key} holds a value longer than {self._max_field} characters")
        request = {k: body.get(k) for k in ("attrs", "dependencies", "description", "sha256")}
        request["labels"] = labels
        with self._uow(write=True) as uow:
            s = uow.session
            owner, package = get_package(s, principal, owner_login, name, Action.WRITE)
            for label_name in labels:  # refuse before the bytes are sent (commit checks again)
                existing = repo.label(s, owner.id, label_name)
                if existing is not None and existing.is_locked:
                    raise InvalidInput(f"label {label_name!r} is locked; unlock it to upload into it")
            release = repo.release(s, package.id, version)
            if release is None:
                raise NotFound(f"Release {owner.login}/{package.name}/{version} does not exist")
            if repo.release_file(s, release.id, basename) is not None:
                raise AlreadyExists(
                    f"file {basename} already exists for package {package.name} version {version}"
                )
            ticket = StagedTicket(dist_id=secrets.token_hex(16), secret=secrets.token_hex(24), basename=basename)
            s.add(StagedUpload(
                id=ticket.dist_id, secret_hash=hash_token(ticket.secret), owner_id=owner.id,
                package_id=package.id, release_id=release.id, uploader_id=principal.user_id,
                basename=basename, distribution_type=dist_type, request=request,
                expires_at=utcnow() + dt.timedelta(seconds=self._ttl),
            ))
            return ticket

    def staged(self, dist_id: str) -> StagedInfo:
        """What a staged upload is for (the projects API commits by ``dist_id`` alone)."""
        with self._uow() as uow:
            staged = repo.staged_upload(uow.session, dist_id)
            if staged is None:
                raise UploadExpired(f"unknown dist_id {dist_id!r}: stage the upload first")
            release = uow.session.get(Release, staged.release_id)
            assert release is not None
            return StagedInfo(version=release.version, basename=staged.basename)

    def store(self, dist_id: str, secret: str, fileobj: BinaryIO, content_length: str | None,
              content_md5: str | None) -> StoredBlob:
        """Receive the bytes of a staged upload. Raise ``InvalidDigest`` if they differ from what the client
        announced (Content-MD5, Content-Length, the staged sha256): nothing is then stored."""
        with self._uow() as uow:
            staged = repo.staged_upload(uow.session, dist_id)
            self._check_ticket(staged, secret, "staged")
            assert staged is not None
            expected_sha = (staged.request or {}).get("sha256")

        def verify(blob: StoredBlob) -> None:
            if content_length is not None and content_length.strip() != str(blob.size):
                raise InvalidDigest(f"received {blob.size} bytes, but Content-Length said {content_length}")
            if content_md5 is not None:
                try:
                    md5 = base64.b64decode(content_md5, validate=True).hex()
                except (binascii.Error, ValueError):
                    raise InvalidDigest("Content-MD5 is not base64") from None
                if md5 != blob.md5:
                    raise InvalidDigest("The Content-MD5 you specified did not match what we received.")
            if expected_sha and expected_sha.lower() != blob.sha256:
                raise InvalidDigest("the file's sha256 differs from the one given at stage")

        blob = self._blobs.put(fileobj, verify=verify)
        with self._uow(write=True) as uow:
            staged = repo.staged_upload(uow.session, dist_id, lock=True)
            self._check_ticket(staged, secret, "staged")
            assert staged is not None
            staged.state, staged.blob_sha256, staged.md5, staged.size = "stored", blob.sha256, blob.md5, blob.size
        return blob

    @staticmethod
    def _check_ticket(staged: StagedUpload | None, secret: str | None, state: str) -> None:
        if staged is None:
            raise UploadExpired("unknown upload: stage it first")
        if secret is not None and not hmac.compare_digest(staged.secret_hash, hash_token(secret)):
            raise UploadExpired("this upload URL is not valid")
        if staged.state != state:
            raise UploadExpired(f"this upload was already {staged.state}")
        if staged.expires_at <= utcnow():
            raise UploadExpired("this upload expired; upload the file again")

    def commit(self, principal: Principal, owner_login: str, name: str, version: str, basename: str,
               dist_id: Any) -> tuple[str, File]:
        """Like ``_commit``; when the archive itself is refused, its staged row and blob are dropped at once
        (nothing of a refused upload stays stored)."""
        try:
            return self._commit(principal, owner_login, name, version, basename, dist_id)
        except _ContentRefused:
            self._discard(dist_id)
            raise

    def _discard(self, dist_id: str) -> None:
        with self._uow(write=True) as uow:
            staged = repo.staged_upload(uow.session, dist_id, lock=True)
            if staged is None or staged.state != "stored":
                return
            sha = staged.blob_sha256
            uow.session.delete(staged)
        if sha:
            with self._uow() as uow:
                if repo.sha256_referenced(uow.session, sha):
                    return
            self._blobs.delete(sha)

    def _commit(self, principal: Principal, owner_login: str, name: str, version: str, basename: str,
                dist_id: Any) -> tuple[str, File]:
        """Make a stored upload visible: verify the archive against the request, then add the file, its
        labels and its index entries in one transaction. Returns (owner login, file).

        The archive is read *between* two transactions: reading a large archive inside the writing one would
        hold SQLite's write lock (and PostgreSQL row locks) for as long as decompression takes."""
        if not isinstance(dist_id, str):
            raise UploadExpired("commit needs the dist_id returned by stage")
        with self._uow() as uow:
            owner, package, release, staged = self._committable(uow, principal, owner_login, name, version,
                                                                 basename, dist_id)
            assert staged.blob_sha256 is not None and staged.md5 is not None and staged.size is not None
            request = staged.request or {}
            file = File(package_id=package.id, release_id=release.id, owner_id=owner.id, basename=basename,
                        filename=basename.rsplit("/", 1)[-1], type=staged.distribution_type, size=staged.size,
                        md5=staged.md5, sha256=staged.blob_sha256, description=request.get("description"),
                        attrs=request.get("attrs") or {}, dependencies=request.get("dependencies"),
                        uploader_id=principal.user_id)
            package_name = package.name
        try:
            if file.type == "conda":
                self._fill_conda(file, package_name, version, file.sha256)
            elif file.type == "pypi":
                self._fill_pypi(file, package_name, version, file.sha256)
            elif file.type == "ipynb":
                files.fill_notebook(file, self._blobs)
            elif file.type == "env":
                files.check_environment(file, self._blobs)
        except InvalidInput as exc:
            raise _ContentRefused(str(exc)) from None
        with self._uow(write=True) as uow:
            owner, package, _, staged = self._committable(uow, principal, owner_login, name, version, basename,
                                                          dist_id, lock=True)
            files.attach(uow.session, owner, package, file, request.get("labels") or ["main"])
            staged.state = "committed"
            return owner.login, file

    def _committable(self, uow: UnitOfWork, principal: Principal, owner_login: str, name: str, version: str,
                     basename: str, dist_id: str, lock: bool = False
                     ) -> tuple[Owner, Package, Release, StagedUpload]:
        """Everything a commit checks before it writes: access, the staged upload's state, its target."""
        s = uow.session
        owner, package = get_package(s, principal, owner_login, name, Action.WRITE)
        staged = repo.staged_upload(s, dist_id, lock=lock)
        if staged is None:
            raise UploadExpired(f"unknown dist_id {dist_id!r}: stage the upload first")
        if staged.state == "staged":
            raise UploadExpired("the file was never received; upload it to the post_url first")
        self._check_ticket(staged, None, "stored")
        release = repo.release(s, package.id, version)
        if (staged.package_id, staged.basename) != (package.id, basename) or release is None \
                or release.id != staged.release_id:
            raise UploadExpired("this dist_id belongs to another file")
        if repo.release_file(s, release.id, basename) is not None:
            raise AlreadyExists(f"file {basename} already exists for package {package.name} version {version}")
        return owner, package, release, staged

    def _fill_pypi(self, file: File, package_name: str, version: str, sha256: str) -> None:
        with self._blobs.open(sha256) as fh:
            art = read_python_artifact(file.filename, fh)
        if normalize(art.name) != normalize(package_name):
            raise InvalidInput(f"the file is project {art.name!r}, not {package_name!r}")
        if art.version != check_pep440(version):
            raise InvalidInput(f"the file is version {art.version!r}, not {version!r}")
        file.upload_time = utcnow()
        files.fill_python(file, art, self._blobs)

    def _fill_conda(self, file: File, package_name: str, version: str, sha256: str) -> None:
        subdir, filename = names.split_conda_basename(file.basename)
        with self._blobs.open(sha256) as fh:
            art = read_conda_artifact(filename, fh)
        if art.name.lower() != package_name.lower():
            raise InvalidInput(f"the archive is package {art.name!r}, not {package_name!r}")
        names.check_conda_name(art.name)
        if art.version != version:
            raise InvalidInput(f"the archive is version {art.version!r}, not {version!r}")
        if art.subdir is not None and art.subdir != subdir:
            raise InvalidInput(f"the archive is for subdir {art.subdir!r}, but was uploaded to {subdir!r}")
        stem, _ = names.strip_conda_extension(filename)
        if stem != f"{art.name}-{art.version}-{art.build}":
            raise InvalidInput(
                f"file name {filename!r} does not match the archive ({art.name}-{art.version}-{art.build})"
            )
        if longest_string(art.index) > self._max_field or longest_string(art.about) > self._max_field:
            raise InvalidInput(f"info/index.json or info/about.json holds a value longer than {self._max_field}")
        file.subdir = subdir
        file.record = serialize_record(art.record(file.md5, file.sha256, file.size))
        file.attrs = {**art.index, "has_prefix": art.has_prefix, "subdir": subdir}
        if art.about.get("summary") and not file.description:
            file.description = str(art.about.get("description") or art.about["summary"])

    def cleanup(self, older_than: float) -> int:
        """Drop expired staged uploads and their unreferenced blobs; return how many were dropped."""
        dropped = 0
        with self._uow(write=True) as uow:
            expired = repo.expired_staged_uploads(uow.session, utcnow() - dt.timedelta(seconds=older_than))
            shas = [st.blob_sha256 for st in expired if st.blob_sha256 and st.state != "committed"]
            for st in expired:
                uow.session.delete(st)
                dropped += 1
        for sha in shas:
            with self._uow() as uow:
                if not repo.sha256_referenced(uow.session, sha):
                    self._blobs.delete(sha)
        return dropped
