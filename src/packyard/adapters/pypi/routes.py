"""PyPI: simple index pages (PEP 503/691, chosen by Accept), files and PEP 658 metadata, legacy upload."""

from __future__ import annotations

from email.utils import formatdate

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from packyard.adapters.deps import container, principal
from packyard.adapters.errors import status_for
from packyard.adapters.files import blob_response
from packyard.domain.python_meta import normalize
from packyard.domain.simple_index import HTML_TYPE, JSON_TYPE, choose_format
from packyard.errors import InvalidInput, PackyardError

router = APIRouter()
GET_HEAD = ["GET", "HEAD"]


def _page(request: Request, owner: str, label: str, project: str | None) -> Response:
    fmt = choose_format(request.headers.get("accept"), request.query_params.get("format"))
    if fmt is None:
        return PlainTextResponse(f"none of the types in Accept can be served; use {JSON_TYPE} or text/html",
                                 status_code=406, headers={"Vary": "Accept"})
    if project is not None and normalize(project) != project:
        return RedirectResponse(str(request.url.path).replace(f"/{project}/", f"/{normalize(project)}/"), 301)
    c = container(request)
    data = c.pypi.page(principal(request), owner, label, project, fmt)
    headers = {
        "ETag": data.etag[:-1] + f'-{fmt}"',
        "Last-Modified": formatdate(data.last_modified, usegmt=True),
        "Cache-Control": f"max-age={c.settings.index_max_age}",
        "Vary": "Accept",
    }
    if headers["ETag"] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data.body, media_type=JSON_TYPE if fmt == "json" else HTML_TYPE, headers=headers)


@router.api_route("/pypi/{owner}/simple/", methods=GET_HEAD)
def root(owner: str, request: Request) -> Response:
    return _page(request, owner, "main", None)


@router.api_route("/pypi/{owner}/label/{label}/simple/", methods=GET_HEAD)
def label_root(owner: str, label: str, request: Request) -> Response:
    return _page(request, owner, label, None)


@router.api_route("/pypi/{owner}/simple/{project}/", methods=GET_HEAD)
def project(owner: str, project: str, request: Request) -> Response:
    return _page(request, owner, "main", project)


@router.api_route("/pypi/{owner}/label/{label}/simple/{project}/", methods=GET_HEAD)
def label_project(owner: str, label: str, project: str, request: Request) -> Response:
    return _page(request, owner, label, project)


@router.api_route("/pypi/{owner}/simple", methods=GET_HEAD)
@router.api_route("/pypi/{owner}/simple/{project}", methods=GET_HEAD)
@router.api_route("/pypi/{owner}/label/{label}/simple", methods=GET_HEAD)
@router.api_route("/pypi/{owner}/label/{label}/simple/{project}", methods=GET_HEAD)
def add_slash(request: Request) -> Response:
    """PEP 503: page URLs end in '/'."""
    return RedirectResponse(request.url.path + "/", 301)


def _file(request: Request, owner: str, label: str, filename: str) -> Response:
    c = container(request)
    wants_metadata = filename.endswith(".metadata")
    name = filename[: -len(".metadata")] if wants_metadata else filename
    f, metadata_sha = c.pypi.file(principal(request), owner, label, name)
    if wants_metadata:
        if metadata_sha is None:
            return PlainTextResponse(f"{name} has no separate metadata", status_code=404)
        return blob_response(c, metadata_sha, filename, media_type="text/plain; charset=utf-8")
    if request.method == "GET":
        c.channels.count_download(f.id)
    return blob_response(c, f.sha256, name)


@router.api_route("/pypi/{owner}/files/{filename}", methods=GET_HEAD)
def file(owner: str, filename: str, request: Request) -> Response:
    return _file(request, owner, "main", filename)


@router.api_route("/pypi/{owner}/label/{label}/files/{filename}", methods=GET_HEAD)
def label_file(owner: str, label: str, filename: str, request: Request) -> Response:
    return _file(request, owner, label, filename)


async def _upload(request: Request, owner: str, label: str) -> Response:
    """The legacy upload API of twine and uv publish. Errors are plain text (twine shows the body)."""
    c = container(request)
    try:
        who = await run_in_threadpool(principal, request)
        try:
            form = await request.form(max_part_size=1024 * 1024)
        except Exception as exc:  # python-multipart raises several types for malformed bodies
            raise InvalidInput(f"malformed multipart upload: {exc}") from None
        try:
            content = form.get("content")
            if not isinstance(content, UploadFile) or not content.filename:
                raise InvalidInput("the upload form has no 'content' file part")
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            result = await run_in_threadpool(c.pypi.upload, who, owner, label, fields, content.filename,
                                             content.file)
        finally:
            await form.close()
    except PackyardError as exc:
        status = status_for(exc)
        headers = {"WWW-Authenticate": 'Basic realm="packyard"'} if status == 401 else None
        return PlainTextResponse(str(exc), status_code=400 if status == 409 else status, headers=headers)
    return PlainTextResponse("OK" if result.created else "OK (identical file already uploaded)")


@router.post("/pypi/{owner}/")
@router.post("/pypi/{owner}")
async def upload(owner: str, request: Request) -> Response:
    return await _upload(request, owner, "main")


@router.post("/pypi/{owner}/label/{label}/")
@router.post("/pypi/{owner}/label/{label}")
async def label_upload(owner: str, label: str, request: Request) -> Response:
    return await _upload(request, owner, label)
