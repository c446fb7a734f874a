"""Streams through the security core: server-sent events bounded in time and memory.

One implementation for every framework: an adapter hands the raw ASGI call of
its streaming route to :func:`serve_events`. What a stream may cost is fixed here:

- time: ``REQUEST_TIMEOUT`` bounds the time to the response start only
  (:func:`.timeout.release_timeout`); a stream with no event for ``idle_timeout``
  and any stream older than ``max_duration`` ends with a final ``end`` event;
- memory: each subscriber has a bounded queue (``queue_maxsize``): a reader that
  falls that far behind is dropped, and one whose ``send`` does not drain for
  ``backpressure_timeout`` is disconnected (no final event can reach it);
- count: :class:`StreamSlots` caps streams per client (429) and in total (503),
  both with ``Retry-After``;
- a client that goes away ends its stream at once: its subscription, its queue and
  the one task watching for the disconnect are gone when :func:`serve_events` returns.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from itertools import count
from typing import Any

from ._asgi import Receive, Scope, Send, send_json_error
from .client import client_ip
from .observe import observer
from .principal import authorize
from .timeout import release_timeout

__all__ = [
    "Broadcaster",
    "Event",
    "StreamConfig",
    "StreamSlots",
    "Subscription",
    "parse_last_event_id",
    "relay",
    "serve_events",
]

EVENT_STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # Never cached, never buffered by a proxy (nginx honours X-Accel-Buffering).
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]
HEARTBEAT = b": heartbeat\n\n"  # a comment: keeps proxies from timing the stream out
_LAST_EVENT_ID = b"last-event-id"
_EVENT_ID = re.compile(r"^[0-9]{1,19}$")  # what this service issues: positive integers


@dataclass(frozen=True, slots=True)
class Event:
    """One event as every subscriber gets it: id, name and JSON data."""

    id: int
    name: str
    data: str
    labels: frozenset[str] = frozenset()  # what a WebSocket client may filter on

    def encode(self) -> bytes:
        return f"id: {self.id}\nevent: {self.name}\ndata: {self.data}\n\n".encode()

    def as_text(self) -> str:
        """The event as one WebSocket text message (a JSON object)."""
        return f'{{"id":{self.id},"event":{json.dumps(self.name)},"data":{self.data}}}'


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """The limits of every stream (from the settings)."""

    idle_timeout: float
    max_duration: float
    heartbeat_interval: float
    backpressure_timeout: float


class Subscription:
    """One subscriber's bounded queue. Closed with a reason; never grows past ``maxsize``."""

    __slots__ = ("_events", "_ready", "closed", "maxsize")

    def __init__(self, maxsize: int, backlog: Iterable[Event] = ()) -> None:
        self.maxsize = maxsize
        self._events: deque[Event] = deque(backlog)
        self._ready = asyncio.Event()
        self.closed: str | None = None
        if len(self._events) > maxsize:
            self.close("overflow")

    def __len__(self) -> int:
        return len(self._events)

    def offer(self, event: Event) -> None:
        """Queue an event; a reader ``maxsize`` events behind is dropped, not waited for."""
        if self.closed is not None:
            return
        if len(self._events) >= self.maxsize:
            self.close("overflow")
            return
        self._events.append(event)
        self._ready.set()

    def close(self, reason: str) -> None:
        """End the subscription (first reason wins); its queued events are dropped."""
        if self.closed is None:
            self.closed = reason
            self._events.clear()
            self._ready.set()

    async def next(self, wait: float) -> Event | None:
        """The next event, or None after ``wait`` seconds or once closed."""
        if not self._events and self.closed is None:
            self._ready.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0)):
                    await self._ready.wait()
        if self.closed is None and self._events:
            return self._events.popleft()
        return None


class Broadcaster:
    """In-process fan-out of events, with a bounded buffer for ``Last-Event-ID`` resume.

    Publishing never waits for a reader: each subscriber has its own bounded queue.
    """

    def __init__(self, *, queue_maxsize: int, replay_size: int) -> None:
        if queue_maxsize < 1 or replay_size < 0:
            raise ValueError("queue_maxsize must be positive and replay_size not negative")
        self.queue_maxsize = queue_maxsize
        self._replay: deque[Event] = deque(maxlen=replay_size)
        self._subscribers: set[Subscription] = set()
        self._ids = count(1)
        self.last_id = 0

    def __len__(self) -> int:
        """How many subscribers there are now."""
        return len(self._subscribers)

    def publish(self, name: str, data: Any, labels: Iterable[str] = ()) -> Event:
        self.last_id = next(self._ids)
        event = Event(
            self.last_id, name, json.dumps(data, separators=(",", ":")), frozenset(labels)
        )
        self._replay.append(event)
        for subscriber in tuple(self._subscribers):
            subscriber.offer(event)
        return event

    @contextmanager
    def subscribe(self, after: int | None = None) -> Iterator[Subscription]:
        """A subscription for the block's duration, first given the retained events after ``after``.

        An id this process never issued (e.g. from before a restart) replays nothing.
        """
        backlog = () if after is None else (e for e in self._replay if e.id > after)
        subscription = Subscription(self.queue_maxsize, backlog)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
            subscription.close("gone")

    def close_all(self, reason: str) -> None:
        """End every subscription (at shutdown): each stream sends its final event."""
        for subscriber in tuple(self._subscribers):
            subscriber.close(reason)


class StreamSlots:
    """Caps on concurrent streams, per client and in total (one per process)."""

    def __init__(self, *, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._open: Counter[str] = Counter()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @contextmanager
    def hold(self, client: str) -> Iterator[int | None]:
        """Yields None with a slot held for the block, or the refusal status (429, 503)."""
        if self._open[client] >= self.per_client:
            yield 429
            return
        if self._count >= self.total:
            yield 503
            return
        self._open[client] += 1
        self._count += 1
        observer().stream_opened()
        try:
            yield None
        finally:
            observer().stream_closed()
            self._count -= 1
            self._open[client] -= 1
            if not self._open[client]:
                del self._open[client]


def parse_last_event_id(scope: Scope) -> tuple[bool, int | None]:
    """(valid, id) from the request's ``Last-Event-ID`` (absent: valid, None)."""
    values = [value for name, value in scope["headers"] if name == _LAST_EVENT_ID]
    if not values:
        return True, None
    text = values[-1].decode("latin-1").strip()
    if len(values) > 1 or not _EVENT_ID.match(text):
        return False, None
    return True, int(text)


async def _refuse(send: Send, status: int, detail: str | None = None) -> None:
    """A stream refused before its first event (``405`` is no control: a wrong method)."""
    headers = [(b"retry-after", b"1")] if status in (429, 503) else []
    if status == 405:
        headers.append((b"allow", b"GET"))
    await send_json_error(
        send, status, detail, headers, control=None if status == 405 else "streams"
    )


async def serve_events(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    broadcaster: Broadcaster,
    slots: StreamSlots,
    config: StreamConfig,
    scopes: tuple[str, ...],
) -> None:
    """Serve one server-sent-events stream of ``broadcaster``'s events (GET only).

    Refusals (scope, bad ``Last-Event-ID``, over a cap) are JSON errors sent before
    any event. The stream ends with ``event: end`` whose data says why: ``idle``,
    ``max_duration``, ``overflow`` (the reader fell too far behind) or ``shutdown``.
    """
    if scope["method"] != "GET":
        await _refuse(send, 405)
        return
    if (refusal := authorize(scope, scopes)) is not None:
        await _refuse(send, *refusal)
        return
    valid, after = parse_last_event_id(scope)
    if not valid:
        await _refuse(send, 400, "Invalid Last-Event-ID.")
        return
    with slots.hold(client_ip(scope)) as refused:
        if refused is not None:
            await _refuse(send, refused, "Too many open streams.")
            return
        with broadcaster.subscribe(after) as subscription:
            watcher = asyncio.create_task(_close_on_disconnect(receive, subscription))
            try:
                await _pump(scope, send, subscription, config)
            finally:
                watcher.cancel()


async def _close_on_disconnect(receive: Receive, subscription: Subscription) -> None:
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:  # noqa: S110 - a receive that fails means the client is gone too
        pass
    subscription.close("disconnect")


async def relay(
    subscription: Subscription,
    config: StreamConfig,
    accepts: Callable[[Event], bool] | None = None,
) -> AsyncIterator[Event | None]:
    """The events of a subscription (those ``accepts`` takes), None when a heartbeat is due.

    Ends when the stream does; ``subscription.closed`` then says why: ``idle`` (no
    event for ``idle_timeout``), ``max_duration``, or what closed it (``overflow``,
    ``disconnect``, ``shutdown``...). Every stream (SSE, WebSocket, gRPC) runs on it.
    """
    loop = asyncio.get_running_loop()
    now = loop.time()
    end_at = now + config.max_duration
    idle_at = now + config.idle_timeout
    beat_at = now + config.heartbeat_interval
    while True:
        now = loop.time()
        if now >= end_at or now >= idle_at:
            subscription.close("max_duration" if now >= end_at else "idle")
            return
        event = await subscription.next(min(end_at, idle_at, beat_at) - now)
        if subscription.closed is not None:
            return
        if event is not None:
            if accepts is not None and not accepts(event):
                continue
            now = loop.time()
            idle_at, beat_at = now + config.idle_timeout, now + config.heartbeat_interval
            yield event
        elif loop.time() >= beat_at:
            beat_at = loop.time() + config.heartbeat_interval
            yield None


async def _pump(scope: Scope, send: Send, subscription: Subscription, config: StreamConfig) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": EVENT_STREAM_HEADERS})
    release_timeout(scope)  # the response has started: the stream's own limits apply now
    async for event in relay(subscription, config):
        chunk = HEARTBEAT if event is None else event.encode()
        if not await _send_within(send, chunk, config.backpressure_timeout, more=True):
            return  # the reader does not drain: drop it (nothing more can reach it)
    reason = subscription.closed
    if reason == "disconnect":
        return
    final = f"event: end\ndata: {json.dumps({'reason': reason})}\n\n".encode()
    await _send_within(send, final, config.backpressure_timeout, more=False)


async def _send_within(send: Send, body: bytes, seconds: float, *, more: bool) -> bool:
    """Send a body chunk; False if the reader did not take it within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            await send({"type": "http.response.body", "body": body, "more_body": more})
    except (TimeoutError, OSError):  # OSError: some servers say so of a closed connection
        return False
    return True
