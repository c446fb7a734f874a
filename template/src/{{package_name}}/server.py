"""Run the app on Granian with the timeouts and shutdown grace from the settings."""

from __future__ import annotations

import math

from granian import Granian
from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

from .settings import Settings

__all__ = ["APP_TARGET", "serve"]

APP_TARGET = f"{__package__}.app:create_app"


def serve(settings: Settings, target: str = APP_TARGET) -> None:
    """Serve ``target`` (an app factory) until SIGTERM/SIGINT, then drain and exit.

    Granian has no separate idle keep-alive timer: ``header_read_timeout`` bounds
    how long a kept-alive connection may wait for its next request's headers, so
    ``KEEP_ALIVE_TIMEOUT`` maps onto it.
    """
    Granian(
        target,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=settings.workers,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.keep_alive_timeout * 1000),
        ),
        workers_kill_timeout=math.ceil(settings.shutdown_grace) or None,
        log_level=LogLevels(settings.log_level.lower()),
        log_access=False,  # the security stack writes the access log
    ).serve()
