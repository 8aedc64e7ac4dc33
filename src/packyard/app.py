"""``create_app(settings)``: the FastAPI application with its adapters mounted. Nothing is built at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from packyard import __version__
from packyard.adapters import errors
from packyard.adapters.anaconda_api import auth, labels, orgs, packages, projects, uploads
from packyard.adapters.conda import routes as conda_routes
from packyard.adapters.pypi import routes as pypi_routes
from packyard.adapters.web import documents as web_documents
from packyard.adapters.files import router as files_router
from packyard.adapters.tokens_in_path import PathTokenMiddleware
from packyard.container import Container
from packyard.settings import Settings

log = logging.getLogger("packyard")


def _clean(c: Container, settings: Settings) -> None:
    """Remove what dead or abandoned uploads left: partial temp files, expired staged rows, their blobs."""
    removed = c.blobs.clean_temp(older_than=settings.signed_url_ttl)
    dropped = c.uploads.cleanup(older_than=0)
    if removed or dropped:
        log.info("cleaned %d partial blob(s) and %d expired staged upload(s)", removed, dropped)


async def _janitor(c: Container, settings: Settings) -> None:
    while True:
        await asyncio.sleep(max(60, settings.signed_url_ttl))
        try:
            await run_in_threadpool(_clean, c, settings)
        except Exception:  # keep the janitor alive; the next round retries
            log.exception("cleanup failed")


def create_app(settings: Settings, container: Container | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = container or Container(settings)
        app.state.container = c
        _clean(c, settings)
        janitor = asyncio.create_task(_janitor(c, settings))
        yield
        janitor.cancel()
        if container is None:
            c.close()

    app = FastAPI(title="packyard", version=__version__, lifespan=lifespan, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None)
    errors.install(app)
    # The index routes first: routes are matched in order, and matching the /api routes first cost about
    # 135 µs on every repodata request (benchmarks/repodata_serving.py). Their paths do not overlap.
    app.include_router(conda_routes.router)
    app.include_router(pypi_routes.router)
    app.include_router(web_documents.router)
    app.include_router(auth.router, prefix="/api")
    app.include_router(packages.router, prefix="/api")
    app.include_router(uploads.router, prefix="/api")
    app.include_router(orgs.router, prefix="/api")
    app.include_router(labels.router, prefix="/api")
    app.include_router(projects.router, prefix="/api")
    app.include_router(files_router)
    app.add_middleware(PathTokenMiddleware)
    return app
