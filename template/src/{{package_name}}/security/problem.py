"""The error body: RFC 9457 problem details, today's fields, or both (ERROR_FORMAT).

One builder for every error the service answers over REST: the security layers'
own and the framework adapters' (404, 405, validation errors, upstream errors),
so every framework says the same thing the same way.

- ``problem`` (``application/problem+json``): ``type`` (``about:blank``: the
  status says what went wrong), ``title`` (the status's phrase, RFC 9110's),
  ``status``, ``detail`` (a sentence), ``instance`` (the request id, as in
  ``X-Request-ID`` and the logs), ``code`` (our stable error code, for clients
  to key on) and, for a 422, ``errors`` (the invalid fields).
- ``legacy`` (``application/json``): ``error``, ``detail`` (a sentence, or the
  invalid fields), ``request_id``: the body before problem details.
- ``both`` (the default, ``application/problem+json``): the problem fields plus
  ``error`` and ``request_id``, ``detail`` keeping its legacy value, so clients
  of the old body keep working while they move.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Literal

__all__ = [
    "ERROR_FORMAT",
    "PROBLEM_JSON",
    "ErrorFormat",
    "error_media_type",
    "problem_body",
]

ErrorFormat = Literal["both", "problem", "legacy"]
# The format of the app serving this request (the error layer sets it per request).
ERROR_FORMAT: ContextVar[ErrorFormat] = ContextVar("error_format", default="both")
PROBLEM_JSON = "application/problem+json"

# Codes and messages are ours, not ``http.HTTPStatus`` phrases: those changed
# between Python versions (413 and 422 were renamed in 3.13) and clients key on codes.
# code, sentence (detail), title (RFC 9110's reason phrase).
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Bad request.", "Bad Request"),
    401: ("unauthorized", "Authentication required.", "Unauthorized"),
    403: ("forbidden", "Forbidden.", "Forbidden"),
    404: ("not_found", "Not found.", "Not Found"),
    405: ("method_not_allowed", "Method not allowed.", "Method Not Allowed"),
    413: ("payload_too_large", "Request body too large.", "Content Too Large"),
    415: ("unsupported_media_type", "Unsupported media type.", "Unsupported Media Type"),
    422: ("validation_error", "Invalid request.", "Unprocessable Content"),
    429: ("rate_limited", "Too many requests.", "Too Many Requests"),
    500: ("internal_error", "Internal server error.", "Internal Server Error"),
    502: ("bad_gateway", "The upstream service failed.", "Bad Gateway"),
    503: ("unavailable", "Service unavailable.", "Service Unavailable"),
    504: ("timeout", "The request took too long.", "Gateway Timeout"),
}


def error_media_type(error_format: ErrorFormat | None = None) -> str:
    """The content type of an error body in ``error_format`` (the current one by default)."""
    chosen = ERROR_FORMAT.get() if error_format is None else error_format
    return "application/json" if chosen == "legacy" else PROBLEM_JSON


def problem_body(
    status: int,
    detail: Any,
    request_id: str | None,
    error_format: ErrorFormat | None = None,
) -> dict[str, Any]:
    """The error body of ``status`` in ``error_format`` (the current one by default).

    ``detail``: a sentence, a list of invalid fields (a 422), or None for the
    status's own sentence.
    """
    code, sentence, title = _ERRORS.get(
        status, (f"http_{status}", f"HTTP error {status}.", f"HTTP {status}")
    )
    legacy_detail = sentence if detail is None else detail
    chosen = ERROR_FORMAT.get() if error_format is None else error_format
    if chosen == "legacy":
        return {"error": code, "detail": legacy_detail, "request_id": request_id}
    fields = isinstance(legacy_detail, list)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": sentence if fields else legacy_detail,
    }
    if request_id is not None:
        body["instance"] = request_id
    body["code"] = code
    if fields:
        body["errors"] = legacy_detail
    if chosen == "both":
        body.update(error=code, detail=legacy_detail, request_id=request_id)
    return body
