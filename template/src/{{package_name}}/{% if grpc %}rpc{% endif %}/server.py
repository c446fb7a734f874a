"""Build, run and drain the gRPC server; the process model of ``python -m <package>``.

Process model (gRPC on): the main process runs the gRPC aio server and starts
the HTTP server (exactly what runs without gRPC: ``server.serve``, with its own
workers) as one child process. On SIGTERM or SIGINT the main process forwards
SIGTERM to the child, marks the health service NOT_SERVING and stops accepting
RPCs; both drain in-flight work at the same time, each within SHUTDOWN_GRACE,
and the process exits 0 once both are done (1 if the HTTP server failed). If
the HTTP server exits on its own, the gRPC server is drained and stopped too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import subprocess
import sys
from collections.abc import Sequence

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..logs import configure_logging
from ..security.stack import build_rate_limiter
from ..security.verifiers import build_verifiers
from ..settings import Settings
from . import service
from .interceptor import SecurityInterceptor

__all__ = ["GrpcServer", "build_server", "plaintext_warning", "serve_with_http", "server_options"]

_PACKAGE = __name__.partition(".")[0]
MAX_METADATA_SIZE = 16 * 1024  # bytes of request metadata; larger is refused
HTTP_CHILD = (
    f"from {_PACKAGE}.server import serve; from {_PACKAGE}.settings import Settings; "
    "serve(Settings())"
)


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """Channel arguments: the message limits, metadata cap, no port sharing."""
    return [
        ("grpc.max_receive_message_length", settings.max_body_size),
        ("grpc.max_send_message_length", settings.grpc_max_send_message_size),
        ("grpc.max_metadata_size", MAX_METADATA_SIZE),
        # The hard limit too: between the two, grpc refuses only some calls, at random.
        ("grpc.absolute_max_metadata_size", MAX_METADATA_SIZE),
        ("grpc.max_concurrent_streams", min(settings.grpc_max_concurrent_rpcs, 1000)),
        ("grpc.max_connection_idle_ms", int(settings.keep_alive_timeout * 1000)),
        ("grpc.so_reuseport", 0),  # a second server on the same port is an error, not a twin
    ]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plaintext_warning(settings: Settings) -> str | None:
    """What to say at start-up if gRPC would serve plaintext beyond this machine."""
    if settings.grpc_tls_cert is not None or _is_loopback(settings.host):
        return None
    return (
        f"gRPC serves plaintext on {settings.host}:{settings.grpc_port}: set GRPC_TLS_CERT "
        "and GRPC_TLS_KEY, or terminate TLS in front of it."
    )


class GrpcServer:
    """The aio server with the items API, health and (debug only) reflection."""

    def __init__(
        self,
        settings: Settings,
        handlers: Sequence[grpc.GenericRpcHandler] | None = None,
    ) -> None:
        self.settings = settings
        self.logger = structlog.get_logger().bind(logger=__name__)
        self.limiter = build_rate_limiter(settings)
        self.interceptor = interceptor = SecurityInterceptor(
            settings,
            limiter=self.limiter,
            verifiers=build_verifiers(settings),
            method_scopes=service.METHOD_SCOPES,
            read_only_methods=service.READ_ONLY_METHODS,
            logger_prefix=_PACKAGE,
        )
        self.server = grpc.aio.server(
            interceptors=[interceptor],
            options=server_options(settings),
            maximum_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        )
        self.server.add_generic_rpc_handlers(
            handlers if handlers is not None else [service.handlers()]
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if settings.debug:
            names = (service.SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME)
            reflection.enable_server_reflection(names, self.server)
        self.port = self._bind()

    def _bind(self) -> int:
        settings = self.settings
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        address = f"{host}:{settings.grpc_port}"
        if settings.grpc_tls_cert is not None and settings.grpc_tls_key is not None:
            credentials = grpc.ssl_server_credentials(
                [(settings.grpc_tls_key.read_bytes(), settings.grpc_tls_cert.read_bytes())]
            )
            return self.server.add_secure_port(address, credentials)
        if (warning := plaintext_warning(settings)) is not None:
            self.logger.warning("insecure_configuration", detail=warning)
        return self.server.add_insecure_port(address)

    async def start(self) -> None:
        await self.server.start()
        for name in ("", service.SERVICE):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        tls = self.settings.grpc_tls_cert is not None
        self.logger.info("grpc_started", port=self.port, tls=tls)

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING first (probes see it), then let in-flight RPCs finish within the grace."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.settings.shutdown_grace if grace is None else grace)
        await self.limiter.aclose()


def build_server(
    settings: Settings, handlers: Sequence[grpc.GenericRpcHandler] | None = None
) -> GrpcServer:
    """A server for these settings (not started); ``handlers`` replace the items API in tests."""
    return GrpcServer(settings, handlers)


async def _run(settings: Settings, http: subprocess.Popen[bytes]) -> int:
    server = build_server(settings)
    await server.start()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    http_exit = asyncio.ensure_future(asyncio.to_thread(http.wait))
    await asyncio.wait(
        [asyncio.ensure_future(stopping.wait()), http_exit],
        return_when=asyncio.FIRST_COMPLETED,
    )
    if http.poll() is None:
        http.send_signal(signal.SIGTERM)
    await server.stop()
    try:
        code = await asyncio.wait_for(http_exit, timeout=settings.shutdown_grace + 10)
    except TimeoutError:
        http.kill()
        code = await http_exit
    server.logger.info("stopped", http_exit_code=code)
    return 0 if code == 0 else 1


def serve_with_http(settings: Settings) -> int:
    """``python -m <package>`` with gRPC on: HTTP in a child process, gRPC here."""
    configure_logging(settings)
    # The child reads the same environment (the command line's flags are already in it).
    http = subprocess.Popen([sys.executable, "-c", HTTP_CHILD])  # noqa: S603 - our own code
    try:
        return asyncio.run(_run(settings, http))
    finally:
        if http.poll() is None:
            http.kill()
            http.wait()
