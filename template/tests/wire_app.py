"""App factory the wire tests hand to the real server: the test app, secured."""

from __future__ import annotations

from .framework import build_test_app
from .service import ASGIApp, Settings, apply_security, configure_logging


def create_app() -> ASGIApp:
    settings = Settings()
    configure_logging(settings)
    return apply_security(build_test_app(settings), settings)
