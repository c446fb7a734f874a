"""The served ASGI app: the framework adapter's app inside the security layers.

Servers import ``create_app`` as a factory, so each worker process builds its
own app from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from .app import DOCS_PATHS, build_app
from .observability import configure_observability
from .security import apply_security
from .security._asgi import ASGIApp
from .settings import Settings

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None, *, build: Callable[[Settings], object] = build_app
) -> ASGIApp:
    """Configure logging, build the framework app, secure it. ``build`` is for tests."""
    settings = settings or Settings()
    configure_observability(settings)
    docs = DOCS_PATHS if settings.debug else ()  # the docs exist (and are public) in debug only
    # Every framework app is an ASGI callable; some type their scope more narrowly.
    return apply_security(cast(ASGIApp, build(settings)), settings, public_paths=docs)
