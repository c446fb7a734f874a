"""Circuit breaker: opens after the threshold, half-opens with one probe, closes or reopens.

Against a real upstream server: "fails fast" means the upstream saw no request.
"""

from __future__ import annotations

import asyncio

import pytest

from .conftest import UpstreamFactory, status_of
from .service import CircuitBreaker, CircuitOpenError, State, Upstream, UpstreamError
from .upstream import UpstreamServer

pytestmark = pytest.mark.anyio

RECOVERY = 0.2  # CB_RECOVERY_TIMEOUT in these tests, seconds
# Every call reaches the breaker: no cache in front of it.
NO_CACHE = {"cache_enabled": False, "cb_recovery_timeout": RECOVERY}


def state(breaker: CircuitBreaker | None) -> State:
    """The breaker's state now (a call, so that type checkers do not narrow it)."""
    assert breaker is not None
    return breaker.state


async def opened(make_upstream: UpstreamFactory, upstream: UpstreamServer) -> Upstream:
    """A gateway whose circuit the failing upstream has just opened (threshold 1)."""
    gateway = make_upstream(cb_failure_threshold=1, **NO_CACHE)
    upstream.mode = "fail"
    assert await status_of(gateway) == 502
    assert state(gateway.breaker) is State.OPEN
    return gateway


async def test_opens_after_the_threshold_then_fails_fast(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cb_failure_threshold=3, cache_enabled=False, cb_recovery_timeout=30)
    upstream.mode = "fail"
    assert [await status_of(gateway) for _ in range(3)] == [502, 502, 502]
    with pytest.raises(UpstreamError) as refused:
        await gateway.fetch("k")
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "30"}  # the seconds left, rounded up
    assert [await status_of(gateway) for _ in range(5)] == [503] * 5
    assert upstream.total_hits == 3  # nothing reached the upstream once open


async def test_successes_reset_the_count(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cb_failure_threshold=3, **NO_CACHE)
    for mode in ("fail", "fail", "ok", "fail", "fail", "ok", "fail", "fail"):
        upstream.mode = mode
        await status_of(gateway)
    assert state(gateway.breaker) is State.CLOSED
    assert upstream.total_hits == 8


async def test_half_open_lets_exactly_one_probe_through_and_its_success_closes(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = await opened(make_upstream, upstream)
    assert await status_of(gateway) == 503  # still within the recovery timeout
    await asyncio.sleep(RECOVERY + 0.05)
    upstream.mode, upstream.delay = "ok", 0.3  # the probe takes a while
    statuses = await asyncio.gather(*(status_of(gateway, f"k{i}") for i in range(20)))
    assert sorted(statuses) == [200] + [503] * 19
    assert upstream.total_hits == 2  # the failure, then the one probe
    assert state(gateway.breaker) is State.CLOSED
    upstream.delay = 0
    assert await asyncio.gather(*(status_of(gateway, f"k{i}") for i in range(5))) == [200] * 5
    assert upstream.total_hits == 7


async def test_a_failed_probe_reopens(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = await opened(make_upstream, upstream)
    await asyncio.sleep(RECOVERY + 0.05)
    assert state(gateway.breaker) is State.HALF_OPEN
    assert await status_of(gateway) == 502  # the probe, failed
    assert state(gateway.breaker) is State.OPEN
    assert await status_of(gateway) == 503
    assert upstream.total_hits == 2
    await asyncio.sleep(RECOVERY + 0.05)  # a new recovery timeout, from the failed probe
    upstream.mode = "ok"
    assert await status_of(gateway) == 200
    assert state(gateway.breaker) is State.CLOSED


async def test_timeouts_count_as_failures(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(
        cb_failure_threshold=2, upstream_timeout=0.2, cache_enabled=False, cb_recovery_timeout=30
    )
    upstream.mode = "stall"
    assert [await status_of(gateway) for _ in range(3)] == [504, 504, 503]
    assert upstream.total_hits == 2


async def test_not_found_is_an_answer_not_a_failure(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cb_failure_threshold=2, **NO_CACHE)
    upstream.mode = "missing"
    assert [await status_of(gateway) for _ in range(5)] == [404] * 5
    assert upstream.total_hits == 5


async def test_disabled_breaker_never_opens(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = make_upstream(cb_enabled=False, cb_failure_threshold=1, **NO_CACHE)
    upstream.mode = "fail"
    assert [await status_of(gateway) for _ in range(10)] == [502] * 10
    assert upstream.total_hits == 10


async def test_a_cancelled_probe_decides_nothing() -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0.05)

    async def fail() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    await asyncio.sleep(0.06)
    probe = asyncio.create_task(breaker.call(lambda: asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    with pytest.raises(CircuitOpenError):  # one probe at a time
        await breaker.call(lambda: asyncio.sleep(0))
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert state(breaker) is State.HALF_OPEN
    await breaker.call(lambda: asyncio.sleep(0))  # the next call is the probe
    assert state(breaker) is State.CLOSED


async def reached(upstream: UpstreamServer, hits: int) -> None:
    """Wait (in a thread: the loop must go on sending) until the upstream saw ``hits``."""
    assert await asyncio.to_thread(upstream.wait_for, lambda: upstream.total_hits >= hits)


async def cancelled_fetch(gateway: Upstream, upstream: UpstreamServer) -> None:
    """One fetch that reaches the (stalled) upstream, then is cancelled by its caller."""
    task = asyncio.create_task(gateway.fetch(f"k{upstream.total_hits}"))
    await reached(upstream, upstream.total_hits + 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancelled_calls_are_not_failures(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    """A client that hangs up says nothing about the upstream: the circuit stays closed."""
    gateway = make_upstream(cb_failure_threshold=2, cache_enabled=False, cb_recovery_timeout=30)
    upstream.mode = "stall"
    for _ in range(5):  # more than the threshold
        await cancelled_fetch(gateway, upstream)
        assert state(gateway.breaker) is State.CLOSED
    upstream.mode = "ok"
    assert await status_of(gateway) == 200  # called, not refused
    assert upstream.total_hits == 6


async def test_a_cancelled_upstream_probe_decides_nothing(
    make_upstream: UpstreamFactory, upstream: UpstreamServer
) -> None:
    gateway = await opened(make_upstream, upstream)
    await asyncio.sleep(RECOVERY + 0.05)
    upstream.mode = "stall"
    probe = asyncio.create_task(gateway.fetch("probe"))
    await reached(upstream, 2)
    assert await status_of(gateway) == 503  # one probe at a time
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert state(gateway.breaker) is State.HALF_OPEN  # not reopened
    upstream.mode = "ok"
    assert await status_of(gateway) == 200  # the next call is the probe
    assert state(gateway.breaker) is State.CLOSED
    assert upstream.total_hits == 3


async def test_no_predicate_makes_a_cancellation_a_failure() -> None:
    """Whatever ``is_failure`` says, only exceptions are judged; a cancellation is not one."""
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=30, is_failure=lambda _: True)
    call = asyncio.create_task(breaker.call(lambda: asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert state(breaker) is State.CLOSED
