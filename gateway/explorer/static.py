"""ASGI app serving the explorer's files: fetched assets from the data dir, our own from the package.

Mount it at the `assets_prefix` given to `render_page` (default `/_explorer`).
"""

from __future__ import annotations

import hashlib
import os
from importlib.resources import files
from pathlib import Path
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.explorer.assets import ASSET_PACKAGES, assets_dir
from gateway.explorer.page import FIRST_PARTY_FILES

__all__ = ["static_app"]

# Set explicitly: `mimetypes` reads the host's tables (on Windows, the registry), and a .js served as
# text/plain under nosniff would be refused by the browser.
_MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}
# Files under `<name>@<version>/` never change for a given URL; everything else is revalidated.
_IMMUTABLE: Final = "public, max-age=31536000, immutable"
_REVALIDATE: Final = "no-cache"
_VERSIONED_DIRS: Final = tuple(package.spec for package in ASSET_PACKAGES)


def static_app(data_dir: Path) -> ASGIApp:
    """Serve `assets_dir(data_dir)` and the first-party files, all with `X-Content-Type-Options: nosniff`."""
    routes: list[Route | Mount] = [_first_party_route(name) for name in FIRST_PARTY_FILES]
    routes.append(Mount("", app=_AssetFiles(directory=assets_dir(data_dir), check_dir=False)))
    return _NoSniff(Router(routes=routes))


def _first_party_route(name: str) -> Route:
    body = files("gateway.explorer").joinpath(name).read_bytes()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": _REVALIDATE}
    media_type = _media_type(name) or "application/octet-stream"

    async def endpoint(request: Request) -> Response:
        if etag in (request.headers.get("if-none-match") or ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    return Route(f"/{name}", endpoint, methods=["GET", "HEAD"])


def _media_type(name: str) -> str | None:
    return _MEDIA_TYPES.get(os.path.splitext(name)[1])


class _AssetFiles(StaticFiles):
    """StaticFiles with explicit types, cache headers, and plain error responses instead of exceptions."""

    async def check_config(self) -> None:
        # The folder may appear later (`livegate explorer fetch-assets` while running); until then: 404.
        return

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            # Answered here so the app works mounted or on its own, and the 404 does not say why.
            return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=_media_type(os.fspath(full_path)),
            headers={"Cache-Control": self._cache_control(full_path)},
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    def _cache_control(self, full_path: str | os.PathLike[str]) -> str:
        assert self.directory is not None
        relative = Path(os.path.relpath(full_path, os.path.realpath(self.directory))).as_posix()
        versioned = any(relative.startswith(f"{spec}/") for spec in _VERSIONED_DIRS)
        return _IMMUTABLE if versioned else _REVALIDATE


class _NoSniff:
    """Adds `X-Content-Type-Options: nosniff` to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_header)
