"""The API docs' browser assets (Swagger UI), served by the service itself in debug mode.

A docs page that loads its script from a CDN is blank behind a proxy or offline,
and a CSP that allows a CDN allows anything served from it. The files come from
``swagger-ui-bundle-v2``, which packages the official ``swagger-ui-dist`` files;
every framework adapter points its docs page at the paths below, and this one
layer serves them for all three, inside the security stack (headers, rate limits).
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from .security._asgi import ASGIApp, Receive, Scope, Send

__all__ = [
    "DOCS_ASSET_PATHS",
    "SWAGGER_UI_CSS",
    "SWAGGER_UI_FAVICON",
    "SWAGGER_UI_JS",
    "SWAGGER_UI_PRESET_JS",
    "DocsAssetsMiddleware",
]

_PREFIX = "/docs-assets/swagger-ui"
SWAGGER_UI_JS = f"{_PREFIX}/swagger-ui-bundle.js"
SWAGGER_UI_CSS = f"{_PREFIX}/swagger-ui.css"
# Only Litestar's page loads the standalone preset; the others use the bundle's own.
SWAGGER_UI_PRESET_JS = f"{_PREFIX}/swagger-ui-standalone-preset.js"
SWAGGER_UI_FAVICON = f"{_PREFIX}/favicon-32x32.png"
# Asked for by the browser when a page names no icon (quart-schema's names none).
_BROWSER_FAVICON = "/favicon.ico"
# Exact paths, so they can be public (no credentials) in debug like the docs pages.
_FILES = {
    SWAGGER_UI_JS: "swagger-ui-bundle.js",
    SWAGGER_UI_CSS: "swagger-ui.css",
    SWAGGER_UI_PRESET_JS: "swagger-ui-standalone-preset.js",
    SWAGGER_UI_FAVICON: "favicon-32x32.png",
    _BROWSER_FAVICON: "favicon-32x32.png",
}
DOCS_ASSET_PATHS = tuple(_FILES)

_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
_READ_METHODS = frozenset({"GET", "HEAD"})


def _locate(name: str) -> Path:
    """The installed file ``name``; a missing one is a broken install, said at start-up."""
    file = Path(str(swagger_ui_path)) / name
    if not file.is_file():
        raise RuntimeError(f"Swagger UI asset {file} is missing: reinstall swagger-ui-bundle-v2")
    return file


class DocsAssetsMiddleware:
    """Answers GET and HEAD for the asset paths; every other request goes to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.files = {path: _locate(name) for path, name in _FILES.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        file = self.files.get(scope["path"]) if scope["type"] == "http" else None
        if file is None or scope["method"] not in _READ_METHODS:
            await self.app(scope, receive, send)
            return
        await FileResponse(file, media_type=_MEDIA_TYPES[file.suffix])(scope, receive, send)
