"""What the core reports about itself, to whoever listens: one process-wide observer.

The security layers, the outbound client and the gRPC interceptor call
:func:`observer` at the moment something happens (a request served, a refusal,
a store error). Nothing listens by default: the no-op :class:`Observer` costs a
method call. The optional metrics package installs a recorder at start-up, so
the core never imports a metrics library.
"""

from __future__ import annotations

__all__ = ["Observer", "install", "observer"]


class Observer:
    """Every event the core reports; each method does nothing here (subclass to listen)."""

    active = False  # True in a listener: callers skip work that only a listener needs

    def request_started(self) -> None:
        """An HTTP request entered the stack (in flight until :meth:`request_finished`)."""

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """An HTTP request was answered; ``route`` is its template, never the raw path."""

    def refused(self, control: str) -> None:
        """A security control answered on its own (``auth``, ``rate_limit``, ``body_size``...)."""

    def store_error(self) -> None:
        """The rate-limit store could not be asked."""

    def circuit_state(self, circuit: str, state: str) -> None:
        """An outbound circuit breaker moved to ``state`` (closed, open, half_open)."""

    def cache_lookup(self, *, hit: bool) -> None:
        """The outbound cache was asked for a value."""

    def grpc_call(self, method: str, code: str) -> None:
        """A gRPC call ended with ``code`` (a ``grpc.StatusCode`` name)."""

    def stream_opened(self) -> None:
        """A stream (server-sent events or WebSocket) took a slot."""

    def stream_closed(self) -> None:
        """A stream gave its slot back."""


_current: Observer = Observer()


def install(listener: Observer) -> Observer:
    """Make ``listener`` the process's observer; returns the one it replaces (for tests)."""
    global _current  # one observer per process, by design
    previous, _current = _current, listener
    return previous


def observer() -> Observer:
    """The process's observer (the no-op one until something is installed)."""
    return _current
