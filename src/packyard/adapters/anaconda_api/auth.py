"""anaconda.org API: server probe, login tokens, scopes and users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.responses import JSONResponse, Response

from packyard import __version__
from packyard.adapters.anaconda_api.schemas import token_json, user_json
from packyard.adapters.deps import ContainerDep, PrincipalDep, base_url
from packyard.domain.permissions import SCOPES
from packyard.services.accounts import TokenRequest

router = APIRouter()


@router.api_route("", methods=["GET", "HEAD"])
def api_root() -> dict[str, Any]:
    return {"status": "ok", "versions": {"packyard": __version__}}


@router.get("/authentication-type")
def authentication_type() -> dict[str, str]:
    return {"authentication_type": "password"}


@router.post("/authentications")
def create_token(c: ContainerDep, who: PrincipalDep, body: dict[str, Any] | None = Body(None)) -> dict[str, Any]:
    body = body or {}
    scopes = body.get("scopes")
    note = str(body.get("note") or "packyard token")
    req = TokenRequest(
        name=note, scopes=list(scopes or []), max_age=body.get("max-age"),
        strength=str(body.get("strength") or "strong"), hostname=body.get("hostname"),
        acts_for=body.get("user"), fail_if_exists=bool(body.get("fail-if-exists", False)),
        is_login=scopes is None and not body.get("user"),
    )
    return {"token": c.accounts.issue_token_for(who, req)}


@router.get("/authentication")
def current_token(c: ContainerDep, who: PrincipalDep) -> dict[str, Any]:
    return token_json(c.accounts.current_token(who))


@router.get("/authentications")
def list_tokens(c: ContainerDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return [token_json(t) for t in c.accounts.list_tokens(who)]


@router.delete("/authentications", status_code=201)
def logout(c: ContainerDep, who: PrincipalDep) -> Response:
    c.accounts.revoke_current(who)
    return JSONResponse({}, status_code=201)


@router.delete("/authentications/name/{name}", status_code=201)
def remove_token(name: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.accounts.revoke_by_name(who, name)
    return JSONResponse({}, status_code=201)


@router.delete("/authentications/org/{org}/name/{name}", status_code=201)
def remove_org_token(org: str, name: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.accounts.revoke_by_name(who, name, org=org)
    return JSONResponse({}, status_code=201)


@router.get("/scopes")
def scopes() -> dict[str, str]:
    return SCOPES


@router.get("/user")
def current_user(request: Request, c: ContainerDep, who: PrincipalDep) -> dict[str, Any]:
    return user_json(c.accounts.current_user(who), base_url(request))


@router.get("/user/orgs")
def my_orgs(request: Request, c: ContainerDep, who: PrincipalDep) -> list[dict[str, Any]]:
    user = c.accounts.current_user(who)
    return [user_json(o, base_url(request)) for o in c.orgs.orgs_of(user.login)]


@router.get("/user/{login}")
def get_user(login: str, request: Request, c: ContainerDep) -> dict[str, Any]:
    return user_json(c.accounts.get_owner(login), base_url(request))


@router.get("/users/{login}/orgs")
def user_orgs(login: str, request: Request, c: ContainerDep) -> list[dict[str, Any]]:
    return [user_json(o, base_url(request)) for o in c.orgs.orgs_of(login)]
