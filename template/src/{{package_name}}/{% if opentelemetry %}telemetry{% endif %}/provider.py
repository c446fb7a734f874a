"""The tracer provider: where spans go, how they are batched, what they may hold.

Exports run on the batch processor's thread: a request only appends its finished
span to a bounded queue (TELEMETRY_MAX_QUEUE_SIZE, then spans are dropped), and
an export gives up after TELEMETRY_EXPORT_TIMEOUT, so a dead collector never slows
or fails a request. Spans carry no events: an exception event would carry the
error's text and stack trace (chained errors included), which may hold secrets;
the logs have the error, under the same request id.
"""

from __future__ import annotations

import atexit
import threading

import structlog
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ..settings import Settings
from .resource import detect_platform, service_resource

__all__ = ["build_tracer_provider", "close"]

_BATCH = 512  # spans per export, at most


def build_tracer_provider(settings: Settings) -> TracerProvider | None:
    """The tracer provider these settings ask for, or None: nothing is traced or sent.

    It is handed to this package's instrumentation only, never made the global
    provider: a global one switches on whatever else traces by itself once one is
    set (FastAPI's own telemetry does, query strings included), past the limits
    set here on what a span may hold.
    """
    platform = detect_platform(settings.platform_signals)
    endpoint = settings.otlp_traces_endpoint
    if endpoint is None:
        if platform is not None and not settings.telemetry_disabled:
            structlog.get_logger().bind(logger=__name__).info(
                "telemetry_inert",
                detail=f"{platform.name} detected, but OTEL_EXPORTER_OTLP_ENDPOINT is not set: "
                "no spans are exported.",
            )
        return None
    provider = TracerProvider(
        resource=service_resource(platform),
        span_limits=SpanLimits(max_events=0),
        shutdown_on_exit=False,  # the SDK's own exit hook may wait 30 s: ours is bounded
    )
    timeout = settings.telemetry_export_timeout
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout)
    queue = settings.telemetry_max_queue_size
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=queue, max_export_batch_size=min(queue, _BATCH))
    )
    atexit.register(close, provider, timeout)  # and at the ASGI lifespan's shutdown
    return provider


def close(provider: TracerProvider, timeout: float) -> None:
    """Export what is still queued and stop, waiting ``timeout`` seconds at most.

    The SDK's shutdown exports every queued batch, each up to the export timeout,
    for up to 30 s in all when the collector is down; here it runs on a daemon
    thread that is abandoned after ``timeout``, so a process exits on time.
    """
    closing = threading.Thread(target=provider.shutdown, name="telemetry-close", daemon=True)
    try:
        closing.start()
    except RuntimeError:  # Python 3.12 starts no thread once the interpreter is exiting
        provider.shutdown()  # unbounded, in that one case (the lifespan's close came first)
        return
    closing.join(timeout)
