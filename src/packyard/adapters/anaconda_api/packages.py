"""anaconda.org API: packages, releases, files, search (success codes as the CLI demands, spec §4)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.responses import JSONResponse, Response

from packyard.adapters.anaconda_api.schemas import file_json, package_json, release_json
from packyard.adapters.deps import ContainerDep, PrincipalDep, base_url

router = APIRouter()
Json = dict[str, Any]


@router.get("/packages")
def my_packages(request: Request, c: ContainerDep, who: PrincipalDep) -> list[Json]:
    user = c.accounts.current_user(who)
    return [package_json(v, base_url(request)) for v in c.packages.list_for_owner(who, user.login)]


@router.get("/packages/{owner}")
def owner_packages(owner: str, request: Request, c: ContainerDep, who: PrincipalDep) -> list[Json]:
    return [package_json(v, base_url(request)) for v in c.packages.list_for_owner(who, owner)]


@router.get("/search")
def search(request: Request, c: ContainerDep, who: PrincipalDep, name: str = "", type: str | None = None,
           platform: str | None = None) -> list[Json]:
    return [package_json(v, base_url(request)) for v in c.packages.search(who, name, type, platform)]


@router.get("/package/{owner}/{name}")
def get_package(owner: str, name: str, request: Request, c: ContainerDep, who: PrincipalDep) -> Json:
    return package_json(c.packages.view(who, owner, name), base_url(request))


@router.post("/package/{owner}/{name}")
def create_package(owner: str, name: str, request: Request, c: ContainerDep, who: PrincipalDep,
                   body: Json | None = Body(None)) -> Json:
    body = body or {}
    c.packages.create(who, owner, name, public=bool(body.get("public", True)),
                      attrs=body.get("public_attrs") or {}, access=body.get("access"))
    return package_json(c.packages.view(who, owner, name), base_url(request))


@router.patch("/package/{owner}/{name}")
def update_package(owner: str, name: str, request: Request, c: ContainerDep, who: PrincipalDep,
                   body: Json | None = Body(None)) -> Json:
    body = body or {}
    attrs = dict(body.get("public_attrs") or {})
    if "public" in body:
        attrs["access"] = "public" if body["public"] else "private"
    if "access" in body:
        attrs["access"] = body["access"]
    c.packages.update(who, owner, name, attrs)
    return package_json(c.packages.view(who, owner, name), base_url(request))


@router.delete("/package/{owner}/{name}", status_code=201)
def delete_package(owner: str, name: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.packages.delete(who, owner, name)
    return JSONResponse({}, status_code=201)


@router.get("/release/{owner}/{name}/{version}")
def get_release(owner: str, name: str, version: str, request: Request, c: ContainerDep, who: PrincipalDep
                ) -> Json:
    package, rel, files = c.packages.release(who, owner, name, version)
    return release_json(package, rel, files, base_url(request))


@router.post("/release/{owner}/{name}/{version}")
def create_release(owner: str, name: str, version: str, request: Request, c: ContainerDep, who: PrincipalDep,
                   body: Json | None = Body(None)) -> Json:
    attrs = {k: v for k, v in (body or {}).items() if k not in ("requirements", "announce", "version")}
    c.packages.create_release(who, owner, name, version, attrs)
    package, rel, files = c.packages.release(who, owner, name, version)
    return release_json(package, rel, files, base_url(request))


@router.patch("/release/{owner}/{name}/{version}")
def update_release(owner: str, name: str, version: str, request: Request, c: ContainerDep, who: PrincipalDep,
                   body: Json | None = Body(None)) -> Json:
    c.packages.update_release(who, owner, name, version, dict((body or {}).get("public_attrs") or {}))
    package, rel, files = c.packages.release(who, owner, name, version)
    return release_json(package, rel, files, base_url(request))


@router.delete("/release/{owner}/{name}/{version}", status_code=201)
def delete_release(owner: str, name: str, version: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.packages.delete_release(who, owner, name, version)
    return JSONResponse({}, status_code=201)


@router.get("/dist/{owner}/{name}/{version}/{basename:path}")
def get_file(owner: str, name: str, version: str, basename: str, request: Request, c: ContainerDep,
             who: PrincipalDep) -> Json:
    package, f = c.packages.file(who, owner, name, version, basename)
    return file_json(f, package.owner.login, package.name, version, base_url(request))


@router.patch("/dist/{owner}/{name}/{version}/{basename:path}")
def update_file(owner: str, name: str, version: str, basename: str, request: Request, c: ContainerDep,
                who: PrincipalDep, body: Json | None = Body(None)) -> Json:
    """Yank or un-yank a Python file: ``{"yanked": true | "reason" | false}`` (PEP 592)."""
    body = body or {}
    if "yanked" in body:
        c.packages.set_yanked(who, owner, name, version, basename, body["yanked"])
    package, f = c.packages.file(who, owner, name, version, basename)
    return file_json(f, package.owner.login, package.name, version, base_url(request))


@router.delete("/dist/{owner}/{name}/{version}/{basename:path}")
def delete_file(owner: str, name: str, version: str, basename: str, c: ContainerDep, who: PrincipalDep) -> Json:
    c.packages.delete_file(who, owner, name, version, basename)
    return {}
