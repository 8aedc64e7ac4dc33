"""ASGI middleware for tokens inside URLs: ``/t/<token>/conda/...`` and ``/conda/t/<token>/...``.

The token is moved out of the path *in place* before anything else sees the request, so the access log
(which reads the same scope) never prints it, and routes only ever see token-free paths.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from packyard.adapters.deps import PATH_TOKEN

_PATTERNS = (
    re.compile(r"^/t/([^/]+)(/.*)$"),
    re.compile(r"^/(conda|pypi)/t/([^/]+)(/.*)$"),
)


class PathTokenMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(("/t/", "/conda/t/", "/pypi/t/")):
                m = _PATTERNS[0].match(path)
                if m:
                    token, rest = m.group(1), m.group(2)
                else:
                    m2 = _PATTERNS[1].match(path)
                    token, rest = (m2.group(2), f"/{m2.group(1)}{m2.group(3)}") if m2 else (None, path)
                if token is not None:
                    scope[PATH_TOKEN] = token
                    scope["path"] = rest
                    scope["raw_path"] = rest.encode()
        await self.app(scope, receive, send)
