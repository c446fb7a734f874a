"""Small ASGI helpers shared by the security layers: types, the request id, JSON errors.

Every layer that answers on its own uses :func:`send_json_error`, so each error
status has one JSON shape: RFC 9457 problem details, the legacy
``{"error": ..., "detail": ..., "request_id": ...}``, or both (see :mod:`.problem`).

The layers wrap ``send`` in plain functions that return the wrapped ``send``'s
awaitable (``send`` is any callable returning an awaitable): an ``async def``
wrapper would add a coroutine, and a level of awaiting, to every message of
every response, once per layer.

For the same reason a layer with nothing to do once the app has answered (a
check before it, a ``send`` wrapper) is a plain function returning the app's
awaitable, not an ``async def``: its frame is gone by the time the app runs.
Every frame left in a request's coroutine chain is re-entered each time the
handler resumes from an ``await`` (a database query resumes a dozen times);
only the layers with work after the app (a ``finally``, an ``except``) keep one.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observe import observer
from .problem import error_media_type, problem_body

__all__ = [
    "ASGIApp",
    "ErrorResponse",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "current_request_id",
    "dropped",
    "error_media_type",
    "error_payload",
    "send_json_error",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class ErrorResponse(Exception):  # noqa: N818 - it is a response, raised
    """Raised by a layer to answer with a JSON error; the error layer sends it.

    Raising instead of sending lets a layer skip tracking whether the response
    has started: the error layer tracks that once, for every layer.
    """

    def __init__(
        self, status: int, detail: str | None = None, *, control: str | None = None
    ) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.control = control  # the security control refusing, if one is


async def dropped() -> None:
    """What a ``send`` wrapper returns for a message it swallows."""


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return REQUEST_ID.get()


def error_payload(status: int, detail: Any = None) -> dict[str, Any]:
    """The one error body (ERROR_FORMAT's shape), used by the layers and every framework adapter."""
    return problem_body(status, detail, current_request_id())


async def send_json_error(
    send: Send,
    status: int,
    detail: str | list[dict[str, Any]] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    control: str | None = None,
) -> None:
    """Send a complete JSON error response (the caller checks nothing was sent yet).

    ``control``: the security control refusing the request (``auth``, ``rate_limit``...),
    reported to the observer; None for an answer that is no refusal (a 404, a 500).
    """
    if control is not None:
        observer().refused(control)
    body = json.dumps(error_payload(status, detail), separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", error_media_type().encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
