"""anaconda.org API: projects (`anaconda-project upload/download`): ``/apps/<owner>/projects…``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.responses import JSONResponse, Response

from packyard.adapters.anaconda_api.schemas import iso
from packyard.adapters.anaconda_api.uploads import stage_response
from packyard.adapters.deps import ContainerDep, PrincipalDep, base_url
from packyard.adapters.files import blob_response
from packyard.services.packages import PackageView
from packyard.services.projects import Revision

router = APIRouter()
Json = dict[str, Any]


def _project_json(view: PackageView, base: str) -> Json:
    p = view.package
    return {"name": p.name, "owner": p.owner.login, "access": p.access, "summary": p.summary,
            "profile": {"summary": p.summary, "description": p.description},
            "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
            "url": f"{base}/{p.owner.login}/{p.name}"}


def _revision_json(rv: Revision) -> Json:
    return {"revision": rv.release.version, "created_at": iso(rv.file.upload_time), "basename": rv.file.basename,
            "size": rv.file.size, "sha256": rv.file.sha256, "ndownloads": rv.file.download_count,
            "configuration": (rv.release.attrs or {}).get("configuration", {})}


@router.get("/apps/{owner}/projects")
def list_projects(owner: str, request: Request, c: ContainerDep, who: PrincipalDep) -> list[Json]:
    return [_project_json(v, base_url(request)) for v in c.projects.list(who, owner)]


@router.post("/apps/{owner}/projects", status_code=201)
def create_project(owner: str, request: Request, c: ContainerDep, who: PrincipalDep,
                   body: Json | None = Body(None)) -> Response:
    view = c.projects.create(who, owner, body or {})
    return JSONResponse(_project_json(view, base_url(request)), status_code=201)


@router.get("/apps/{owner}/projects/{name}")
def get_project(owner: str, name: str, request: Request, c: ContainerDep, who: PrincipalDep) -> Json:
    return _project_json(c.projects.get(who, owner, name), base_url(request))


@router.post("/apps/{owner}/projects/{name}/stage")
def stage_revision(owner: str, name: str, request: Request, c: ContainerDep, who: PrincipalDep,
                   body: Json | None = Body(None)) -> Json:
    return stage_response(request, c.projects.stage(who, owner, name, body or {}))


@router.post("/apps/{owner}/projects/{name}/commit/{dist_id}", status_code=201)
def commit_revision(owner: str, name: str, dist_id: str, request: Request, c: ContainerDep,
                    who: PrincipalDep) -> Response:
    f = c.projects.commit(who, owner, name, dist_id)
    return JSONResponse({"url": f"{base_url(request)}/{owner}/{name}", "basename": f.basename}, status_code=201)


@router.get("/apps/{owner}/projects/{name}/revisions")
def list_revisions(owner: str, name: str, c: ContainerDep, who: PrincipalDep) -> list[Json]:
    return [_revision_json(rv) for rv in c.projects.revisions(who, owner, name)]


def _download(c: Any, who: Any, owner: str, name: str, revision: str | None) -> Response:
    rv = c.projects.revision(who, owner, name, revision)
    c.channels.count_download(rv.file.id)
    response = blob_response(c, rv.file.sha256, rv.file.basename)
    # anaconda-project reads the name with the pattern 'filename=(.+);', so the ';' after it matters.
    response.headers["Content-Disposition"] = f'attachment; filename="{rv.file.basename}"; revision={rv.release.version}'
    return response


@router.get("/apps/{owner}/projects/{name}/download")
def download_latest(owner: str, name: str, c: ContainerDep, who: PrincipalDep) -> Response:
    return _download(c, who, owner, name, None)


@router.get("/apps/{owner}/projects/{name}/revisions/{revision}/download")
def download_revision(owner: str, name: str, revision: str, c: ContainerDep, who: PrincipalDep) -> Response:
    return _download(c, who, owner, name, revision)
