"""conda channels: ``/conda/<owner>[/label/<label>]/<subdir>/repodata.json[.zst]``, package files,
``channeldata.json``. Index bytes come ready from ``ChannelService``; this module only adds HTTP caching."""

from __future__ import annotations

from email.utils import formatdate

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from packyard.adapters.deps import container, principal
from packyard.adapters.files import blob_response
from packyard.domain import names
from packyard.errors import NotFound
from packyard.services.channels import IndexBytes

router = APIRouter()
GET_HEAD = ["GET", "HEAD"]


def _index_response(request: Request, data: IndexBytes, body: bytes, etag: str, media_type: str) -> Response:
    max_age = container(request).settings.index_max_age
    headers = {
        "ETag": etag,
        "Last-Modified": formatdate(data.last_modified, usegmt=True),
        # Responses may differ by credentials (private packages), so shared caches must not keep them.
        "Cache-Control": f"private, max-age={max_age}" if _has_credentials(request) else f"public, max-age={max_age}",
        "Vary": "Authorization",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _has_credentials(request: Request) -> bool:
    return "authorization" in request.headers or "packyard.path_token" in request.scope


def _serve(request: Request, owner: str, label: str, subdir: str, filename: str) -> Response:
    c = container(request)
    who = principal(request)
    if filename in ("repodata.json", "repodata.json.zst"):
        data = c.channels.repodata(who, owner, label, subdir)
        if filename.endswith(".zst"):
            return _index_response(request, data, data.zst(), data.etag[:-1] + '-zst"', "application/zstd")
        return _index_response(request, data, data.body, data.etag, "application/json")
    if not names.is_conda_filename(filename):
        # current_repodata.json, repodata.json.bz2, shards, ...: optional files clients probe; 404 = absent.
        raise NotFound(f"{filename} is not served by this channel")
    f = c.channels.channel_file(who, owner, label, subdir, filename)
    if request.method == "GET":
        c.channels.count_download(f.id)
    return blob_response(c, f.sha256, filename)


async def _dispatch(request: Request, owner: str, label: str, subdir: str, filename: str) -> Response:
    """Anonymous repodata that this worker holds current is answered right here, on the event loop (one
    indexed query, no thread hop: the 304 path of every revalidating client); all else goes to a thread."""
    if filename in ("repodata.json", "repodata.json.zst") and not _has_credentials(request):
        data = container(request).channels.current_anonymous(owner, label, subdir)
        if data is not None and (filename == "repodata.json" or data.has_zst):
            if filename.endswith(".zst"):
                return _index_response(request, data, data.zst(), data.etag[:-1] + '-zst"', "application/zstd")
            return _index_response(request, data, data.body, data.etag, "application/json")
    return await run_in_threadpool(_serve, request, owner, label, subdir, filename)


@router.api_route("/conda/{owner}/{subdir}/{filename}", methods=GET_HEAD)
async def channel_file(owner: str, subdir: str, filename: str, request: Request) -> Response:
    return await _dispatch(request, owner, "main", subdir, filename)


@router.api_route("/conda/{owner}/label/{label}/{subdir}/{filename}", methods=GET_HEAD)
async def label_file(owner: str, label: str, subdir: str, filename: str, request: Request) -> Response:
    return await _dispatch(request, owner, label, subdir, filename)


def _channeldata(request: Request, owner: str, label: str) -> Response:
    c = container(request)
    data = c.channels.channeldata(principal(request), owner, label)
    return _index_response(request, data, data.body, data.etag, "application/json")


@router.api_route("/conda/{owner}/channeldata.json", methods=GET_HEAD)
def channeldata(owner: str, request: Request) -> Response:
    return _channeldata(request, owner, "main")


@router.api_route("/conda/{owner}/label/{label}/channeldata.json", methods=GET_HEAD)
def label_channeldata(owner: str, label: str, request: Request) -> Response:
    return _channeldata(request, owner, label)
