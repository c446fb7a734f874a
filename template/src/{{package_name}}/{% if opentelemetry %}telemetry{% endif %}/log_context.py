"""Log lines joined to traces: a line made inside a span carries its ``trace_id`` and ``span_id``.

A structlog processor, run on every line (ours and the libraries'): the ids are
read from the OpenTelemetry context the tracing layer sets for the request (or
the gRPC interceptor for a call), in the hex form trace back-ends search by. A
line made outside any span gets neither field.
"""

from __future__ import annotations

from opentelemetry import trace
from structlog.typing import EventDict, WrappedLogger

__all__ = ["add_trace_ids"]


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Attach the current span's trace and span ids, if a span is current."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
