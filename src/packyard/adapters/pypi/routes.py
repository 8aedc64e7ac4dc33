"""PyPI: simple index pages (PEP 503/691, chosen by Accept), files and PEP 658 metadata, legacy upload."""

from __future__ import annotations

from email.utils import formatdate
from functools import lru_cache

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from packyard.adapters.deps import container, principal
from packyard.adapters.errors import status_for
from packyard.adapters.files import blob_response
from packyard.domain.python_meta import normalize
from packyard.domain.simple_index import JSON_TYPE, negotiate
from packyard.errors import InvalidInput, PackyardError
from packyard.services.index_cache import IndexBytes

router = APIRouter()
GET_HEAD = ["GET", "HEAD"]


@lru_cache(maxsize=1024)
def _http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def _page(request: Request, owner: str, label: str, project: str | None) -> Response:
    chosen = negotiate(request.headers.get("accept"), request.query_params.get("format"))
    if chosen is None:
        return PlainTextResponse(f"none of the types in Accept can be served; use {JSON_TYPE} or text/html",
                                 status_code=406, headers={"Vary": "Accept"})
    fmt, content_type = chosen
    if project is not None and normalize(project) != project:
        # Relative, so a /t/<token>/ prefix (taken out of the path before routing) stays in the URL.
        return RedirectResponse(f"../{normalize(project)}/", 301)
    c = container(request)
    data = c.pypi.page(principal(request), owner, label, project, fmt)
    return _page_response(request, data, fmt, content_type)


def _page_response(request: Request, data: IndexBytes, fmt: str, content_type: str) -> Response:
    headers = {
        "ETag": data.etag[:-1] + f'-{fmt}"',
        "Last-Modified": _http_date(data.last_modified),
        "Cache-Control": f"max-age={container(request).settings.index_max_age}",
        "Vary": "Accept, Authorization",
    }
    if headers["ETag"] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data.body, media_type=content_type, headers=headers)


# The pages are ``async`` plain Starlette routes: a page is one indexed query plus bytes cached per worker,
# and the hop to the thread pool cost ~2/3 of the throughput, FastAPI's parameter handling ~10% more
# (benchmarks/pypi_serving.py). Files and uploads stay FastAPI routes, off the event loop.
async def _dispatch(request: Request, owner: str, label: str, project: str | None) -> Response:
    """An anonymous page this worker holds current is answered here, on the event loop (one indexed query);
    credentials, rebuilds and redirects go to a thread, off the loop."""
    chosen = negotiate(request.headers.get("accept"), request.query_params.get("format"))
    has_credentials = "authorization" in request.headers or "packyard.path_token" in request.scope
    if chosen is not None and not has_credentials and (project is None or normalize(project) == project):
        data = container(request).pypi.current_anonymous(owner, label, project, chosen[0])
        if data is not None:
            return _page_response(request, data, *chosen)
    return await run_in_threadpool(_page, request, owner, label, project)


async def root(request: Request) -> Response:
    return await _dispatch(request, request.path_params["owner"], "main", None)


async def label_root(request: Request) -> Response:
    return await _dispatch(request, request.path_params["owner"], request.path_params["label"], None)


async def project(request: Request) -> Response:
    return await _dispatch(request, request.path_params["owner"], "main", request.path_params["project"])


async def label_project(request: Request) -> Response:
    p = request.path_params
    return await _dispatch(request, p["owner"], p["label"], p["project"])


async def add_slash(request: Request) -> Response:
    """PEP 503: page URLs end in '/'. Relative, to keep a /t/<token>/ prefix."""
    return RedirectResponse(request.url.path.rsplit("/", 1)[-1] + "/", 301)


for _path, _endpoint in (
    ("/pypi/{owner}/simple/", root),
    ("/pypi/{owner}/label/{label}/simple/", label_root),
    ("/pypi/{owner}/simple/{project}/", project),
    ("/pypi/{owner}/label/{label}/simple/{project}/", label_project),
    ("/pypi/{owner}/simple", add_slash),
    ("/pypi/{owner}/simple/{project}", add_slash),
    ("/pypi/{owner}/label/{label}/simple", add_slash),
    ("/pypi/{owner}/label/{label}/simple/{project}", add_slash),
):
    router.add_route(_path, _endpoint, methods=GET_HEAD)


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
