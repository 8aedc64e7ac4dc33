"""PyPI: every namespace is a Python package index (``/pypi/<owner>[/label/<l>]/simple/``), and accepts the
legacy upload API (twine, uv publish). Pages are built from records stored at upload and kept current per
worker with the same event log as conda channels (``index_cache.py``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from packyard.domain import names
from packyard.domain.permissions import Action, Principal, Resource, can
from packyard.domain.python_meta import check_pep440, is_python_filename, normalize, read_python_artifact
from packyard.domain.simple_index import project_html, project_json, root_html, root_json
from packyard.errors import AlreadyExists, InvalidDigest, InvalidInput, NotFound
from packyard.services import files
from packyard.services.access import NamespaceGrants, namespace_grants, require
from packyard.services.index_cache import CachedIndex, IndexBytes, IndexCache, anonymous_hidden, etag, probe_serial
from packyard.services.indexing import PYPI_INDEX
from packyard.services.labels import add_label
from packyard.services.packages import get_owner
from packyard.services.uow import UnitOfWork
from packyard.storage.blobs.base import BlobStore, StoredBlob
from packyard.storage.db import repositories as repo
from packyard.storage.db.base import utcnow
from packyard.storage.db.models import File, Owner, Package, Release


@dataclass(frozen=True)
class UploadResult:
    created: bool  # False: the identical file was already there (a safe retry)
    file: File


class PypiService:
    def __init__(self, engine: Engine, uow: Callable[..., UnitOfWork], blobs: BlobStore) -> None:
        self._engine = engine
        self._uow = uow
        self._blobs = blobs
        self._cache = IndexCache()

    # -- read side --------------------------------------------------------------------------------------

    def current_anonymous(self, owner_login: str, label: str, project: str | None, fmt: str) -> IndexBytes | None:
        """The anonymous page, if this worker already holds it current; None means: ask ``page``. One indexed
        query and dictionary lookups, so the adapter can answer it on the event loop."""
        found = probe_serial(self._engine, owner_login, label, PYPI_INDEX)
        if found is None or found[1] == 0:
            return None
        index = self._cache.cached(found[1], found[2])
        if index is None or "anonymous-hidden" not in index.views:
            return None
        key = ("root", fmt) if project is None else ("project", normalize(project), fmt)
        return index.views.get((*key, anonymous_hidden(index)))  # type: ignore[no-any-return]

    def page(self, principal: Principal, owner_login: str, label: str, project: str | None, fmt: str
             ) -> IndexBytes:
        """The root page (``project`` None) or a project page, as this principal may see it. A project with
        nothing visible is ``NotFound`` (so uv moves on to its next index)."""
        found = probe_serial(self._engine, owner_login, label, PYPI_INDEX)
        if found is None:
            raise NotFound(f"index {owner_login!r} does not exist")
        owner_id, index_id, serial = found
        grants = NamespaceGrants()
        index = CachedIndex(serial=0, records={}) if index_id == 0 else self._cache.cached(index_id, serial)
        if index is None or principal.authenticated:
            with Session(self._engine) as s:
                if principal.authenticated:
                    owner = s.get(Owner, owner_id)
                    assert owner is not None
                    grants = namespace_grants(s, principal, owner)
                    # a token without a pypi scope stops here
                    require(s, principal, Action.READ, owner, grants=grants)
                if index is None:
                    index = self._cache.current(s, index_id, owner_id, label, PYPI_INDEX, serial)
        if principal.authenticated:
            hidden = frozenset(
                pid for pid, access in index.access.items()
                if access != "public"
                and not can(principal, Action.READ, Resource(owner_id, access), grants.for_package(pid))
            )
        else:
            hidden = anonymous_hidden(index)
        projects = index.view(("projects", hidden), lambda: _group(index.records, hidden))
        if project is None:
            build = (lambda: _bytes(root_json(sorted(projects)))) if fmt == "json" else \
                (lambda: _bytes(root_html(sorted(projects))))
            return index.view(("root", fmt, hidden), build)  # type: ignore[no-any-return]
        name = normalize(project)
        records = projects.get(name)
        if not records:
            raise NotFound(f"project {name!r} does not exist in {owner_login}'s index")
        render = project_json if fmt == "json" else project_html
        return index.view(("project", name, fmt, hidden), lambda: _bytes(render(name, records)))  # type: ignore[no-any-return]

    def file(self, principal: Principal, owner_login: str, label: str, filename: str) -> tuple[File, str | None]:
        """A Python file an index lists (and its metadata blob), if this principal may download it."""
        with self._uow() as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            f = repo.file_in_channel(s, owner.id, label, None, filename)
            if f is None:
                raise NotFound(f"{filename} does not exist in {owner_login}'s index")
            package = s.get(Package, f.package_id)
            assert package is not None
            try:
                require(s, principal, Action.READ, owner, package)
            except NotFound:
                raise NotFound(f"{filename} does not exist in {owner_login}'s index") from None
            return f, (f.attrs or {}).get("metadata_sha256")

    # -- uploads (legacy API) ---------------------------------------------------------------------------

    def upload(self, principal: Principal, owner_login: str, label: str, fields: Mapping[str, str],
               filename: str, fileobj: BinaryIO) -> UploadResult:
        """Store one distribution from twine/uv publish. Identical bytes under an existing name: a no-op
        (``created`` False). Other bytes under an existing name, a bad file or bad metadata: an error, and
        nothing is stored."""
        if fields.get(":action", "file_upload") != "file_upload":
            raise InvalidInput(f"unsupported :action {fields.get(':action')!r}; only file_upload is supported")
        if fields.get("protocol_version", "1") != "1":
            raise InvalidInput("unsupported protocol_version; only 1 is supported")
        names.check_basename(filename)
        if "/" in filename or not is_python_filename(filename):
            raise InvalidInput(f"invalid distribution file name {filename!r}: expected a .whl, .tar.gz or .zip")
        names.check_label(label)
        name, version = fields.get("name"), fields.get("version")
        if not name or not version:
            raise InvalidInput("the upload form needs 'name' and 'version'")
        version = check_pep440(version)
        with self._uow() as uow:  # check access before reading a possibly large body into the store
            owner = get_owner(uow.session, owner_login)
            package = repo.package_by_normalized_name(uow.session, owner.id, normalize(name))
            require(uow.session, principal, Action.WRITE, owner, package)

        def verify(blob: StoredBlob) -> None:
            for field, actual in (("sha256_digest", blob.sha256), ("blake2_256_digest", blob.blake2_256)):
                expected = fields.get(field)
                if expected and expected.strip().lower() != actual:
                    raise InvalidDigest(f"the file's {field.replace('_digest', '')} does not match {field}")

        blob = self._blobs.put(fileobj, verify=verify)
        try:
            return self._register(principal, owner_login, label, name, version, filename, blob)
        except BaseException:
            self._drop_if_unreferenced(blob.sha256)
            raise

    def _register(self, principal: Principal, owner_login: str, label: str, name: str, version: str,
                  filename: str, blob: StoredBlob) -> UploadResult:
        with self._blobs.open(blob.sha256) as fh:
            art = read_python_artifact(filename, fh)
        if normalize(art.name) != normalize(name):
            raise InvalidInput(f"the form says project {name!r} but the file's metadata says {art.name!r}")
        if art.version != version:
            raise InvalidInput(f"the form says version {version} but the file's metadata says {art.version}")
        with self._uow(write=True) as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            package = repo.package_by_normalized_name(s, owner.id, normalize(art.name))
            require(s, principal, Action.WRITE, owner, package)
            if package is None:
                names.check_package_name(art.name)
                package = Package(owner_id=owner.id, name=art.name, name_key=art.name.lower(), access="public",
                                  package_types=[], summary=art.summary, license=art.license, home=art.home_page)
                s.add(package)
                s.flush()
            existing = repo.file(s, package.id, filename)
            if existing is not None:
                if existing.sha256 == blob.sha256:
                    # The same bytes into another label: list the file there too, as that upload asked.
                    target = files.label_for(s, owner, label)
                    if repo.file_label(s, existing.id, target.id) is None:
                        if target.is_locked:
                            raise InvalidInput(f"label {label!r} is locked; unlock it to upload into it")
                        add_label(s, existing, target)
                    return UploadResult(created=False, file=existing)
                raise AlreadyExists(f"File already exists: {filename} was uploaded before with other contents")
            release = repo.release(s, package.id, art.version)
            if release is None:
                release = Release(package_id=package.id, version=art.version, summary=art.summary,
                                  description=art.description, home_page=art.home_page)
                s.add(release)
                s.flush()
            file = File(package_id=package.id, release_id=release.id, owner_id=owner.id, basename=filename,
                        filename=filename, type="pypi", size=blob.size, md5=blob.md5, sha256=blob.sha256,
                        description=art.summary, uploader_id=principal.user_id, upload_time=utcnow(),
                        dependencies={"depends": list(art.requires_dist)})
            files.fill_python(file, art, self._blobs)
            files.attach(s, owner, package, file, [label])
            return UploadResult(created=True, file=file)

    def _drop_if_unreferenced(self, sha256: str) -> None:
        with self._uow() as uow:
            if repo.sha256_referenced(uow.session, sha256):
                return
        self._blobs.delete(sha256)


def _group(records: Mapping[str, tuple[int, str]], hidden: frozenset[int]) -> dict[str, list[dict[str, Any]]]:
    projects: dict[str, list[dict[str, Any]]] = {}
    for pid, rec in records.values():
        if pid in hidden:
            continue
        entry = json.loads(rec)
        projects.setdefault(normalize(entry["project"]), []).append(entry)
    return projects


def _bytes(body: bytes) -> IndexBytes:
    return IndexBytes(body, etag(body, "p"), time.time())


