"""anaconda.org API: labels (`anaconda label …`, `anaconda move`) and `anaconda copy` (spec §4 #30-#37)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.responses import JSONResponse, Response

from packyard.adapters.anaconda_api.schemas import file_json
from packyard.adapters.deps import ContainerDep, PrincipalDep, base_url

router = APIRouter()
Json = dict[str, Any]


def _created() -> Response:
    return JSONResponse({}, status_code=201)


@router.get("/channels/{owner}")
def list_labels(owner: str, c: ContainerDep, who: PrincipalDep) -> Json:
    return {label.name: {"is_locked": label.is_locked} for label in c.labels.list(who, owner)}


@router.get("/channels/{owner}/{label}")
def show_label(owner: str, label: str, request: Request, c: ContainerDep, who: PrincipalDep) -> Json:
    view = c.labels.show(who, owner, label)
    base = base_url(request)
    return {"name": view.label.name, "is_locked": view.label.is_locked,
            "files": [file_json(f, owner, p.name, r.version, base) for p, r, f in view.files]}


@router.post("/channels/{owner}/{label}", status_code=201)
def add_to_label(owner: str, label: str, c: ContainerDep, who: PrincipalDep, body: Json | None = Body(None)
                 ) -> Response:
    body = body or {}
    c.labels.add(who, owner, label, body.get("package"), body.get("version"), body.get("basename"))
    return _created()


@router.delete("/channels/{owner}/{label}", status_code=201)
def remove_from_label(owner: str, label: str, c: ContainerDep, who: PrincipalDep,
                      body: Json | None = Body(None)) -> Response:
    body = body or {}
    c.labels.remove(who, owner, label, body.get("package"), body.get("version"), body.get("basename"))
    return _created()


@router.post("/channels/{owner}/{source}/copy/{target}", status_code=201)
def copy_label(owner: str, source: str, target: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.labels.copy_label(who, owner, source, target)
    return _created()


@router.post("/channels/{owner}/{label}/lock", status_code=201)
def lock_label(owner: str, label: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.labels.set_locked(who, owner, label, True)
    return _created()


@router.delete("/channels/{owner}/{label}/lock", status_code=201)
def unlock_label(owner: str, label: str, c: ContainerDep, who: PrincipalDep) -> Response:
    c.labels.set_locked(who, owner, label, False)
    return _created()


@router.api_route("/copy/package/{owner}/{package}/{version}/{basename:path}", methods=["POST", "PUT", "PATCH"])
def copy_files(owner: str, package: str, version: str, basename: str, request: Request, c: ContainerDep,
               who: PrincipalDep, body: Json | None = Body(None)) -> list[Json]:
    body = body or {}
    mode = {"PUT": "replace", "PATCH": "update"}.get(request.method, "fail")
    copied = c.labels.copy_files(who, owner, package, version, basename or None, body.get("to_owner"),
                                 body.get("from_channel") or "main", body.get("to_channel") or "main", mode)
    target = body.get("to_owner") or owner
    return [file_json(f, target, package, ver, base_url(request)) for ver, f in copied]
