"""Cache: TTL and LRU, concurrent misses coalesced into one call, a bounded in-flight map."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from .conftest import UpstreamFactory
from .service import Upstream, UpstreamError
from .upstream import UpstreamServer

pytestmark = pytest.mark.anyio


def in_flight(gateway: Upstream) -> int:
    assert gateway.cache is not None
    return gateway.cache.in_flight


async def test_a_thousand_concurrent_misses_make_one_upstream_call(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream()
    upstream.delay = 0.2
    values = await asyncio.gather(*(gateway.fetch("cold") for _ in range(1000)))
    assert upstream.hits == {"/cold": 1}
    assert {value.value for value in values} == {"value of /cold"}
    assert in_flight(gateway) == 0
    await gateway.fetch("cold")  # and from now on, from the cache
    assert upstream.total_hits == 1


async def test_a_failure_is_shared_never_cached_and_leaves_no_entry(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cb_enabled=False)
    upstream.mode, upstream.delay = "fail", 0.1
    results = await asyncio.gather(*(gateway.fetch("k") for _ in range(50)), return_exceptions=True)
    assert {r.status for r in results if isinstance(r, UpstreamError)} == {502}
    assert len(results) == 50
    assert upstream.total_hits == 1
    assert in_flight(gateway) == 0
    upstream.mode = "ok"
    assert (await gateway.fetch("k")).value == "value of /k"  # the failure was not cached
    assert upstream.total_hits == 2
    assert in_flight(gateway) == 0


async def test_entries_expire_after_the_ttl(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cache_ttl=0.5)
    await gateway.fetch("k")
    await gateway.fetch("k")
    assert upstream.total_hits == 1
    await asyncio.sleep(0.6)
    await gateway.fetch("k")
    assert upstream.total_hits == 2


async def test_least_recently_used_is_evicted_first(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cache_max_size=2)
    for key in ("a", "b", "a", "c", "a"):  # c evicts b, used less recently than a
        await gateway.fetch(key)
    assert upstream.hits == {"/a": 1, "/b": 1, "/c": 1}
    await gateway.fetch("b")
    assert upstream.hits["/b"] == 2


async def test_in_flight_keys_are_capped_beyond_which_calls_go_uncoalesced(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cache_max_size=1)  # at most CACHE_MAX_SIZE keys in flight
    upstream.delay = 0.3
    calls = [asyncio.create_task(gateway.fetch(key)) for key in ["a"] * 5 + ["b"] * 5]
    await asyncio.sleep(0.1)
    assert in_flight(gateway) == 1
    await asyncio.gather(*calls)
    assert upstream.hits == {"/a": 1, "/b": 5}
    assert in_flight(gateway) == 0


async def test_a_cancelled_waiter_leaves_the_call_to_the_others(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream()
    upstream.delay = 0.2
    first = asyncio.create_task(gateway.fetch("k"))
    second = asyncio.create_task(gateway.fetch("k"))
    await asyncio.sleep(0.05)
    first.cancel()
    assert (await second).value == "value of /k"
    assert first.cancelled()
    assert upstream.total_hits == 1
    assert in_flight(gateway) == 0


async def test_keys_are_stored_as_their_sha256(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream()
    await gateway.fetch("some-key")
    assert gateway.cache is not None
    stored = list(gateway.cache._values)  # a private detail, checked on purpose
    assert stored == [hashlib.sha256(b"some-key").hexdigest()]


async def test_a_disabled_cache_calls_every_time(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cache_enabled=False)
    assert gateway.cache is None
    await asyncio.gather(*(gateway.fetch("k") for _ in range(5)))
    await gateway.fetch("k")
    assert upstream.total_hits == 6
