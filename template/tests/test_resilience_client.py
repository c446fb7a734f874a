"""Outbound client: pool limits, timeouts, no redirects, TLS verified, answers bounded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from .certificates import make_certificate
from .conftest import UpstreamFactory, status_of
from .service import UpstreamError
from .upstream import Mode, UpstreamServer, upstream_server

pytestmark = pytest.mark.anyio

# Each call reaches the upstream, and failures never open a circuit here.
PLAIN = {"cache_enabled": False, "cb_enabled": False}


async def test_pool_max_bounds_concurrent_connections(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(httpx_pool_max=2, httpx_pool_max_keepalive=2, **PLAIN)
    upstream.mode = "stall"
    calls = [asyncio.create_task(status_of(gateway, f"k{i}")) for i in range(6)]
    assert await asyncio.to_thread(upstream.wait_for, lambda: upstream.open_connections == 2)
    await asyncio.sleep(0.3)  # the other four wait for a pooled connection
    assert upstream.max_open_connections == 2
    assert upstream.total_hits == 2
    upstream.release.set()
    assert await asyncio.gather(*calls) == [200] * 6
    assert upstream.max_open_connections == 2
    assert upstream.total_hits == 6


async def test_idle_connections_beyond_the_keepalive_limit_are_closed(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(httpx_pool_max=4, httpx_pool_max_keepalive=1, **PLAIN)
    upstream.delay = 0.2
    assert await asyncio.gather(*(status_of(gateway, f"k{i}") for i in range(4))) == [200] * 4
    assert upstream.max_open_connections == 4
    assert await asyncio.to_thread(upstream.wait_for, lambda: upstream.open_connections == 1)


async def test_upstream_timeout_is_a_fast_504(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(upstream_timeout=0.3, **PLAIN)
    upstream.mode = "stall"
    started = time.monotonic()
    assert await status_of(gateway) == 504
    assert time.monotonic() - started < 1.5  # the upstream would have stalled for 30 s


async def test_pool_wait_counts_against_the_upstream_timeout(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(httpx_pool_max=1, upstream_timeout=0.3, **PLAIN)
    upstream.mode = "stall"
    started = time.monotonic()
    assert list(await asyncio.gather(status_of(gateway, "a"), status_of(gateway, "b"))) == [
        504,
        504,
    ]
    assert time.monotonic() - started < 1.5  # the second did not wait for a free connection


async def test_redirects_are_not_followed(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(**PLAIN)
    upstream.mode = "redirect"
    assert await status_of(gateway) == 502
    assert upstream.hits == {"/k": 1}  # /elsewhere was never asked


@pytest.mark.parametrize("mode", ["fail", "garbage", "huge"])
async def test_bad_answers_are_502(
    make_upstream: UpstreamFactory, upstream: UpstreamServer, mode: Mode
) -> None:
    gateway = make_upstream(**PLAIN)
    upstream.mode = mode
    with pytest.raises(UpstreamError) as error:
        await gateway.fetch("k")
    assert (error.value.status, error.value.detail) == (
        502,
        "The upstream service did not answer properly.",
    )


async def test_an_unreachable_upstream_is_502(make_upstream: UpstreamFactory) -> None:
    with upstream_server() as gone:
        url = gone.url
    gateway = make_upstream(upstream_url=url, **PLAIN)
    assert await status_of(gateway) == 502


async def test_tls_certificates_are_verified(
    make_upstream: UpstreamFactory, tmp_path: Path
) -> None:
    """A self-signed certificate is refused: verification cannot be switched off."""
    with upstream_server(certificate=make_certificate(tmp_path)) as untrusted:
        assert untrusted.url.startswith("https://127.0.0.1:")
        gateway = make_upstream(upstream_url=untrusted.url, **PLAIN)
        assert await status_of(gateway) == 502
        assert untrusted.total_hits == 0


async def test_an_unconfigured_upstream_is_503_without_a_call(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(upstream_url=None)
    with pytest.raises(UpstreamError) as error:
        await gateway.fetch("k")
    assert (error.value.status, error.value.headers) == (503, {})
    assert upstream.total_hits == 0
