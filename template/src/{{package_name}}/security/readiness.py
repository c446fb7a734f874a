"""Readiness: whether the service's dependencies answer (the Redis store, when it has one).

Start and report unready, rather than fail fast: a dependency that is down at
start-up is usually down for a moment (Redis restarting, started beside the
service, a failover), and an orchestrator already knows what to do with an
unready replica — keep it out of the load balancer and wait — whereas a process
that exits is restarted with a growing back-off (Kubernetes' CrashLoopBackOff
reaches five minutes), so it would come back long after the dependency did.
What fail-fast gives, a loud start-up, is kept: the first probe runs at start-up
and an unreachable dependency is one error line then, and again at each change.

So: liveness (``/livez``, ``/health``, ``/healthz``) stays 200 — restarting does not bring
Redis back — while readiness (``/ready``, ``/readyz``; the gRPC ``items.v1.Items``
health status) reports the failure until the dependency answers again. Probes
are cheap: at most one round per ``ttl`` seconds, each with the client's short
timeouts, whatever the rate of readiness requests.

Readiness also fails, without probing, once graceful shutdown has begun (the
supervisor's drain marker, draining.py): the load balancer stops sending while
the server still serves, for SHUTDOWN_DELAY seconds, before the drain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog

from ..draining import draining
from ._asgi import ASGIApp, Message, Receive, Scope, Send, send_json_error

__all__ = ["Dependency", "Probe", "Readiness", "ReadinessMiddleware", "error_kind"]

# None if the dependency answered, else what went wrong (an error's kind, never its text).
Probe = Callable[[], Awaitable[str | None]]


def error_kind(error: BaseException) -> str:
    """The innermost cause's class name (ConnectionRefusedError, TimeoutError, gaierror...).

    Not its message, which may quote an address with its password. A cancellation
    (how asyncio ends a timed-out read) is how it ended, not what went wrong.
    """
    kind = type(error).__name__
    for _ in range(16):  # a cause chain is short; never follow a pathological one forever
        if isinstance(error, Exception):
            kind = type(error).__name__
        if (cause := error.__cause__ or error.__context__) is None:
            break
        error = cause
    return kind


@dataclass(frozen=True, slots=True)
class Dependency:
    """Something the service needs to serve: its name in probes, its setting, how to ask it."""

    name: str  # "rate_limit_storage": what /ready's body names
    setting: str  # "RATE_LIMIT_STORAGE_URL"
    target: str  # where it is, with any password redacted
    probe: Probe


class Readiness:
    """The dependencies' state, probed at most once per ``ttl``; each change logged once."""

    def __init__(
        self, dependencies: Sequence[Dependency], *, ttl: float = 1.0, logger_name: str
    ) -> None:
        self.dependencies = tuple(dependencies)
        self.ttl = ttl
        self.logger_name = logger_name
        self._failed: dict[str, str] = {}  # name -> error kind, as last probed
        self._probed_at = -float("inf")

    async def failures(self) -> dict[str, str]:
        """Name -> error kind of each dependency that did not answer; empty when ready."""
        now = time.monotonic()
        if self.dependencies and now - self._probed_at >= self.ttl:
            self._probed_at = now  # requests arriving meanwhile get the last result
            kinds = await asyncio.gather(*(self._ask(dep) for dep in self.dependencies))
            pairs = zip(self.dependencies, kinds, strict=True)
            failed = {dep.name: kind for dep, kind in pairs if kind}
            self._report(failed)
            self._failed = failed
        return self._failed

    async def _ask(self, dependency: Dependency) -> str | None:
        try:
            return await dependency.probe()
        except Exception as error:  # a failing probe is an answer too: not ready
            return error_kind(error)

    def _report(self, failed: dict[str, str]) -> None:
        # Bound now, not at build: rare lines, written wherever logging is configured now.
        logger = structlog.get_logger().bind(logger=self.logger_name)
        for dep in self.dependencies:
            kind, before = failed.get(dep.name), self._failed.get(dep.name)
            if kind and kind != before:
                logger.error(
                    "dependency_unreachable",
                    dependency=dep.name,
                    detail=f"{dep.setting} ({dep.target}) is unreachable ({kind}): "
                    "the service reports not ready until it answers.",
                )
            elif before and not kind:
                logger.info(
                    "dependency_reachable",
                    dependency=dep.name,
                    detail=f"{dep.setting} ({dep.target}) answers again: ready.",
                )


_NO_STORE = [(b"cache-control", b"no-store")]


class ReadinessMiddleware:
    """Answers the readiness paths with 503 while a dependency is down; the app answers otherwise.

    Probes once at start-up too (the lifespan's startup), so the log says what is
    unreachable before the first request meets it.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        readiness: Readiness,
        paths: Iterable[str],
        marker: str | None = None,
    ) -> None:
        self.app = app
        self.readiness = readiness
        self.paths = frozenset(paths)
        self.marker = marker  # the supervisor's drain marker; None when run without one

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http" and scope["path"] in self.paths:
            return self._ready(scope, receive, send)
        if scope["type"] == "lifespan":
            receive = self._probing_at_startup(receive)
        return self.app(scope, receive, send)

    async def _ready(self, scope: Scope, receive: Receive, send: Send) -> None:
        if draining(self.marker):
            await send_json_error(send, 503, "Not ready: shutting down.", _NO_STORE)
            return
        if failed := await self.readiness.failures():
            detail = "Not ready: " + ", ".join(f"{name} is unreachable" for name in failed)
            await send_json_error(send, 503, detail + ".", _NO_STORE)
            return
        await self.app(scope, receive, send)

    def _probing_at_startup(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.readiness.failures()
            return message

        return wrapped
