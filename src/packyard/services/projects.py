"""Projects as Anaconda Repository kept them (anaconda-project upload/download): a project is a package of
type ``project``; each upload is a new revision (a release numbered 1, 2, 3 …) holding the archive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from packyard.domain import names
from packyard.domain.permissions import Action, Principal
from packyard.errors import InvalidInput, NotFound
from packyard.services.packages import ACCESS_LEVELS, PackageService, PackageView, get_package
from packyard.services.uow import UnitOfWork
from packyard.services.uploads import StagedTicket, UploadService
from packyard.storage.db import repositories as repo
from packyard.storage.db.models import File, Release

_ARCHIVES = (".tar", ".tar.gz", ".tar.bz2", ".zip")


@dataclass(frozen=True)
class Revision:
    release: Release
    file: File


class ProjectService:
    def __init__(self, uow: Callable[..., UnitOfWork], packages: PackageService, uploads: UploadService) -> None:
        self._uow = uow
        self._packages = packages
        self._uploads = uploads

    def list(self, principal: Principal, owner_login: str) -> list[PackageView]:
        return [v for v in self._packages.list_for_owner(principal, owner_login)
                if "project" in (v.package.package_types or [])]

    def get(self, principal: Principal, owner_login: str, name: str) -> PackageView:
        view = self._packages.view(principal, owner_login, name)
        if "project" not in (view.package.package_types or []):
            raise NotFound(f"project {owner_login}/{name} does not exist")
        return view

    def create(self, principal: Principal, owner_login: str, body: dict[str, Any]) -> PackageView:
        name = str(body.get("name") or "")
        access = str(body.get("access") or "public")
        if access not in ACCESS_LEVELS:
            raise InvalidInput(f"access must be one of {', '.join(ACCESS_LEVELS)}")
        profile = body.get("profile") or {}
        self._packages.create(principal, owner_login, name, access=access,
                              attrs={"summary": profile.get("summary") or profile.get("description"),
                                     "description": profile.get("description"), "package_types": ["project"]})
        return self.get(principal, owner_login, name)

    def stage(self, principal: Principal, owner_login: str, name: str, body: dict[str, Any]) -> StagedTicket:
        """Open the next revision and stage its archive."""
        basename = str(body.get("basename") or f"{name}.tar")
        names.check_basename(basename)
        if "/" in basename or not basename.endswith(_ARCHIVES):
            raise InvalidInput(f"a project archive must be one of {', '.join(_ARCHIVES)}, not {basename!r}")
        config = body.get("configuration") or {}
        with self._uow(write=True) as uow:
            s = uow.session
            _, package = get_package(s, principal, owner_login, name, Action.WRITE)
            revisions = [int(r.version) for r in repo.releases_of(s, package.id) if r.version.isdigit()]
            release = Release(package_id=package.id, version=str(max(revisions, default=0) + 1),
                              attrs={"configuration": config if isinstance(config, dict) else {}})
            s.add(release)
            s.flush()
            version = release.version
        return self._uploads.stage(principal, owner_login, name, version, basename,
                                   {"distribution_type": "project", "attrs": {"configuration": config}})

    def commit(self, principal: Principal, owner_login: str, name: str, dist_id: str) -> File:
        staged = self._uploads.staged(dist_id)
        _, f = self._uploads.commit(principal, owner_login, name, staged.version, staged.basename, dist_id)
        return f

    def revisions(self, principal: Principal, owner_login: str, name: str) -> list[Revision]:
        """Revisions that hold an archive, newest first."""
        view = self.get(principal, owner_login, name)
        by_release = {f.release_id: f for f in view.files if f.type == "project"}
        revs = [Revision(r, by_release[r.id]) for r in view.releases if r.id in by_release]
        return sorted(revs, key=lambda rv: int(rv.release.version) if rv.release.version.isdigit() else 0,
                      reverse=True)

    def revision(self, principal: Principal, owner_login: str, name: str, revision: str | None) -> Revision:
        revs = self.revisions(principal, owner_login, name)
        for rv in revs:
            if revision in (None, "latest", rv.release.version):
                return rv
        raise NotFound(f"project {owner_login}/{name} has no revision {revision}")
