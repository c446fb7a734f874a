"""Parse and bound the JSON body of a JSON route before the framework sees it.

Every framework parses JSON its own way, and each fails differently on hostile
input: a body nested deeper than its parser's recursion limit made Litestar
(msgspec) and Quart (``json``) raise ``RecursionError``, which neither counts as
bad input, so they answered 500. This layer reads the body of the routes that
take JSON, and of any other request that says its body is JSON (nothing else is
buffered), and lets it through only if it is one UTF-8 JSON document the
frameworks all read alike: sent as JSON (415 otherwise), at most ``max_depth`` levels deep, no
duplicate keys (parsers disagree on which wins), no ``NaN``/``Infinity`` or
numbers that overflow to them, no lone surrogates. Anything else is a 422 in
the one error shape, before any framework code runs. The body size is bounded
by the body-size layer, outside this one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Iterable
from typing import Any

from ._asgi import ASGIApp, Message, Receive, Scope, Send, send_json_error
from .routes import RouteTable

__all__ = ["JsonBodyMiddleware", "json_problem"]

_CONTENT_TYPE = b"content-type"
# Methods whose body no route of ours reads: not checked unless their route is declared.
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_UNSUPPORTED = "Send the body as application/json (UTF-8)."
# A "\uD800".."\uDFFF" escape: only then can a string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class _NotAcceptedError(ValueError):
    """Raised by the parser hooks: the document is JSON, but not one we accept."""


def _refuse_constant(name: str) -> Any:
    raise _NotAcceptedError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotAcceptedError("A number is out of range.")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _NotAcceptedError("An object has a duplicate key.")
    return document


# Built once: ``json.loads`` with hooks makes a new decoder on every call (half its cost here).
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_constant=_refuse_constant,
    parse_float=_finite_float,
)


def _depth_and_strings(document: Any) -> tuple[int, list[str]]:
    """How deep ``document`` nests (a scalar is 0), and every string in it (keys too)."""
    deepest = 0
    strings: list[str] = []
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            depth += 1
            strings.extend(node)
            stack.extend((value, depth) for value in node.values())
        elif isinstance(node, list):
            depth += 1
            stack.extend((value, depth) for value in node)
        elif isinstance(node, str):
            strings.append(node)
        deepest = max(deepest, depth)
    return deepest, strings


def _problem(msg: str, kind: str = "json_invalid") -> list[dict[str, Any]]:
    return [{"loc": ["body"], "msg": msg, "type": kind}]


def json_problem(body: bytes, max_depth: int) -> list[dict[str, Any]] | None:
    """Why ``body`` is refused as a JSON request body (422 problems), or None to accept it."""
    try:
        text = body.decode("utf-8")  # strict: no invalid or overlong bytes, no surrogates
    except UnicodeDecodeError:
        return _problem("The body is not valid UTF-8.")
    if not text.strip():
        return _problem("A JSON body is required.")
    try:
        # A BOM, trailing data or a truncated document fail here.
        document = _DECODER.decode(text)
    except _NotAcceptedError as refused:
        return _problem(str(refused))
    except RecursionError:  # deeper than the parser itself goes
        return _problem(f"The body nests deeper than {max_depth} levels.", "json_too_deep")
    except ValueError:  # malformed JSON, or an integer too long to convert
        return _problem("The body is not valid JSON.")
    # Cheap bound first: a document cannot nest deeper than it has brackets.
    check_depth = text.count("[") + text.count("{") > max_depth
    check_strings = _SURROGATE_ESCAPE.search(text) is not None
    if check_depth or check_strings:
        depth, strings = _depth_and_strings(document)
        if depth > max_depth:
            return _problem(f"The body nests deeper than {max_depth} levels.", "json_too_deep")
        for string in strings if check_strings else ():
            try:
                string.encode("utf-8")
            except UnicodeEncodeError:
                return _problem("A string holds a lone surrogate.")
    return None


def media_type(scope: Scope) -> tuple[str, bool] | None:
    """The request's media type (lower case) and whether any charset named is UTF-8.

    None without exactly one ``Content-Type``.
    """
    types = [value for name, value in scope["headers"] if name == _CONTENT_TYPE]
    if len(types) != 1:
        return None
    kind, *parameters = types[0].decode("latin-1").split(";")
    utf8 = True
    for parameter in parameters:
        name, _, argument = parameter.partition("=")
        if name.strip().lower() == "charset":
            utf8 = utf8 and argument.strip().strip('"').lower() in ("utf-8", "utf8")
    return kind.strip().lower(), utf8


def is_json(kind: str) -> bool:
    """``application/json`` or ``application/<x>+json``."""
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


class JsonBodyMiddleware:
    """415 or 422 JSON for a JSON body that is not one plain JSON document.

    ``routes`` are the route keys (``"POST /api/v1/items"``, see :mod:`.routes`)
    that read JSON: their body must be one, whatever the request says it is (some
    frameworks parse it as JSON whatever its media type). Elsewhere, only a body
    sent as JSON is checked (a route of the team's own may read it), and an empty
    one passes. Requests without a body to check pass untouched and unbuffered.
    """

    def __init__(self, app: ASGIApp, *, routes: Iterable[str], max_depth: int) -> None:
        if max_depth < 1:
            raise ValueError("max_depth must be positive")
        self.app = app
        self.routes = RouteTable(routes)
        self.max_depth = max_depth

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        declared = self.routes.match(scope["method"], scope["path"]) is not None
        sent_as = None if not declared and scope["method"] in _NO_BODY else media_type(scope)
        if not declared and (sent_as is None or not is_json(sent_as[0])):
            return self.app(scope, receive, send)
        return self._checked(scope, receive, send, declared=declared, sent_as=sent_as)

    async def _checked(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        declared: bool,
        sent_as: tuple[str, bool] | None,
    ) -> None:
        """Read the whole body, refuse it or hand it to the app."""
        # The body is read whole even when its media type is wrong: a server closing
        # a connection with unread bytes resets it, and the client may lose the 415.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left (or the body-size layer answered 413)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if sent_as is None or not is_json(sent_as[0]) or not sent_as[1]:
            await send_json_error(send, 415, _UNSUPPORTED, control="json")
            return
        if (body or declared) and (problems := json_problem(body, self.max_depth)) is not None:
            await send_json_error(send, 422, problems, control="json")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
