"""The one place where domain errors become HTTP statuses, with the body each client prints."""

from __future__ import annotations

from xml.sax.saxutils import escape

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from packyard.errors import (
    AlreadyExists,
    InvalidDigest,
    InvalidInput,
    NotFound,
    PackyardError,
    PermissionDenied,
    Unauthenticated,
    UploadExpired,
)

STATUS: list[tuple[type[PackyardError], int]] = [
    (InvalidDigest, 400),
    (UploadExpired, 400),
    (InvalidInput, 400),
    (NotFound, 404),
    (AlreadyExists, 409),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
]

# S3 error codes for the storage POST: the anaconda CLI parses XML there and reads <Code>.
S3_CODES: list[tuple[type[PackyardError], str, int]] = [
    (InvalidDigest, "InvalidDigest", 400),
    (UploadExpired, "AccessDenied", 403),
]


def status_for(exc: PackyardError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def s3_error(exc: PackyardError) -> Response:
    code, status = "InvalidRequest", 400
    for cls, c, st in S3_CODES:
        if isinstance(exc, cls):
            code, status = c, st
            break
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{escape(str(exc))}</Message></Error>"
    return Response(body, status_code=status, media_type="application/xml")


def _json_error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="packyard"'} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(PackyardError)
    async def _domain(request: Request, exc: PackyardError) -> Response:
        if request.scope.get("packyard.s3_errors"):
            return s3_error(exc)
        return _json_error(status_for(exc), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such page: {request.url.path}"
        return _json_error(exc.status_code, message)

    @app.exception_handler(IntegrityError)
    async def _race(request: Request, exc: IntegrityError) -> Response:
        # Two requests created the same thing at once and the database refused the second: a conflict the
        # client may retry, not a server fault.
        return _json_error(409, "conflict with a concurrent change to the same package or file; try again")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _json_error(400, f"invalid request: {where}: {first.get('msg', 'malformed')}")
