"""`/docs`: the REST API's Swagger UI, served by the console itself (no CDN, strict CSP kept).

Swagger UI's files come from the `fastapi-offline` package (MIT); the page's own start-up script
is a static file, so the Content-Security-Policy still allows no inline script.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from entrasync_console.core.errors import Problem
from entrasync_console.core.security import console
from entrasync_console.web.rendering import render, session_or_login

router = APIRouter(include_in_schema=False)
ASSETS = Path(fastapi_offline.__file__).parent / "static"
SERVED = frozenset({"swagger-ui-bundle.js", "swagger-ui.css"})
ASSET_CACHE = "public, max-age=86400"


@router.get("/docs")
async def api_docs(request: Request) -> Response:
    session_or_login(request)
    return await render(request, console(request), "docs.html", active="docs")


@router.get("/docs/assets/{name}")
async def api_docs_asset(name: str) -> FileResponse:
    if name not in SERVED:
        raise Problem(404, "not_found", "no such page or API endpoint")
    return FileResponse(ASSETS / name, headers={"cache-control": ASSET_CACHE})
