"""The security core's controls on every gRPC call: one interceptor, the HTTP stack's parts.

Per call, in this order (the HTTP stack's, for what applies to gRPC):
request id → access log → error hiding → client identity → rate limit →
authentication and scopes → audit → the method. Nothing here re-implements a
control: client identity is :class:`..security.client.ClientIdentityMiddleware`'s
resolver, the limit is the shared :class:`..security.limiter.RateLimiter`, the
credentials are judged by :func:`..security.auth.authenticate` with the same
verifiers and scopes as REST (gRPC metadata adapted to the ASGI ``scope`` shape).

The standard health service is exempt from all of it (probes carry no
credentials and must never be throttled); so is reflection, served in debug only.

Per-call work is kept to the checks themselves (``bench/rpc.py`` measures it):
each registered method is wrapped once and the wrapper reused, and the access
and audit lines take the HTTP access log's direct path to the configured output.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from time import perf_counter
from typing import Any
from urllib.parse import unquote

import grpc
import structlog
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from ..api import declared_scopes
from ..security._asgi import REQUEST_ID, Scope
from ..security.access_log import Emit, emitter
from ..security.auth import Refusal, Verifier, authenticate
from ..security.client import ClientIdentityMiddleware, client_ip, parse_networks
from ..security.limiter import RateLimiter, client_key
from ..security.observe import observer
from ..security.principal import authorize, current_principal
from ..security.request_id import request_id_from
from ..settings import Settings

__all__ = ["EXEMPT_PREFIXES", "SecurityInterceptor", "peer_address"]

EXEMPT_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
REQUEST_ID_KEY = "x-request-id"
AUTH_FAILURES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
Context = grpc.aio.ServicerContext[Any, Any]
Call = Callable[[Any, Context], Awaitable[Any]]


def peer_address(peer: str) -> str:
    """The IP address in a gRPC peer string (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``)."""
    kind, _, rest = unquote(peer).partition(":")
    if kind not in ("ipv4", "ipv6"):
        return "unknown"
    return rest.rpartition(":")[0].strip("[]")


async def _no_app(scope: Scope, receive: Any, send: Any) -> None:
    """The identity resolver is used on its own here: nothing to call after it."""


def _metadata_as_headers(context: Context) -> list[tuple[bytes, bytes]]:
    """gRPC metadata in the ASGI ``scope["headers"]`` shape the verifiers read."""
    return [
        (
            key.lower().encode("ascii", "replace"),
            value if isinstance(value, bytes) else value.encode("utf-8", "replace"),
        )
        for key, value in context.invocation_metadata() or ()
    ]


def _silent(fields: dict[str, Any]) -> None:
    """The output of a log line whose level is filtered out."""


_END = object()  # marks the end of a stream of responses


class SecurityInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every non-exempt method handler in the security core's checks."""

    def __init__(
        self,
        settings: Settings,
        *,
        limiter: RateLimiter,
        verifiers: Sequence[Verifier],
        method_scopes: Mapping[str, Sequence[str]],
        read_only_methods: frozenset[str],
        logger_prefix: str,
    ) -> None:
        self.limiter = limiter
        self.verifiers = tuple(verifiers)
        self.require_auth = settings.require_auth
        self.method_scopes = {
            method: declared_scopes(scopes) for method, scopes in method_scopes.items()
        }
        self.read_only = read_only_methods
        self.identity = (
            ClientIdentityMiddleware(
                _no_app,
                trusted_proxies=parse_networks(settings.trusted_proxies),
                header=settings.forwarded_header,
            )
            if settings.trusted_proxies
            else None
        )
        # Resolved now, with the logging configuration in force when the server is built.
        self.access_name, self.audit_name = f"{logger_prefix}.access", f"{logger_prefix}.audit"
        self.access: Emit = emitter(_logger(self.access_name)) or _silent
        self.audit: Emit = emitter(_logger(self.audit_name)) or _silent
        self.errors = _logger(f"{logger_prefix}.errors")
        # Registered methods only (a fixed set): unknown names are the caller's choice.
        self.wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        wrapped = self.wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if method.startswith(EXEMPT_PREFIXES):
            wrapped = handler  # None (UNIMPLEMENTED) for reflection outside debug
        elif handler is None:  # unknown method: still throttled, authenticated and logged
            return grpc.unary_unary_rpc_method_handler(self._unary(method, _unimplemented))
        else:
            wrapped = self._wrap(method, handler)
        if wrapped is not None:
            self.wrapped[method] = wrapped
        return wrapped

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """``handler`` with the checks around its behaviour, same kind and serializers."""
        behaviour = (
            handler.unary_unary
            or handler.unary_stream
            or handler.stream_unary
            or handler.stream_stream
        )
        kinds = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }
        make = kinds[(handler.request_streaming, handler.response_streaming)]
        wrap = self._stream if handler.response_streaming else self._unary
        # Requests are parsed here, after the checks: garbage from an unauthenticated
        # caller costs no parsing, and a malformed message (or one with unknown or
        # mistyped fields) is INVALID_ARGUMENT without the parser's error text. Left
        # to grpc, a malformed message in a request stream was INTERNAL.
        parse = _parsing_stream if handler.request_streaming else _parsing
        return make(
            wrap(method, parse(behaviour, handler.request_deserializer)),
            response_serializer=handler.response_serializer,
        )

    def _unary(self, method: str, behaviour: Any) -> Any:
        async def call(request: Any, context: Context) -> Any:
            return await self._guard(method, context, behaviour, request)

        return call

    def _stream(self, method: str, behaviour: Any) -> Any:
        """Streaming responses: one guard spans them all, and they leave as a generator.

        The guard runs the handler as one task; what it produces is yielded here,
        one message at a time (a queue of one: no buffering). Interceptors outside
        ours (Sentry's, OpenTelemetry's) expect a streaming handler to be an async
        generator, and this one is.
        """

        async def call(request: Any, context: Context) -> Any:
            responses: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)

            async def produce(request: Any, context: Context) -> None:
                result = behaviour(request, context)
                if hasattr(result, "__aiter__"):
                    async for response in result:
                        await responses.put(response)
                else:
                    await result  # a handler that writes through context.write itself

            async def guarded() -> None:
                try:
                    await self._guard(method, context, produce, request)
                finally:
                    if responses.empty():  # else the reader sees the task done after the last
                        responses.put_nowait(_END)

            task = asyncio.ensure_future(guarded())
            try:
                while True:
                    response = await responses.get()
                    if response is _END:
                        break
                    yield response
                    if task.done() and responses.empty():
                        break
                await task  # the guard's outcome: its status, or its exception
            finally:
                task.cancel()

        return call

    async def _guard(self, method: str, context: Context, behaviour: Call, request: Any) -> Any:
        """Everything the core does around one call; see the module docstring for the order."""
        metadata = _metadata_as_headers(context)
        request_id = request_id_from(metadata)
        token = REQUEST_ID.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
        scope: Scope = {
            "type": "http",
            "client": (peer_address(context.peer()), 0),
            "headers": metadata,
            "state": {"request_id": request_id},
        }
        code = grpc.StatusCode.OK
        start = perf_counter()
        try:
            if self.identity is not None and (forwarded := self.identity.resolve(scope)):
                scope["client"] = (forwarded, 0)
            refusal = await self._admit(method, scope)
            if refusal is not None:
                code = refusal[0]
                await context.abort(*refusal)
            return await behaviour(request, context)
        except grpc.aio.AbortError:
            if code is grpc.StatusCode.OK:
                code = _code_of(context)
            raise
        except asyncio.CancelledError:  # the client went away, its deadline passed, or a stop
            code = _cancelled_code(context)
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            # Logged with the traceback; the client gets only a generic message and the id.
            self.errors.exception("unhandled_exception", method=method)
            await context.abort(code, f"Internal server error (request id {request_id}).")
        finally:
            self._log(method, scope, code, start)
            # Only served methods are labels: a client can name any method it likes.
            observer().grpc_call(method if method in self.wrapped else "unknown", code.name)
            REQUEST_ID.reset(token)

    async def _admit(self, method: str, scope: Scope) -> tuple[grpc.StatusCode, str] | None:
        """Rate limit (keyed on the client identity), then credentials and scopes."""
        decision = await self.limiter.hit(client_key(client_ip(scope)), f"POST {method}")
        if decision.unavailable:
            self.errors.error("rate_limit_store_unavailable", fail_open=decision.allowed)
        if not decision.allowed:
            if decision.unavailable:
                return grpc.StatusCode.UNAVAILABLE, "Rate limiting is unavailable; retry shortly."
            return (
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"Too many requests; retry after {decision.reset_after} s.",
            )
        verdict = await authenticate(self.verifiers, scope, require_auth=self.require_auth)
        if isinstance(verdict, Refusal):
            return grpc.StatusCode.UNAUTHENTICATED, verdict.detail
        if verdict is not None:
            verdict.remember(scope)
        refusal = authorize(scope, self.method_scopes.get(method, ()))
        if refusal is not None:
            status, detail = refusal
            if status == 401:
                return grpc.StatusCode.UNAUTHENTICATED, detail
            return grpc.StatusCode.PERMISSION_DENIED, detail
        return None

    def _log(self, method: str, scope: Scope, code: grpc.StatusCode, start: float) -> None:
        """The access line, and the audit line for a change or an auth failure."""
        client = client_ip(scope)
        self.access(
            {
                "logger": self.access_name,
                "method": method,
                "status": code.name,
                "duration_ms": round((perf_counter() - start) * 1000, 2),
                "client": client,
                "event": "rpc",
            }
        )
        if method not in self.read_only or code in AUTH_FAILURES:
            principal = current_principal(scope)
            self.audit(
                {
                    "logger": self.audit_name,
                    "method": method,
                    "status": code.name,
                    "client": client,
                    "principal": principal.id if principal else None,
                    "credential": principal.kind if principal else None,
                    "event": "audit",
                }
            )


def _logger(name: str) -> Any:
    return structlog.get_logger().bind(logger=name)


MALFORMED = "Malformed request message."
UNKNOWN_FIELDS = "Unknown or mistyped field in the request message."


def _has_unknown_fields(message: Any) -> bool:
    """Fields the schema does not know, or sent with another wire type, at any depth.

    Protobuf keeps both as unknown fields rather than refusing them; REST refuses
    an unknown JSON field, and so does gRPC here.
    """
    if not isinstance(message, Message):
        return False  # a deserializer of the service's own: not ours to judge
    if len(UnknownFieldSet(message)):
        return True
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = list(value.values())
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        if any(_has_unknown_fields(item) for item in values):
            return True
    return False


def _parse(raw: bytes, deserializer: Callable[[bytes], Any]) -> tuple[Any, str | None]:
    """The message, or why it is refused (the parser's own error text stays out)."""
    try:
        message = deserializer(raw)
    except Exception:
        return None, MALFORMED
    return message, UNKNOWN_FIELDS if _has_unknown_fields(message) else None


def _parsing(behaviour: Any, deserializer: Callable[[bytes], Any] | None) -> Any:
    """``behaviour`` taking the raw request bytes, parsed with ``deserializer`` first."""
    if deserializer is None:
        return behaviour

    def call(raw: bytes, context: Context) -> Any:
        request, refusal = _parse(raw, deserializer)
        if refusal is not None:
            return context.abort(grpc.StatusCode.INVALID_ARGUMENT, refusal)
        return behaviour(request, context)

    return call


def _parsing_stream(behaviour: Any, deserializer: Callable[[bytes], Any] | None) -> Any:
    """``behaviour`` taking a stream of raw request bytes, each parsed as it is read.

    The handler reads its requests from the iterator it is given (``context.read()``
    would return raw bytes).
    """
    if deserializer is None:
        return behaviour

    def call(requests: AsyncIterator[bytes], context: Context) -> Any:
        async def parsed() -> AsyncIterator[Any]:
            async for raw in requests:
                request, refusal = _parse(raw, deserializer)
                if refusal is not None:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, refusal)
                yield request

        return behaviour(parsed(), context)

    return call


def _code_of(context: Context) -> grpc.StatusCode:
    code = context.code()
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def _cancelled_code(context: Context) -> grpc.StatusCode:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED


async def _unimplemented(request: Any, context: Context) -> Any:
    await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found.")
