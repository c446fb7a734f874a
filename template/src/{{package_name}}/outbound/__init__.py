"""Outbound calls, framework-agnostic: a pooled client, a circuit breaker, a coalescing cache.

:mod:`.upstream` puts the three together for the example route.
"""

from .breaker import CircuitBreaker, CircuitOpenError, State
from .cache import CoalescingCache
from .client import make_client
from .upstream import Upstream, UpstreamError, build_upstream

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "CoalescingCache",
    "State",
    "Upstream",
    "UpstreamError",
    "build_upstream",
    "make_client",
]
