"""Pages for notebooks (``/notebooks/<owner>/<name>[/<version>]``) and environments (``/envs/<owner>``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import JSONResponse, Response

from packyard.adapters.deps import container, principal

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# The notebook HTML is already sanitized; the policy is a second wall: no script runs on these pages.
CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _notebook(request: Request, owner: str, name: str, version: str | None) -> Response:
    c = container(request)
    doc = c.documents.notebook(principal(request), owner, name, version)
    html_sha = (doc.file.attrs or {}).get("html_sha256")
    body = b"" if html_sha is None else b"".join(c.blobs.iter_chunks(html_sha))
    c.channels.count_download(doc.file.id)
    download_url = (f"/api/download/{quote(owner)}/{quote(doc.package.name)}/{quote(doc.release.version)}/"
                    f"{quote(doc.file.basename)}")
    response = templates.TemplateResponse(
        request, "notebook.html",
        {"owner": owner, "doc": doc, "body": body.decode(), "download_url": download_url},
    )
    response.headers["Content-Security-Policy"] = CSP
    return response


@router.get("/notebooks/{owner}/{name}")
def notebook(owner: str, name: str, request: Request) -> Response:
    return _notebook(request, owner, name, None)


@router.get("/notebooks/{owner}/{name}/{version}")
def notebook_version(owner: str, name: str, version: str, request: Request) -> Response:
    return _notebook(request, owner, name, version)


@router.get("/envs/{owner}")
def environments(owner: str, request: Request) -> Response:
    docs = container(request).documents.environments(principal(request), owner)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse([{"name": d.package.name, "version": d.release.version, "basename": d.file.basename,
                              "summary": d.package.summary} for d in docs])
    response = templates.TemplateResponse(request, "envs.html", {"owner": owner, "docs": docs})
    response.headers["Content-Security-Policy"] = CSP
    return response
