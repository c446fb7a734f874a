"""The service's metrics, defined once (names and labels are what dashboards and alerts use).

Labels are bounded by construction: a route is its template or ``unmatched``, a
method one of the standard ones or ``OTHER``, a control one of the core's names.
In multiprocess mode each process writes its values to the directory the
exporter reads; gauges of processes that ended are dropped (``live*`` modes).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "CACHE_LOOKUPS",
    "CIRCUIT_STATE",
    "CIRCUIT_STATES",
    "GRPC_CALLS",
    "IN_FLIGHT",
    "REFUSALS",
    "REGISTRY",
    "REQUESTS",
    "REQUEST_SECONDS",
    "STORE_ERRORS",
    "STREAMS_OPEN",
]

# This process's metrics, for reading them in-process (tests); the exporter reads all
# processes' through the multiprocess directory instead.
REGISTRY = CollectorRegistry()
# Seconds; the request timeout (30 s by default) is the last bucket that matters.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A circuit's state as a number: the highest across workers is the one shown.
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}

REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of its body), by method, route and status.",
    ("method", "route", "status"),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "http_requests_in_flight",
    "HTTP requests being served now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
REFUSALS = Counter(
    "security_refusals",
    "Requests a security control answered on its own, by control.",
    ("control",),
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    "rate_limit_store_errors",
    "Times the rate-limit store could not be asked.",
    registry=REGISTRY,
)
CIRCUIT_STATE = Gauge(
    "outbound_circuit_state",
    "State of an outbound circuit breaker: 0 closed, 1 half-open, 2 open.",
    ("circuit",),
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
CACHE_LOOKUPS = Counter(
    "outbound_cache_lookups",
    "Outbound cache lookups, by result (hit or miss).",
    ("result",),
    registry=REGISTRY,
)
GRPC_CALLS = Counter(
    "grpc_server_calls",
    "gRPC calls handled, by method and status code.",
    ("method", "code"),
    registry=REGISTRY,
)
STREAMS_OPEN = Gauge(
    "streams_open",
    "Streams (server-sent events and WebSocket) open now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
