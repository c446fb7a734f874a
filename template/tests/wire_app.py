"""App factory the wire tests hand to the real server: the test app, secured."""

from __future__ import annotations

from .framework import build_test_app
from .service import ASGIApp, create_app


def create_test_app() -> ASGIApp:
    return create_app(build=build_test_app)
