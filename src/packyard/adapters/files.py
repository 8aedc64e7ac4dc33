"""Signed blob downloads: ``/files/<sha256>/<filename>?expires=…&signature=…`` (no credentials needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response, StreamingResponse

from packyard.adapters.deps import ContainerDep
from packyard.errors import NotFound

router = APIRouter()
IMMUTABLE = "public, max-age=31536000, immutable"


def blob_response(c: object, sha256: str, filename: str, media_type: str = "application/octet-stream",
                  cache_control: str = IMMUTABLE) -> Response:
    """Serve a blob in chunks (memory stays flat for any size); a local file goes out via sendfile."""
    blobs = c.blobs  # type: ignore[attr-defined]
    headers = {"Cache-Control": cache_control, "ETag": f'"{sha256}"'}
    path = blobs.local_path(sha256)
    if path is not None:
        return FileResponse(path, media_type=media_type, filename=filename, headers=headers,
                            content_disposition_type="attachment")
    return StreamingResponse(blobs.iter_chunks(sha256), media_type=media_type, headers=headers)


@router.get("/files/{sha256}/{filename}")
def signed_file(sha256: str, filename: str, expires: int, signature: str, c: ContainerDep,
                request: Request) -> Response:
    if not c.signer.verify(sha256, filename, expires, signature):
        raise NotFound("this download link is invalid or has expired; ask for the file again")
    return blob_response(c, sha256, filename)
