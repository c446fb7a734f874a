"""The observer that counts: each event of the core becomes a metric update."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ..security.observe import Observer
from .instruments import (
    CACHE_LOOKUPS,
    CIRCUIT_STATE,
    CIRCUIT_STATES,
    GRPC_CALLS,
    IN_FLIGHT,
    REFUSALS,
    REQUEST_SECONDS,
    REQUESTS,
    STORE_ERRORS,
    STREAMS_OPEN,
)

__all__ = ["Recorder"]


class Recorder(Observer):
    """Records into the instruments of :mod:`.instruments` (this process's share).

    A request's labelled counter and histogram are looked up once per label set and
    kept: ``labels()`` costs more than the update itself. The label sets are bounded
    (route templates, standard methods, statuses), so the cache is too.
    """

    active = True

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def request_started(self) -> None:
        IN_FLIGHT.inc()

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        IN_FLIGHT.dec()
        key = (method, route, status)
        children = self._requests.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (REQUESTS.labels(*labels), REQUEST_SECONDS.labels(*labels))
            self._requests[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def refused(self, control: str) -> None:
        REFUSALS.labels(control).inc()

    def store_error(self) -> None:
        STORE_ERRORS.inc()

    def circuit_state(self, circuit: str, state: str) -> None:
        CIRCUIT_STATE.labels(circuit).set(CIRCUIT_STATES.get(state, 0))

    def cache_lookup(self, *, hit: bool) -> None:
        CACHE_LOOKUPS.labels("hit" if hit else "miss").inc()

    def grpc_call(self, method: str, code: str) -> None:
        GRPC_CALLS.labels(method, code).inc()

    def stream_opened(self) -> None:
        STREAMS_OPEN.inc()

    def stream_closed(self) -> None:
        STREAMS_OPEN.dec()
