"""Packages, releases and files: reading, creating, updating and removing them under the access rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from packyard.domain import names
from packyard.domain.permissions import Action, Principal, missing_scope
from packyard.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from packyard.services import indexing
from packyard.services.access import namespace_grants, readable, require
from packyard.services.uow import UnitOfWork
from packyard.storage.blobs.base import BlobStore
from packyard.storage.db import memberships as members
from packyard.storage.db import repositories as repo
from packyard.storage.db.models import File, GroupPackage, Owner, Package, Release

PACKAGE_TYPES = ("conda", "pypi", "file", "ipynb", "env", "r", "project", "installer")
ACCESS_LEVELS = ("public", "authenticated", "private")
_PACKAGE_ATTRS = ("summary", "description", "license_url", "license_family", "home", "dev_url", "doc_url",
                  "source_git_url")


@dataclass
class PackageView:
    package: Package
    releases: list[Release] = field(default_factory=list)
    files: list[File] = field(default_factory=list)


def get_owner(s: Session, login: str) -> Owner:
    owner = repo.owner_by_login(s, login)
    if owner is None:
        raise NotFound(f"user {login!r} does not exist")
    return owner


def get_package(s: Session, principal: Principal, owner_login: str, name: str, action: Action = Action.READ
                ) -> tuple[Owner, Package]:
    owner = get_owner(s, owner_login)
    package = repo.package(s, owner.id, name)
    if package is None:
        raise NotFound(f"Package {owner.login}/{name} does not exist")
    require(s, principal, action, owner, package)
    return owner, package


def _check_text(value: Any, field_name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if len(value) > limit:
        raise InvalidInput(f"{field_name} is longer than {limit} characters")
    return value


class PackageService:
    def __init__(self, uow: Callable[..., UnitOfWork], blobs: BlobStore, max_field: int) -> None:
        self._uow = uow
        self._blobs = blobs
        self._max_field = max_field

    # -- packages ---------------------------------------------------------------------------------------

    def view(self, principal: Principal, owner_login: str, name: str) -> PackageView:
        with self._uow() as uow:
            _, package = get_package(uow.session, principal, owner_login, name)
            return PackageView(package, list(repo.releases_of(uow.session, package.id)),
                               list(repo.files_of_package(uow.session, package.id)))

    def list_for_owner(self, principal: Principal, owner_login: str) -> list[PackageView]:
        with self._uow() as uow:
            owner = get_owner(uow.session, owner_login)
            grants = namespace_grants(uow.session, principal, owner)
            require(uow.session, principal, Action.READ, owner, grants=grants)  # a token without an api scope
            return [
                PackageView(p, list(repo.releases_of(uow.session, p.id)), list(repo.files_of_package(uow.session, p.id)))
                for p in repo.packages_of(uow.session, owner.id)
                if readable(principal, owner, grants, p.id, p.access)
            ]

    def search(self, principal: Principal, query: str, package_type: str | None, platform: str | None
               ) -> list[PackageView]:
        scope = missing_scope(principal, Action.READ)
        if scope is not None:  # refused as a whole, like a channel: never a silently shorter list
            raise PermissionDenied(f"token lacks scope {scope}")
        with self._uow() as uow:
            views = []
            for p in repo.search_packages(uow.session, query, package_type):
                if p.access != "public" and not readable(
                    principal, p.owner, namespace_grants(uow.session, principal, p.owner), p.id, p.access
                ):
                    continue
                files = list(repo.files_of_package(uow.session, p.id))
                if platform and not any((f.subdir or "").startswith(platform) for f in files):
                    continue
                views.append(PackageView(p, list(repo.releases_of(uow.session, p.id)), files))
            return views

    def create(self, principal: Principal, owner_login: str, name: str, public: bool = True,
               attrs: dict[str, Any] | None = None, access: str | None = None) -> Package:
        """Raise ``AlreadyExists`` if the name is taken (case-insensitively) in that namespace."""
        names.check_package_name(name)
        attrs = attrs or {}
        with self._uow(write=True) as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            grants = namespace_grants(s, principal, owner)
            require(s, principal, Action.WRITE, owner, grants=grants)
            if repo.package(s, owner.id, name) is not None:
                raise AlreadyExists(f"Package {owner.login}/{name} already exists")
            if access is not None and access not in ACCESS_LEVELS:
                raise InvalidInput(f"access must be one of {', '.join(ACCESS_LEVELS)}")
            package = Package(owner_id=owner.id, name=name, name_key=name.lower(),
                              access=access or ("public" if public else "private"), package_types=[])
            self._apply_attrs(package, attrs)
            s.add(package)
            s.flush()
            if not grants.admin and principal.user_id is not None and owner.kind == "org":
                # A read-write group member who creates a package keeps write access to it through the
                # groups that let them create it.
                for group in members.member_groups(s, owner.id, principal.user_id):
                    if group.permission == "write":
                        s.add(GroupPackage(group_id=group.id, package_id=package.id))
            return package

    def _apply_attrs(self, package: Package, attrs: dict[str, Any]) -> None:
        for key in _PACKAGE_ATTRS:
            if key in attrs and attrs[key] is not None:
                setattr(package, key, _check_text(attrs[key], key, self._max_field))
        lic = attrs.get("license")
        if isinstance(lic, dict):
            if lic.get("name"):
                package.license = _check_text(lic["name"], "license", 500)
            if lic.get("url"):
                package.license_url = _check_text(lic["url"], "license url", 2000)
            if lic.get("family"):
                package.license_family = _check_text(lic["family"], "license family", 100)
        elif isinstance(lic, str):
            package.license = _check_text(lic, "license", 500)
        types = attrs.get("package_types")
        if isinstance(types, list):
            for t in types:
                if t not in PACKAGE_TYPES:
                    raise InvalidInput(f"unknown package type {t!r}; known: {', '.join(PACKAGE_TYPES)}")
            package.package_types = sorted(set(package.package_types or []) | set(types))

    def update(self, principal: Principal, owner_login: str, name: str, attrs: dict[str, Any]) -> Package:
        with self._uow(write=True) as uow:
            needed = Action.ADMIN if "access" in attrs else Action.WRITE
            _, package = get_package(uow.session, principal, owner_login, name, needed)
            self._apply_attrs(package, attrs)
            if "access" in attrs:
                if attrs["access"] not in ACCESS_LEVELS:
                    raise InvalidInput(f"access must be one of {', '.join(ACCESS_LEVELS)}")
                if package.access != attrs["access"]:
                    package.access = attrs["access"]
                    indexing.touch_owner(uow.session, package.owner_id)
            return package

    def delete(self, principal: Principal, owner_login: str, name: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            _, package = get_package(s, principal, owner_login, name, Action.ADMIN)
            self.delete_in(uow, package)

    def delete_in(self, uow: UnitOfWork, package: Package) -> None:
        """Remove a package with its files (and their index entries) inside the caller's unit of work."""
        for f in repo.files_of_package(uow.session, package.id):
            self._remove_file(uow, f)
        uow.session.delete(package)

    # -- releases ---------------------------------------------------------------------------------------

    def release(self, principal: Principal, owner_login: str, name: str, version: str
                ) -> tuple[Package, Release, list[File]]:
        with self._uow() as uow:
            _, package = get_package(uow.session, principal, owner_login, name)
            rel = repo.release(uow.session, package.id, version)
            if rel is None:
                raise NotFound(f"Release {owner_login}/{name}/{version} does not exist")
            return package, rel, list(repo.files_of_release(uow.session, rel.id))

    def create_release(self, principal: Principal, owner_login: str, name: str, version: str,
                       attrs: dict[str, Any]) -> Release:
        names.check_version(version)
        with self._uow(write=True) as uow:
            _, package = get_package(uow.session, principal, owner_login, name, Action.WRITE)
            if repo.release(uow.session, package.id, version) is not None:
                raise AlreadyExists(f"Release {owner_login}/{name}/{version} already exists")
            rel = Release(package_id=package.id, version=version)
            self._apply_release_attrs(rel, attrs)
            uow.session.add(rel)
            uow.session.flush()
            return rel

    def _apply_release_attrs(self, rel: Release, attrs: dict[str, Any]) -> None:
        rel.summary = _check_text(attrs.get("summary"), "summary", self._max_field) or rel.summary
        rel.description = _check_text(attrs.get("description"), "description", self._max_field) or rel.description
        rel.home_page = _check_text(attrs.get("home_page"), "home_page", 2000) or rel.home_page
        extra = {k: v for k, v in attrs.items() if k not in ("summary", "description", "home_page")}
        if len(repr(extra)) > self._max_field:
            raise InvalidInput(f"release attributes are larger than {self._max_field} characters")
        rel.attrs = {**(rel.attrs or {}), **extra}

    def update_release(self, principal: Principal, owner_login: str, name: str, version: str,
                       attrs: dict[str, Any]) -> Release:
        with self._uow(write=True) as uow:
            _, package = get_package(uow.session, principal, owner_login, name, Action.WRITE)
            rel = repo.release(uow.session, package.id, version)
            if rel is None:
                raise NotFound(f"Release {owner_login}/{name}/{version} does not exist")
            self._apply_release_attrs(rel, attrs)
            return rel

    def delete_release(self, principal: Principal, owner_login: str, name: str, version: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            _, package = get_package(s, principal, owner_login, name, Action.DELETE)
            rel = repo.release(s, package.id, version)
            if rel is None:
                raise NotFound(f"Release {owner_login}/{name}/{version} does not exist")
            for f in repo.files_of_release(s, rel.id):
                self._remove_file(uow, f)
            s.delete(rel)

    # -- files ------------------------------------------------------------------------------------------

    def file(self, principal: Principal, owner_login: str, name: str, version: str, basename: str
             ) -> tuple[Package, File]:
        with self._uow() as uow:
            _, package = get_package(uow.session, principal, owner_login, name)
            rel = repo.release(uow.session, package.id, version)
            f = repo.release_file(uow.session, rel.id, basename) if rel else None
            if f is None:
                raise NotFound(f"File {basename} does not exist")
            return package, f

    def delete_file(self, principal: Principal, owner_login: str, name: str, version: str, basename: str) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            _, package = get_package(s, principal, owner_login, name, Action.DELETE)
            rel = repo.release(s, package.id, version)
            f = repo.release_file(s, rel.id, basename) if rel else None
            if f is None:
                raise NotFound(f"File {basename} does not exist")
            self._remove_file(uow, f)

    def set_yanked(self, principal: Principal, owner_login: str, name: str, version: str, basename: str,
                   yanked: bool | str) -> File:
        """PEP 592: mark a Python file yanked (``True`` or a reason) or not (``False``). Its index entries
        change in the same transaction, so pip and uv see it at once."""
        if not isinstance(yanked, (bool, str)) or (isinstance(yanked, str) and len(yanked) > 1000):
            raise InvalidInput("yanked must be true, false or a reason (at most 1000 characters)")
        with self._uow(write=True) as uow:
            s = uow.session
            _, package = get_package(s, principal, owner_login, name, Action.WRITE)
            rel = repo.release(s, package.id, version)
            f = repo.release_file(s, rel.id, basename) if rel else None
            if f is None:
                raise NotFound(f"File {basename} does not exist")
            if f.type != "pypi" or f.record is None:
                raise InvalidInput("only Python files (wheels, sdists) can be yanked")
            record = json.loads(f.record)
            record["yanked"] = yanked or False
            f.record = json.dumps(record, separators=(",", ":"), sort_keys=True)
            indexing.publish(s, f, [label.name for label in f.labels])
            return f

    def _remove_file(self, uow: UnitOfWork, f: File) -> None:
        s = uow.session
        locked = [label.name for label in f.labels if label.is_locked]
        if locked:
            raise InvalidInput(f"label {locked[0]!r} is locked; unlock it before you remove {f.basename}")
        indexing.unpublish(s, f, [label.name for label in f.labels])
        sha = f.sha256
        s.delete(f)
        s.flush()

        def drop_blob() -> None:
            # Content-addressed: another file (or a staged upload) may share these bytes.
            with self._uow() as check:
                if not repo.sha256_referenced(check.session, sha):
                    self._blobs.delete(sha)

        uow.on_commit(drop_blob)
