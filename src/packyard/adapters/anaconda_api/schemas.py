"""JSON shapes the anaconda CLI reads (spec anaconda-api.md §4.1), built from service results."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from packyard.services.packages import PackageView
from packyard.storage.db.models import File, Owner, Package, Release, Token


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def user_json(owner: Owner, base: str) -> dict[str, Any]:
    return {
        "login": owner.login,
        "name": owner.name or owner.login,
        "user_type": "org" if owner.kind == "org" else "user",
        "created_at": iso(owner.created_at),
        "url": f"{base}/{owner.login}",
    }


def file_json(f: File, owner_login: str, package_name: str, version: str, base: str) -> dict[str, Any]:
    return {
        "basename": f.basename,
        "full_name": f"{owner_login}/{package_name}/{version}/{f.basename}",
        "owner": owner_login,
        "version": version,
        "type": f.type,
        "distribution_type": f.type,
        "size": f.size,
        "md5": f.md5,
        "sha256": f.sha256,
        "upload_time": iso(f.upload_time),
        "description": f.description,
        "attrs": f.attrs or {},
        "dependencies": f.dependencies,
        "labels": sorted(label.name for label in f.labels),
        "ndownloads": f.download_count,
        "download_url": f"{base}/api/download/{owner_login}/{package_name}/{quote(version)}/{quote(f.basename)}",
    }


def release_json(package: Package, rel: Release, files: list[File], base: str) -> dict[str, Any]:
    login = package.owner.login
    return {
        "version": rel.version,
        "full_name": f"{login}/{package.name}/{rel.version}",
        "summary": rel.summary,
        "description": rel.description,
        "home_page": rel.home_page,
        "public_attrs": {"summary": rel.summary, "description": rel.description, "home_page": rel.home_page,
                         **(rel.attrs or {})},
        "distributions": [file_json(f, login, package.name, rel.version, base) for f in files],
        "created_at": iso(rel.created_at),
    }


def package_json(view: PackageView, base: str) -> dict[str, Any]:
    p = view.package
    login = p.owner.login
    versions = {r.id: r.version for r in view.releases}
    files = [file_json(f, login, p.name, versions[f.release_id], base) for f in view.files]
    latest = view.releases[-1].version if view.releases else None
    subdirs = sorted({f.subdir for f in view.files if f.subdir})
    return {
        "name": p.name,
        "full_name": f"{login}/{p.name}",
        "owner": {"login": login},
        "summary": p.summary,
        "description": p.description,
        "license": p.license,
        "license_url": p.license_url,
        "license_family": p.license_family,
        "home": p.home,
        "dev_url": p.dev_url,
        "doc_url": p.doc_url,
        "source_git_url": p.source_git_url,
        "public": p.access == "public",
        "access": p.access,
        "published": False,
        "package_types": list(p.package_types or []),
        "created_at": iso(p.created_at),
        "modified_at": iso(p.updated_at),
        "latest_version": latest,
        "versions": [r.version for r in view.releases],
        "releases": [
            {"version": r.version, "full_name": f"{login}/{p.name}/{r.version}",
             "distributions": [f.basename for f in view.files if f.release_id == r.id]}
            for r in view.releases
        ],
        "files": files,
        "conda_platforms": sorted({s.split("-")[0] for s in subdirs}),
        "builds": sorted({str((f.attrs or {}).get("build")) for f in view.files if (f.attrs or {}).get("build")}),
        "ndownloads": sum(f.download_count for f in view.files),
        "url": f"{base}/{login}/{p.name}",
    }


def token_json(t: Token) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "application": t.name,
        "name": t.name,
        "scopes": list(t.scopes or []),
        "expires": iso(t.expires_at),
        "created_at": iso(t.created_at),
        "hostname": t.hostname,
        "remote_addr": None,
        "strength": t.strength,
    }
