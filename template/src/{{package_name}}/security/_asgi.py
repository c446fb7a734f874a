"""Small ASGI helpers shared by the security layers: types, the request id, JSON errors.

Every layer that answers on its own uses :func:`send_json_error`, so each error
status has one JSON shape: ``{"error": ..., "detail": ..., "request_id": ...}``.

The layers wrap ``send`` in plain functions that return the wrapped ``send``'s
awaitable (``send`` is any callable returning an awaitable): an ``async def``
wrapper would add a coroutine, and a level of awaiting, to every message of
every response, once per layer.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observe import observer

__all__ = [
    "ASGIApp",
    "ErrorResponse",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "current_request_id",
    "dropped",
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


# Codes and messages are ours, not ``http.HTTPStatus`` phrases: those changed
# between Python versions (413 and 422 were renamed in 3.13) and clients key on codes.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request."),
    401: ("unauthorized", "Authentication required."),
    403: ("forbidden", "Forbidden."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "Request body too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    422: ("validation_error", "Invalid request."),
    429: ("rate_limited", "Too many requests."),
    500: ("internal_error", "Internal server error."),
    502: ("bad_gateway", "The upstream service failed."),
    503: ("unavailable", "Service unavailable."),
    504: ("timeout", "The request took too long."),
}


def error_payload(status: int, detail: Any = None) -> dict[str, Any]:
    """The one error body shape, used by the layers and by every framework adapter."""
    code, message = _ERRORS.get(status, (f"http_{status}", f"HTTP error {status}."))
    return {
        "error": code,
        "detail": message if detail is None else detail,
        "request_id": current_request_id(),
    }


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
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
