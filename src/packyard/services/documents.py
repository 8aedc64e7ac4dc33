"""Files people read rather than install: rendered notebooks and conda environment files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from packyard.domain.permissions import Principal
from packyard.errors import NotFound
from packyard.services.access import namespace_grants, readable
from packyard.services.channels import version_key
from packyard.services.packages import get_owner, get_package
from packyard.services.uow import UnitOfWork
from packyard.storage.db import repositories as repo
from packyard.storage.db.models import File, Package, Release


@dataclass(frozen=True)
class Document:
    package: Package
    release: Release
    file: File
    versions: list[str]


class DocumentService:
    def __init__(self, uow: Callable[..., UnitOfWork]) -> None:
        self._uow = uow

    def notebook(self, principal: Principal, owner_login: str, name: str, version: str | None) -> Document:
        """A notebook (newest version unless one is named), if this principal may read it."""
        with self._uow() as uow:
            s = uow.session
            _, package = get_package(s, principal, owner_login, name)
            releases = {r.id: r for r in repo.releases_of(s, package.id)}
            notebooks = [f for f in repo.files_of_package(s, package.id) if f.type == "ipynb"]
            if version is not None:
                notebooks = [f for f in notebooks if releases[f.release_id].version == version]
            if not notebooks:
                raise NotFound(f"no notebook {owner_login}/{name}" + (f" version {version}" if version else ""))
            newest = max(notebooks, key=lambda f: (version_key(releases[f.release_id].version), f.upload_time))
            versions = sorted({releases[f.release_id].version for f in repo.files_of_package(s, package.id)
                               if f.type == "ipynb"}, key=version_key, reverse=True)
            return Document(package, releases[newest.release_id], newest, versions)

    def environments(self, principal: Principal, owner_login: str) -> list[Document]:
        """The newest environment file of each env package in a namespace that this principal may read."""
        with self._uow() as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            grants = namespace_grants(s, principal, owner)
            newest: dict[int, File] = {}
            for f in repo.files_of_type(s, owner.id, "env"):
                newest[f.package_id] = f  # ordered by upload time: the last one wins
            docs = []
            for package_id, f in newest.items():
                package = s.get(Package, package_id)
                release = s.get(Release, f.release_id)
                assert package is not None and release is not None
                if readable(principal, owner, grants, package.id, package.access):
                    docs.append(Document(package, release, f, []))
            return sorted(docs, key=lambda d: d.package.name_key)
