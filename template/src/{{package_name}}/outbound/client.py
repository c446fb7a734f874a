"""The outbound HTTP client: pooled, bounded in time, TLS verified, no redirects."""

from __future__ import annotations

import httpx

__all__ = ["make_client"]

# Idle pooled connections are dropped after this long (below common 60 s server idle limits).
KEEPALIVE_EXPIRY = 30.0


def make_client(*, timeout: float, max_connections: int, max_keepalive: int) -> httpx.AsyncClient:
    """One pooled client, meant to live as long as the app (its owner closes it at shutdown).

    - Every phase has its own deadline of ``timeout`` seconds: connecting, each
      read and write, and waiting for a free pooled connection. (The caller also
      bounds the whole exchange: a server dripping one byte a second never trips a
      per-read timeout.)
    - At most ``max_connections`` connections at once, ``max_keepalive`` kept idle.
    - Redirects are answers, not followed: a ``Location`` may point anywhere,
      an internal address included, and credentials would follow it.
    - TLS certificates are always verified; no setting turns that off.
    - The environment is not read (no proxy, netrc or CA bundle from environment
      variables): ``settings.py`` is the one place that reads it.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
        follow_redirects=False,
        verify=True,
        trust_env=False,
    )
