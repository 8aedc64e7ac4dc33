"""Request → service plumbing shared by every adapter: the container, the caller (``Principal``), URLs."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from packyard.container import Container
from packyard.domain.permissions import ANONYMOUS, Principal, Surface
from packyard.errors import Unauthenticated

PATH_TOKEN = "packyard.path_token"


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def principal(request: Request) -> Principal:
    """The caller, on the surface the request came through (token scopes are per surface)."""
    path = request.scope["path"]
    surface = Surface.CONDA if path.startswith("/conda/") else Surface.PYPI if path.startswith("/pypi/") else Surface.API
    return _credentials(request).on(surface)


def _credentials(request: Request) -> Principal:
    """Credentials in the order clients send them: a ``/t/<token>/`` path prefix, then the Authorization
    header (``token T`` from anaconda-client, ``Bearer T``, or Basic with ``__token__`` or a password)."""
    c = container(request)
    path_token = request.scope.get(PATH_TOKEN)
    if path_token:
        return c.accounts.principal_for_token(path_token)
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("token", "bearer") and value:
        return c.accounts.principal_for_token(value)
    if scheme == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        if user == "__token__":
            return c.accounts.principal_for_token(password)
        return c.accounts.principal_for_password(user, password)
    raise Unauthenticated(f"unsupported Authorization scheme {scheme!r}; use 'token', 'Bearer' or 'Basic'")


def base_url(request: Request) -> str:
    """Absolute base URL for links the client follows (``PACKYARD_PUBLIC_URL`` behind a proxy)."""
    configured = container(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


ContainerDep = Annotated[Container, Depends(container)]
PrincipalDep = Annotated[Principal, Depends(principal)]
