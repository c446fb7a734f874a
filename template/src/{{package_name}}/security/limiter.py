"""Rate limiting decisions, shared by every protocol face (HTTP and gRPC).

Built on the ``limits`` library (fixed windows, the same algorithm over memory
and Redis). The memory store is our own subclass of ``limits``' async Storage:
``limits``' ``MemoryStorage`` grows one entry per client for the whole window
and rescans every key on each request, so a flood of distinct addresses costs
unbounded memory and O(keys) CPU per request. Ours holds at most
``max_keys`` counters. When it is full of live windows, a new client is not
given a counter of its own, which would mean forgetting a live one (and an
attacker cycling through more addresses than ``max_keys`` — an IPv6 /48 holds
65,536 /64s — would then never reach a limit): new clients share one overflow
counter per limit until a window ends and frees room.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import limits
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from .observe import observer

__all__ = [
    "DEFAULT_NAMESPACE",
    "BoundedMemoryStorage",
    "Closable",
    "Decision",
    "Probed",
    "RateLimiter",
    "Window",
    "client_key",
    "parse_limit",
]


def parse_limit(text: str) -> limits.RateLimitItem:
    """``"60/minute"`` to a limit item; ValueError saying the shape otherwise (not the text)."""
    try:
        return limits.parse(text)
    except ValueError:
        raise ValueError(
            "not a rate limit: use <count>/<period>, e.g. 60/minute or 10/second"
        ) from None


def client_key(address: str) -> str:
    """The key a client is limited under: its IPv4 address, or its IPv6 /64.

    One IPv6 subscriber usually holds a whole /64, so keying on single addresses
    would give each of them 2**64 budgets.
    """
    if ":" not in address:
        return address
    try:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    except ValueError:
        return address


class BoundedMemoryStorage(Storage):
    """Fixed-window counters in process memory, at most ``max_keys`` of them."""

    STORAGE_SCHEME = ["bounded+memory"]  # noqa: RUF012 - the type the base class declares

    def __init__(self, max_keys: int = 50_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be positive")
        super().__init__(None)
        self.max_keys = max_keys
        self._counters: OrderedDict[str, tuple[int, float]] = OrderedDict()  # count, expires at

    def __len__(self) -> int:
        return len(self._counters)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def admits(self, key: str) -> bool:
        """Whether ``key`` has, or can get, a counter without forgetting a live one.

        The least recently used counter is the one given up: if its window has
        ended, nothing is lost and it goes now; if not, the store is full.
        """
        counters = self._counters
        if key in counters or len(counters) < self.max_keys:
            return True
        oldest, (_, expires) = next(iter(counters.items()))
        if expires > time.monotonic():
            return False
        del counters[oldest]
        return True

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.monotonic()
        count, expires = self._counters.pop(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + expiry
        count += amount
        self._counters[key] = (count, expires)  # most recent last
        if len(self._counters) > self.max_keys:
            self._counters.popitem(last=False)
        return count

    async def get(self, key: str) -> int:
        count, expires = self._counters.get(key, (0, 0.0))
        return count if expires > time.monotonic() else 0

    async def get_expiry(self, key: str) -> float:
        """Wall-clock time the key's window ends (what ``limits`` expects)."""
        _, expires = self._counters.get(key, (0, 0.0))
        return time.time() + max(0.0, expires - time.monotonic())

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        cleared = len(self._counters)
        self._counters.clear()
        return cleared

    async def clear(self, key: str) -> None:
        self._counters.pop(key, None)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request or call."""

    allowed: bool
    limit: int = 0
    remaining: int = 0
    reset_after: int = 0  # seconds until the window that denied it ends
    unavailable: bool = False  # the store could not be asked: allowed only if failing open


ALLOW = Decision(allowed=True)


@runtime_checkable
class Closable(Protocol):
    """A store holding connections to close at shutdown."""

    async def aclose(self) -> None: ...


@runtime_checkable
class Probed(Protocol):
    """A store that can be down (Redis): ``probe`` says None when it answers, else why not."""

    async def probe(self) -> str | None: ...


DEFAULT_NAMESPACE = "default"  # never a route key: those are "METHOD /path"
OVERFLOW_CLIENT = "overflow"  # never a client key: those are addresses, or "unknown"


@dataclass(frozen=True, slots=True)
class Window:
    """One limit's counter, namespaced and split around the client key, computed once.

    The key is ``limits``' own ``key_for(namespace, client)``:
    ``LIMITER/<namespace>/<client>/<amount>/<multiples>/<granularity>``. The
    namespace (``default``, or the route key) keeps two limits with the same
    numbers on separate counters. ``limits`` builds the key anew on every hit (a
    join of six strings); here the hot path only concatenates, and its strategy
    reads the same counters (same keys in Redis too).
    """

    item: limits.RateLimitItem
    namespace: str
    prefix: str
    suffix: str
    expiry: int

    @classmethod
    def of(cls, item: limits.RateLimitItem, namespace: str) -> Window:
        marker = "\x00"  # never in a client key (an IP address)
        prefix, _, suffix = item.key_for(namespace, marker).partition(marker)
        return cls(item, namespace, prefix, suffix, item.get_expiry())

    def key(self, client: str) -> str:
        return self.prefix + client + self.suffix


class RateLimiter:
    """A default limit per client, plus stricter limits for named routes.

    Every request counts once against the client's default counter; a request on
    a route in ``route_limits`` also counts once against that route's own counter
    (on top of the default, never instead of it). Each route has its own counter
    even when two limits have the same numbers, so one route's traffic never
    spends another's budget. Only configured route keys become namespaces: a
    request path never adds a key of its own.
    """

    def __init__(
        self,
        *,
        default: str,
        storage: Storage,
        fail_open: bool = False,
        route_limits: Mapping[str, str] | None = None,
    ) -> None:
        self.default = parse_limit(default)
        self.route_limits = {route: parse_limit(v) for route, v in (route_limits or {}).items()}
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)
        self.fail_open = fail_open
        self.default_window = Window.of(self.default, DEFAULT_NAMESPACE)
        self.route_windows = {
            route: Window.of(item, route) for route, item in self.route_limits.items()
        }
        # The windows each request counts against, looked up once per request.
        self._default_only: tuple[Window, ...] = (self.default_window,)
        self._windows: dict[str, tuple[Window, ...]] = {
            route: (self.default_window, window) for route, window in self.route_windows.items()
        }

    async def aclose(self) -> None:
        """Release the store's connections (at server shutdown)."""
        if isinstance(self.storage, Closable):
            await self.storage.aclose()

    async def hit(self, key: str, route: str | None = None) -> Decision:
        """Count one request by ``key`` (on ``route``); never raises for a store failure.

        Each window's hit is ``FixedWindowRateLimiter.hit``: one ``incr``, allowed up to
        the amount. The default is counted first; a request it refuses spends no
        route budget.
        """
        windows = self._default_only
        if route is not None:
            windows = self._windows.get(route, windows)
        # Only a bounded store can be full (Redis evicts by its own policy).
        admits = getattr(self.storage, "admits", None)
        try:
            for window in windows:
                item = window.item
                counter, client = window.key(key), key
                if admits is not None and not admits(counter):
                    client = OVERFLOW_CLIENT  # full of live windows: the shared counter
                    counter = window.key(client)
                if await self.storage.incr(counter, window.expiry) > item.amount:
                    reset_at, remaining = await self.strategy.get_window_stats(
                        item, window.namespace, client
                    )
                    return Decision(
                        allowed=False,
                        limit=item.amount,
                        remaining=max(0, remaining),
                        reset_after=max(1, round(reset_at - time.time())),
                    )
        except (StorageError, OSError, TimeoutError):
            observer().store_error()
            return Decision(allowed=self.fail_open, reset_after=1, unavailable=True)
        return ALLOW
