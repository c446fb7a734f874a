"""OpenTelemetry tracing (docs/observability.md): inert unless an OTLP endpoint is set."""

from .log_context import add_trace_ids
from .middleware import (
    REDACTED_HEADERS,
    REQUEST_ID_ATTRIBUTE,
    TRACED_HEADERS,
    TracingMiddleware,
    instrument,
)
from .provider import build_tracer_provider, close
from .resource import Platform, detect_platform, service_resource

__all__ = [
    "REDACTED_HEADERS",
    "REQUEST_ID_ATTRIBUTE",
    "TRACED_HEADERS",
    "Platform",
    "TracingMiddleware",
    "add_trace_ids",
    "build_tracer_provider",
    "close",
    "detect_platform",
    "instrument",
    "service_resource",
]
