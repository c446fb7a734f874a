"""One structured log line per request: method, path, status, duration, client.

The same place reports each request to the observer (security/observe.py), by
route template (``/api/v1/items/{item_id}``), never by raw path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from time import perf_counter
from typing import Any

import structlog

from ._asgi import ASGIApp, Message, Receive, Scope, Send
from .client import client_ip
from .observe import observer
from .routes import RouteTable

__all__ = ["UNMATCHED_ROUTE", "AccessLogMiddleware", "emitter", "method_label", "route_label"]

_START = "http.response.start"
_OWN = frozenset({"logger", "event"})  # set by the bound logger itself on its own path
_LINE_TYPES = (str, bytes, bytearray)  # what a renderer returns as a finished line
Emit = Callable[[dict[str, Any]], None]
# The route label of a request no route serves (an unknown path, a probe, an attack):
# one fixed value, so no client can add labels.
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The method as a label: one of the standard ones, else ``OTHER`` (clients choose it)."""
    return method if method in _METHODS else "OTHER"


def route_label(routes: RouteTable, method: str, path: str) -> str:
    """The path template of the route serving the request, or :data:`UNMATCHED_ROUTE`."""
    key = routes.match(method, path)
    return UNMATCHED_ROUTE if key is None else key.partition(" ")[2]


def emitter(logger: Any, *, held: bool = False) -> Emit | None:
    """What ``logger.info(event, **fields)`` does, without its per-call overhead.

    The access line is written once per request (and once per gRPC call), so it
    skips structlog's generic bound-logger dispatch (context copy, keyword
    re-packing, lookups) and runs the configured processor chain, then the
    configured output, itself. ``fields`` hold the bound ``logger`` first and
    ``event`` last, in the order ``logger.info`` would give them. The line is
    the one ``logger.info`` would write. None when the level filters ``info`` out.
    A logger that is not structlog's filtering bound logger keeps its own path.
    ``held``: through the output's ``buffered`` method where it has one (the
    bounded buffer ``logs.LineSink`` keeps for successful requests' lines).
    """
    is_enabled_for = getattr(logger, "is_enabled_for", None)
    if is_enabled_for is None:
        return lambda fields: logger.info(
            fields["event"], **{k: v for k, v in fields.items() if k not in _OWN}
        )
    if not is_enabled_for(logging.INFO):
        return None
    config = structlog.get_config()
    processors = tuple(config["processors"])
    wrapped = config["logger_factory"]()  # what the processors see as the logger
    output = getattr(wrapped, "buffered", wrapped.info) if held else wrapped.info
    drop = structlog.DropEvent

    def emit(event_dict: Any) -> None:
        try:
            for processor in processors:
                event_dict = processor(wrapped, "info", event_dict)
        except drop:
            return
        if isinstance(event_dict, _LINE_TYPES):
            output(event_dict)
        elif isinstance(event_dict, tuple):
            args, kwargs = event_dict
            output(*args, **kwargs)
        else:
            output(**event_dict)

    return emit


class AccessLogMiddleware:
    """Logs after the response; the query string is never logged (it may hold secrets).

    Lines of responses below 400 may be held briefly (``logs.LineSink``); a
    refusal's or an error's line is written at once, after them. ``quiet_paths``
    (the health probes, unless configured otherwise) are not logged when they
    answer 200: a probe every few seconds would drown the rest.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        logger_name: str,
        quiet_paths: Iterable[str] = (),
        routes: Iterable[str] = (),
    ) -> None:
        """``routes``: the route keys (``"GET /api/v1/items/{item_id}"``) reported by template."""
        self.app = app
        self.routes = RouteTable(routes)
        self.logger_name = logger_name
        self.quiet_paths = frozenset(quiet_paths)
        # Resolved now, with the logging configuration in force when the app is built.
        self.logger = structlog.get_logger().bind(logger=logger_name)
        self.emit = emitter(self.logger)
        self.emit_held = emitter(self.logger, held=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        emit, emit_held = self.emit, self.emit_held
        listener = observer()
        logged = emit is not None and emit_held is not None
        if scope["type"] != "http" or not (logged or listener.active):
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if nothing is sent at all
        start = perf_counter()
        if listener.active:
            listener.request_started()

        def status_send(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == _START:
                status = message["status"]
            return send(message)

        line: Emit | None
        try:
            await self.app(scope, receive, status_send)
        finally:
            if listener.active:
                method, path = scope["method"], scope["path"]
                listener.request_finished(
                    method_label(method),
                    route_label(self.routes, method, path),
                    status,
                    perf_counter() - start,
                )
            if emit is None or emit_held is None:
                line = None  # the level filters the access log out
            elif status >= 400:
                line = emit  # a refusal or an error: out at once, after any held lines
            elif status != 200 or scope["path"] not in self.quiet_paths:
                line = emit_held
            else:
                line = None  # a health probe that answered 200
            if line is not None:
                # Keys in the order ``logger.info`` gives them: bound context, fields, event.
                line(
                    {
                        "logger": self.logger_name,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((perf_counter() - start) * 1000, 2),
                        "client": client_ip(scope),
                        "event": "request",
                    }
                )
