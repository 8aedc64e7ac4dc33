"""anaconda.org API: organizations, groups (`anaconda groups …`), collaborators, transfer, notifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.responses import JSONResponse, Response

from packyard.adapters.anaconda_api.schemas import iso, package_json, user_json
from packyard.adapters.deps import ContainerDep, PrincipalDep, base_url
from packyard.storage.db.models import Group, Owner

router = APIRouter()
Json = dict[str, Any]
NO_CONTENT = 204


def _group_json(org: str, group: Group, members: list[Owner]) -> Json:
    return {"name": group.name, "owner": org, "permission": group.permission, "perms": group.permission,
            "member_count": len(members), "members": [m.login for m in members]}


@router.post("/orgs/{org}", status_code=201)
def create_org(org: str, request: Request, c: ContainerDep, who: PrincipalDep, body: Json | None = Body(None)
               ) -> Response:
    created = c.orgs.create(who, org, (body or {}).get("owner"))
    return JSONResponse(user_json(created, base_url(request)), status_code=201)


@router.delete("/orgs/{org}")
def delete_org(org: str, c: ContainerDep, who: PrincipalDep, body: Json | None = Body(None)) -> Json:
    c.orgs.delete(who, org, (body or {}).get("confirm"))
    return {}


@router.put("/orgs/{org}/owners/{user}", status_code=201)
def add_owner(org: str, user: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.add_member(who, org, "owners", user)
    return JSONResponse({}, status_code=201)


@router.delete("/orgs/{org}/owners/{user}", status_code=201)
def remove_owner(org: str, user: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.remove_member(who, org, "owners", user)
    return JSONResponse({}, status_code=201)


@router.get("/groups/{org}")
def list_groups(org: str, c: ContainerDep, who: PrincipalDep) -> Json:
    return {"groups": [_group_json(org, g, m) for g, m in c.orgs.groups(who, org)]}


@router.get("/group/{org}/{name}")
def get_group(org: str, name: str, c: ContainerDep, who: PrincipalDep) -> Json:
    group, members, packages = c.orgs.group(who, org, name)
    return {**_group_json(org, group, members), "packages": [f"{org}/{p.name}" for p in packages]}


@router.post("/group/{org}/{name}", status_code=NO_CONTENT)
def create_group(org: str, name: str, c: ContainerDep, who: PrincipalDep, body: Json | None = Body(None)
                 ) -> Response:
    c.orgs.create_group(who, org, name, str((body or {}).get("perms") or "read"))
    return Response(status_code=NO_CONTENT)


@router.get("/group/{org}/{name}/members")
def group_members(org: str, name: str, c: ContainerDep, who: PrincipalDep) -> list[Json]:
    _, members, _ = c.orgs.group(who, org, name)
    return [{"login": m.login, "name": m.name or m.login} for m in members]


@router.get("/group/{org}/{name}/members/{user}")
def is_group_member(org: str, name: str, user: str, c: ContainerDep, who: PrincipalDep) -> Response:
    if c.orgs.is_member(who, org, name, user):
        return Response(status_code=NO_CONTENT)
    return JSONResponse({"error": f"{user} is not a member of {org}/{name}"}, status_code=404)


@router.put("/group/{org}/{name}/members/{user}", status_code=NO_CONTENT)
def add_group_member(org: str, name: str, user: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.add_member(who, org, name, user)
    return Response(status_code=NO_CONTENT)


@router.delete("/group/{org}/{name}/members/{user}", status_code=NO_CONTENT)
def remove_group_member(org: str, name: str, user: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.remove_member(who, org, name, user)
    return Response(status_code=NO_CONTENT)


@router.get("/group/{org}/{name}/packages")
def group_packages(org: str, name: str, c: ContainerDep, who: PrincipalDep) -> list[Json]:
    _, _, packages = c.orgs.group(who, org, name)
    return [{"full_name": f"{org}/{p.name}", "name": p.name, "summary": p.summary} for p in packages]


@router.put("/group/{org}/{name}/packages/{package}", status_code=NO_CONTENT)
def add_group_package(org: str, name: str, package: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.add_package(who, org, name, package)
    return Response(status_code=NO_CONTENT)


@router.delete("/group/{org}/{name}/packages/{package}", status_code=NO_CONTENT)
def remove_group_package(org: str, name: str, package: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.remove_package(who, org, name, package)
    return Response(status_code=NO_CONTENT)


@router.get("/packages/{owner}/{name}/collaborators")
def list_collaborators(owner: str, name: str, c: ContainerDep, who: PrincipalDep) -> list[Json]:
    return [{"login": u.login, "name": u.name or u.login} for u in c.orgs.collaborators(who, owner, name)]


@router.put("/packages/{owner}/{name}/collaborators/{user}", status_code=201)
def add_collaborator(owner: str, name: str, user: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.add_collaborator(who, owner, name, user)
    return JSONResponse({}, status_code=201)


@router.delete("/packages/{owner}/{name}/collaborators/{user}", status_code=201)
def remove_collaborator(owner: str, name: str, user: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.orgs.remove_collaborator(who, owner, name, user)
    return JSONResponse({}, status_code=201)


@router.post("/package/{owner}/{name}/transfer")
def transfer(owner: str, name: str, request: Request, c: ContainerDep, who: PrincipalDep,
             body: Json | None = Body(None)) -> Json:
    to_owner = str((body or {}).get("to_owner") or "")
    package = c.orgs.transfer(who, owner, name, to_owner)
    return package_json(c.packages.view(who, to_owner, package.name), base_url(request))


@router.get("/notifications")
def notifications(c: ContainerDep, who: PrincipalDep) -> list[Json]:
    return [{"id": n.id, "message": n.message, "created_at": iso(n.created_at), "read": n.read_at is not None}
            for n in c.orgs.notifications(who)]
