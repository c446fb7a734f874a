"""Rate limiting per client: 429 with Retry-After, exact exemptions, no spoofing, bounded memory."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import ValidationError

from .asgi import exchange
from .conftest import AppFactory, SettingsFactory, client_for
from .service import (
    DEFAULT_RATE_LIMIT_STORAGE,
    HEALTH_PATHS,
    ROUTE_RATE_LIMITS,
    BoundedMemoryStorage,
    RateLimiter,
    client_key,
)
from .test_headers import assert_hardened

pytestmark = pytest.mark.anyio
ITEMS_POST = "POST /api/v1/items"


async def test_over_the_limit_is_429_with_retry_after(make_app: AppFactory) -> None:
    async with client_for(make_app(rate_limit_default="3/minute")) as http:
        statuses = [(await http.get("/missing")).status_code for _ in range(3)]
        refused = await http.get("/missing")
    assert statuses == [404, 404, 404]
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-reset"] == refused.headers["retry-after"]
    assert_hardened(refused.headers)


@pytest.mark.parametrize("path", HEALTH_PATHS)
async def test_health_paths_are_exempt(make_app: AppFactory, path: str) -> None:
    async with client_for(make_app(rate_limit_default="1/minute")) as http:
        statuses = {(await http.get(path)).status_code for _ in range(5)}
    assert statuses == {200}


@pytest.mark.parametrize("path", ["/healthX", "/health/x", "/HEALTH"])
async def test_only_exact_health_paths_are_exempt(make_app: AppFactory, path: str) -> None:
    async with client_for(make_app(rate_limit_default="1/minute")) as http:
        await http.get(path)
        assert (await http.get(path)).status_code == 429


async def test_spoofed_forwarded_for_gives_no_new_budget(make_app: AppFactory) -> None:
    async with client_for(make_app(rate_limit_default="2/minute")) as http:
        for fake in ("1.1.1.1", "2.2.2.2"):
            await http.get("/missing", headers={"x-forwarded-for": fake})
        refused = await http.get("/missing", headers={"x-forwarded-for": "3.3.3.3"})
    assert refused.status_code == 429


async def test_clients_behind_a_trusted_proxy_have_their_own_budgets(
    make_app: AppFactory,
) -> None:
    app = make_app(rate_limit_default="1/minute", trusted_proxies="10.0.0.0/8")
    proxy = ("10.0.0.2", 4000)
    first = await exchange(app, method="GET", path="/x", client=proxy,
                           headers=[("x-forwarded-for", "198.51.100.1")])  # fmt: skip
    second = await exchange(app, method="GET", path="/x", client=proxy,
                            headers=[("x-forwarded-for", "198.51.100.2")])  # fmt: skip
    again = await exchange(app, method="GET", path="/x", client=proxy,
                           headers=[("x-forwarded-for", "198.51.100.1")])  # fmt: skip
    assert (first.status, second.status, again.status) == (404, 404, 429)


async def test_ipv6_clients_share_their_64(make_app: AppFactory) -> None:
    app = make_app(rate_limit_default="1/minute")
    first = await exchange(app, method="GET", path="/x", client=("2001:db8:1:2::1", 1))
    same_64 = await exchange(app, method="GET", path="/x", client=("2001:db8:1:2::ffff", 1))
    other_64 = await exchange(app, method="GET", path="/x", client=("2001:db8:1:3::1", 1))
    assert (first.status, same_64.status, other_64.status) == (404, 429, 404)


async def test_stricter_route_limit(make_app: AppFactory) -> None:
    route, limit = next(iter(ROUTE_RATE_LIMITS.items()))
    method, path = route.split(" ", 1)
    count = int(limit.split("/")[0])
    async with client_for(make_app(rate_limit_default="1000/minute")) as http:
        statuses = [(await http.request(method, path, json={})).status_code for _ in range(count)]
        refused = await http.request(method, path, json={})
        other = await http.get("/missing")
    assert 429 not in statuses
    assert refused.status_code == 429
    assert other.status_code == 404  # the default budget is not spent


async def statuses_of(http: httpx.AsyncClient, method: str, path: str, times: int) -> list[int]:
    return [(await http.request(method, path, json={})).status_code for _ in range(times)]


async def test_a_route_limit_equal_to_the_default_allows_its_full_count(
    make_app: AppFactory,
) -> None:
    """Each POST counts once against the default and once against its route: 20 fit, not 10."""
    app = make_app(rate_limit_default="20/minute", rate_limit_routes={ITEMS_POST: "20/minute"})
    async with client_for(app) as http:
        allowed = await statuses_of(http, "POST", "/api/v1/items", 20)
        refused = await http.post("/api/v1/items", json={})
    assert 429 not in allowed
    assert refused.status_code == 429
    assert refused.headers["ratelimit-limit"] == "20"
    assert refused.headers["ratelimit-remaining"] == "0"


async def test_routes_with_equal_limits_have_their_own_budgets(make_app: AppFactory) -> None:
    app = make_app(
        rate_limit_default="1000/minute",
        rate_limit_routes={"POST /a": "5/minute", "POST /b": "5/minute"},
    )
    async with client_for(app) as http:
        first = await statuses_of(http, "POST", "/a", 6)
        second = await statuses_of(http, "POST", "/b", 6)
    assert [status == 429 for status in first] == [False] * 5 + [True]
    assert [status == 429 for status in second] == [False] * 5 + [True]


async def test_route_limits_count_on_top_of_the_default(make_app: AppFactory) -> None:
    """The documented rule: other requests spend only the default; a limited route spends both.

    With equal numbers the default binds: after 10 GETs, 10 POSTs fit (not 5), then
    the default refuses POSTs and GETs alike.
    """
    app = make_app(rate_limit_default="20/minute", rate_limit_routes={ITEMS_POST: "20/minute"})
    async with client_for(app) as http:
        gets = await statuses_of(http, "GET", "/missing", 10)
        posts = await statuses_of(http, "POST", "/api/v1/items", 11)
        last_get = await http.get("/missing")
    assert 429 not in gets
    assert [status == 429 for status in posts] == [False] * 10 + [True]
    assert last_get.status_code == 429


async def test_a_stricter_default_also_binds_a_limited_route(make_app: AppFactory) -> None:
    app = make_app(rate_limit_default="3/minute", rate_limit_routes={ITEMS_POST: "10/minute"})
    async with client_for(app) as http:
        allowed = await statuses_of(http, "POST", "/api/v1/items", 3)
        refused = await http.post("/api/v1/items", json={})
    assert 429 not in allowed
    assert (refused.status_code, refused.headers["ratelimit-limit"]) == (429, "3")


async def test_memory_store_is_bounded() -> None:
    storage = BoundedMemoryStorage(max_keys=1000)
    limiter = RateLimiter(default="5/minute", storage=storage)
    for i in range(20_000):
        await limiter.hit(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(storage) == 1000


async def test_a_full_store_forgets_no_live_window() -> None:
    """More /64s than the store holds (an IPv6 /48 has 65,536): no way around the limit.

    With eviction, each address would be forgotten before its sixth request and
    start again at zero; instead, clients arriving while every window is live
    share one overflow budget.
    """
    storage = BoundedMemoryStorage(max_keys=100)
    limiter = RateLimiter(default="5/minute", storage=storage)
    addresses = [client_key(f"2001:db8:7:{n:x}::1") for n in range(101)]
    allowed = 0
    for _ in range(50):
        for address in addresses:
            allowed += (await limiter.hit(address)).allowed
    # Each tracked /64 its 5, the latecomer the shared 5 (making room for the shared
    # counter forgets one tracked client, once); eviction would have allowed 5,050.
    assert 500 <= allowed <= 5 * 102
    assert len(storage) <= 100
    assert not (await limiter.hit(addresses[0])).allowed  # still remembered: still refused


async def test_counters_of_ended_windows_make_room() -> None:
    storage = BoundedMemoryStorage(max_keys=100)
    limiter = RateLimiter(default="5/second", storage=storage)
    for n in range(100):
        await limiter.hit(f"10.0.0.{n}")
    await asyncio.sleep(1.1)  # every window has ended
    for n in range(10):  # newcomers get counters of their own again, not the shared one
        decisions = [await limiter.hit(f"10.0.1.{n}") for _ in range(5)]
        assert all(decision.allowed for decision in decisions)


@pytest.mark.parametrize("client", ["203.0.113.7", "2001:db8:1:2::/64", "unknown"])
async def test_counters_are_the_ones_limits_reads(client: str) -> None:
    """The precomputed keys are ``limits``' own: its strategy sees every hit we count."""
    route = ITEMS_POST
    limiter = RateLimiter(
        default="3/minute", storage=BoundedMemoryStorage(), route_limits={route: "2/minute"}
    )
    windows = {"default": limiter.default_window, route: limiter.route_windows[route]}
    items = {"default": limiter.default, route: limiter.route_limits[route]}
    for namespace, window in windows.items():
        assert window.key(client) == items[namespace].key_for(namespace, client)
    assert (await limiter.hit(client, route)).allowed
    for namespace, remaining in (("default", 2), (route, 1)):
        _, left = await limiter.strategy.get_window_stats(items[namespace], namespace, client)
        assert left == remaining
    assert (await limiter.hit(client, route)).allowed
    refused = await limiter.hit(client, route)
    assert (refused.allowed, refused.limit, refused.remaining) == (False, 2, 0)


async def test_each_namespace_is_one_counter_per_client() -> None:
    """Store sizing: a client holds its default counter plus one per limited route it calls."""
    storage = BoundedMemoryStorage()
    routes = {"POST /a": "5/minute", "POST /b": "5/minute"}
    limiter = RateLimiter(default="100/minute", storage=storage, route_limits=routes)
    for route in ("GET /a", "GET /unlimited/1", "GET /unlimited/2", None):
        await limiter.hit("203.0.113.7", route)
    assert len(storage) == 1  # unlimited paths never add a key
    for route in ("POST /a", "POST /b", "POST /a"):
        await limiter.hit("203.0.113.7", route)
    assert len(storage) == 3


def test_redis_url_needs_the_redis_store(make_settings: SettingsFactory) -> None:
    """Refused at start-up in a memory variant (even with redis installed); else accepted."""
    url = "redis://127.0.0.1:6379/0"
    if DEFAULT_RATE_LIMIT_STORAGE.startswith("memory://"):
        with pytest.raises(ValidationError, match="needs the redis package and store"):
            make_settings(rate_limit_storage_url=url)
    else:
        assert make_settings(rate_limit_storage_url=url).rate_limit_storage_url == url


def test_bad_route_limit_setting_is_refused(make_settings: SettingsFactory) -> None:
    with pytest.raises(ValidationError, match="not a route"):
        make_settings(rate_limit_routes={"/api/v1/items": "1/minute"})


@pytest.mark.parametrize("bad", ["60", "60/fortnight", "many/minute", "-1/second"])
def test_bad_rate_limit_setting_is_refused(make_settings: SettingsFactory, bad: str) -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        make_settings(rate_limit_default=bad)


def test_memory_store_with_workers_warns(make_settings: SettingsFactory) -> None:
    warnings = make_settings(workers=4, rate_limit_storage_url="memory://").startup_warnings()
    assert any("per process" in warning for warning in warnings)
