"""Labels (dev → test → main) and copying files between labels and namespaces. Every change is metadata
only (no bytes are copied) and reaches the affected channels through index events in the same
transaction, so it is visible the moment the call returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from packyard.domain.permissions import Action, Principal
from packyard.errors import AlreadyExists, InvalidInput, NotFound
from packyard.services import files as file_ops
from packyard.services import indexing
from packyard.services.access import namespace_grants, readable, require
from packyard.services.packages import get_owner, get_package
from packyard.services.uow import UnitOfWork
from packyard.storage.db import repositories as repo
from packyard.storage.db.models import File, FileLabel, Label, Owner, Package, Release


@dataclass
class LabelView:
    label: Label
    files: list[tuple[Package, Release, File]]


def _unlocked(label: Label, doing: str) -> None:
    if label.is_locked:
        raise InvalidInput(f"label {label.name!r} is locked; unlock it before you {doing}")


def _existing(s: Session, owner: Owner, name: str) -> Label:
    label = repo.label(s, owner.id, name)
    if label is None:
        raise NotFound(f"label {name!r} does not exist in {owner.login}")
    return label


def add_label(s: Session, f: File, label: Label) -> bool:
    if repo.file_label(s, f.id, label.id) is not None:
        return False
    s.add(FileLabel(file_id=f.id, label_id=label.id))
    s.flush()
    indexing.publish(s, f, [label.name])
    return True


def drop_label(s: Session, f: File, label: Label) -> bool:
    link = repo.file_label(s, f.id, label.id)
    if link is None:
        return False
    s.delete(link)
    s.flush()
    indexing.unpublish(s, f, [label.name])
    return True


class LabelService:
    def __init__(self, uow: Callable[..., UnitOfWork]) -> None:
        self._uow = uow

    def list(self, principal: Principal, owner_login: str) -> list[Label]:
        """Anyone who can read the namespace may list its labels."""
        with self._uow() as uow:
            owner = get_owner(uow.session, owner_login)
            require(uow.session, principal, Action.READ, owner)
            return list(repo.labels_of(uow.session, owner.id))

    def show(self, principal: Principal, owner_login: str, name: str) -> LabelView:
        with self._uow() as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            require(s, principal, Action.READ, owner)
            label = _existing(s, owner, name)
            grants = namespace_grants(s, principal, owner)
            shown = []
            for f in repo.files_with_label(s, label.id):
                package = s.get(Package, f.package_id)
                release = s.get(Release, f.release_id)
                assert package is not None and release is not None
                if readable(principal, owner, grants, package.id, package.access):
                    shown.append((package, release, f))
            return LabelView(label, shown)

    def _files(self, s: Session, principal: Principal, owner: Owner, package: str | None, version: str | None,
               basename: str | None, action: Action) -> Sequence[File]:
        if package is None:
            require(s, principal, Action.ADMIN, owner)  # a whole-namespace change
            return repo.owner_files(s, owner.id, None, None, None)
        _, pkg = get_package(s, principal, owner.login, package, action)
        found = repo.owner_files(s, owner.id, pkg.id, version, basename)
        if not found:
            what = "/".join(x for x in (owner.login, package, version, basename) if x)
            raise NotFound(f"no file matches {what}")
        return found

    def add(self, principal: Principal, owner_login: str, name: str, package: str | None, version: str | None,
            basename: str | None) -> int:
        """Put the matching files under label ``name`` (the first step of ``anaconda move``)."""
        with self._uow(write=True) as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            files = self._files(s, principal, owner, package, version, basename, Action.WRITE)
            label = file_ops.label_for(s, owner, name)
            _unlocked(label, "move or copy files into it")
            return sum(add_label(s, f, label) for f in files)

    def remove(self, principal: Principal, owner_login: str, name: str, package: str | None,
               version: str | None, basename: str | None) -> int:
        """Take the matching files out of label ``name``; with no package, remove the label itself."""
        with self._uow(write=True) as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            label = _existing(s, owner, name)
            _unlocked(label, "remove files from it")
            if package is None:
                require(s, principal, Action.ADMIN, owner)
                files = repo.files_with_label(s, label.id)
                count = sum(drop_label(s, f, label) for f in files)
                s.delete(label)
                return count
            files = self._files(s, principal, owner, package, version, basename, Action.WRITE)
            return sum(drop_label(s, f, label) for f in files)

    def copy_label(self, principal: Principal, owner_login: str, source: str, target: str) -> int:
        with self._uow(write=True) as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            require(s, principal, Action.ADMIN, owner)
            src = _existing(s, owner, source)
            _unlocked(src, "copy from it")
            dst = file_ops.label_for(s, owner, target)
            _unlocked(dst, "copy into it")
            return sum(add_label(s, f, dst) for f in repo.files_with_label(s, src.id))

    def set_locked(self, principal: Principal, owner_login: str, name: str, locked: bool) -> None:
        with self._uow(write=True) as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            require(s, principal, Action.ADMIN, owner)
            _existing(s, owner, name).is_locked = locked

    def copy_files(self, principal: Principal, owner_login: str, package: str, version: str,
                   basename: str | None, to_owner: str | None, from_label: str, to_label: str, mode: str
                   ) -> list[tuple[str, File]]:
        """``anaconda copy``: the matching files of ``from_label`` also appear under ``to_label`` of
        ``to_owner`` (same namespace: just a label; another namespace: new rows over the same blobs).
        ``mode``: "fail" (409 on an existing file), "replace" (remove it first), "update" (keep it)."""
        with self._uow(write=True) as uow:
            s = uow.session
            owner = get_owner(s, owner_login)
            _, pkg = get_package(s, principal, owner.login, package, Action.READ)
            src_label = _existing(s, owner, from_label)
            _unlocked(src_label, "copy from it")
            sources = [f for f in repo.owner_files(s, owner.id, pkg.id, version, basename)
                       if repo.file_label(s, f.id, src_label.id) is not None]
            if not sources:
                raise NotFound(f"no file of {owner.login}/{package}/{version} has label {from_label!r}")
            target_owner = get_owner(s, to_owner) if to_owner else owner
            copied: list[tuple[str, File]] = []
            if target_owner.id == owner.id:
                require(s, principal, Action.WRITE, owner, pkg)
                label = file_ops.label_for(s, owner, to_label)
                _unlocked(label, "copy into it")
                for f in sources:
                    add_label(s, f, label)
                    copied.append((version, f))
                return copied
            target_pkg = repo.package(s, target_owner.id, pkg.name)
            require(s, principal, Action.WRITE, target_owner, target_pkg)
            if target_pkg is None:
                target_pkg = Package(owner_id=target_owner.id, name=pkg.name, name_key=pkg.name_key,
                                     summary=pkg.summary, description=pkg.description, license=pkg.license,
                                     home=pkg.home, access=pkg.access, package_types=list(pkg.package_types))
                s.add(target_pkg)
                s.flush()
            release = repo.release(s, target_pkg.id, version)
            if release is None:
                src_release = repo.release(s, pkg.id, version)
                assert src_release is not None
                release = Release(package_id=target_pkg.id, version=version, summary=src_release.summary,
                                  description=src_release.description, attrs=dict(src_release.attrs or {}))
                s.add(release)
                s.flush()
            for f in sources:
                existing = repo.release_file(s, release.id, f.basename)
                if existing is not None:
                    if mode == "update":
                        continue
                    if mode != "replace":
                        raise AlreadyExists(f"{target_owner.login}/{pkg.name}/{version}/{f.basename} exists")
                    indexing.unpublish(s, existing, [lb.name for lb in existing.labels])
                    s.delete(existing)
                    s.flush()
                twin = File(package_id=target_pkg.id, release_id=release.id, owner_id=target_owner.id,
                            basename=f.basename, filename=f.filename, subdir=f.subdir, type=f.type, size=f.size,
                            md5=f.md5, sha256=f.sha256, description=f.description, attrs=dict(f.attrs or {}),
                            dependencies=f.dependencies, record=f.record, uploader_id=principal.user_id)
                file_ops.attach(s, target_owner, target_pkg, twin, [to_label])
                copied.append((version, twin))
            for _, f in copied:
                _ = f.labels  # load while the session is open; callers show them
            return copied
