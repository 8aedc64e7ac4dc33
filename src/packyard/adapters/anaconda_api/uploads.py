"""anaconda.org API: the upload protocol (stage → storage POST → commit) and downloads."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from packyard.adapters.deps import ContainerDep, PrincipalDep, base_url
from packyard.adapters.errors import s3_error
from packyard.errors import InvalidInput, PackyardError
from packyard.services.uploads import StagedTicket

router = APIRouter()

_MAX_FORM_FIELD = 64 * 1024


@router.post("/stage/{owner}/{name}/{version}/{basename:path}")
def stage(owner: str, name: str, version: str, basename: str, request: Request, c: ContainerDep,
          who: PrincipalDep, body: dict[str, Any] | None = Body(None)) -> dict[str, Any]:
    return stage_response(request, c.uploads.stage(who, owner, name, version, basename, body or {}))


def stage_response(request: Request, ticket: StagedTicket) -> dict[str, Any]:
    return {
        "post_url": f"{base_url(request)}/api/upload/{ticket.dist_id}",
        # Echoed back by the client in the multipart POST; `signature` is the single-use capability.
        "form_data": {"key": ticket.basename, "signature": ticket.secret, "success_action_status": "201",
                      "Content-Type": "application/octet-stream"},
        "dist_id": ticket.dist_id,
        "basename": ticket.basename,
    }


@router.post("/upload/{dist_id}")
async def storage_post(dist_id: str, request: Request) -> Response:
    """S3-style presigned POST emulation: 201 on success, S3 XML errors (the CLI parses ``<Code>``)."""
    c = request.app.state.container
    try:
        form = await request.form(max_part_size=_MAX_FORM_FIELD)
    except Exception as exc:  # malformed multipart: python-multipart raises several types
        return s3_error(InvalidInput(f"malformed multipart upload: {exc}"))
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the form has no 'file' part")
        secret = form.get("signature")
        await run_in_threadpool(
            c.uploads.store, dist_id, str(secret or ""), upload.file, _field(form.get("Content-Length")),
            _field(form.get("Content-MD5")),
        )
    except PackyardError as exc:
        return s3_error(exc)
    finally:
        await form.close()
    return Response("<?xml version='1.0' encoding='UTF-8'?><PostResponse/>", status_code=201,
                    media_type="application/xml")


def _field(value: object) -> str | None:
    return value if isinstance(value, str) else None


@router.post("/commit/{owner}/{name}/{version}/{basename:path}")
def commit(owner: str, name: str, version: str, basename: str, request: Request, c: ContainerDep,
           who: PrincipalDep, body: dict[str, Any] | None = Body(None)) -> dict[str, Any]:
    login, f = c.uploads.commit(who, owner, name, version, basename, (body or {}).get("dist_id"))
    return {"url": f"{base_url(request)}/{login}/{name}", "basename": f.basename, "sha256": f.sha256,
            "size": f.size}


@router.get("/download/{owner}/{name}/{version}/{basename:path}")
def download(owner: str, name: str, version: str, basename: str, request: Request, c: ContainerDep,
             who: PrincipalDep) -> Response:
    _, f = c.packages.file(who, owner, name, version, basename)
    c.channels.count_download(f.id)
    filename = f.basename.rsplit("/", 1)[-1]
    expires, signature = c.signer.sign(f.sha256, filename)
    query = urlencode({"expires": expires, "signature": signature})
    return RedirectResponse(f"{base_url(request)}/files/{f.sha256}/{quote(filename)}?{query}", status_code=302)
