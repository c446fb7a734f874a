"""The same event streams over a WebSocket, with the same bounds (:mod:`.streams`).

The handshake has passed the core by then: trusted host, the ``Origin`` check
(cross-site WebSocket hijacking), rate limiting and authentication from headers
only (a credential in the query string is refused). Here: the route's scopes,
the stream caps, and the connection's own limits. Close codes:

- ``1000`` the stream ended normally (reason ``idle`` or ``max_duration``);
- ``1001`` the server is shutting down;
- ``1007`` a client message that is not a valid filter;
- ``1008`` the route's scope is missing (before the handshake completes, so the
  client sees HTTP 403), too many client messages, or the reader fell
  ``SSE_QUEUE_MAXSIZE`` events behind (``overflow``);
- ``1009`` a client message larger than ``MAX_BODY_SIZE``;
- ``1013`` over the cap on open streams: try again later.

A client message sets a filter: ``{"tags": ["a", "b"]}`` streams only the events
labelled with one of them; ``{"tags": []}`` streams all again.
"""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import suppress
from dataclasses import dataclass

from ._asgi import Receive, Scope, Send
from .client import client_ip
from .principal import authorize
from .stream_log import StreamRecord
from .streams import Broadcaster, Event, StreamConfig, StreamSlots, Subscription, relay

__all__ = ["WebSocketLimits", "serve_websocket"]

_LABEL = re.compile(r"^[a-z0-9-]{1,32}$")
_MAX_LABELS = 20
# Why a subscription ended -> the close code and reason the client gets.
_CLOSES = {
    "idle": (1000, "idle"),
    "max_duration": (1000, "max_duration"),
    "shutdown": (1001, "shutdown"),
    "invalid": (1007, "invalid filter"),
    "rate": (1008, "too many messages"),
    "overflow": (1008, "overflow"),
    "too_big": (1009, "message too big"),
}


@dataclass(frozen=True, slots=True)
class WebSocketLimits:
    """A connection's own limits: message size and messages per minute from the client."""

    max_message_size: int
    messages_per_minute: int


class _Filter:
    """The labels a client asked for (empty: everything)."""

    __slots__ = ("labels",)

    def __init__(self) -> None:
        self.labels: frozenset[str] = frozenset()

    def update(self, text: str) -> bool:
        """Apply a filter message; False if it is not one."""
        try:
            message = json.loads(text)
        except ValueError:
            return False
        if not isinstance(message, dict) or set(message) != {"tags"}:
            return False
        tags = message["tags"]
        if not isinstance(tags, list) or len(tags) > _MAX_LABELS:
            return False
        if not all(isinstance(tag, str) and _LABEL.match(tag) for tag in tags):
            return False
        self.labels = frozenset(tags)
        return True

    def accepts(self, event: Event) -> bool:
        return not self.labels or not self.labels.isdisjoint(event.labels)


async def serve_websocket(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    broadcaster: Broadcaster,
    slots: StreamSlots,
    config: StreamConfig,
    limits: WebSocketLimits,
    scopes: tuple[str, ...],
) -> None:
    """Serve one WebSocket stream of ``broadcaster``'s events (see the module's close codes)."""
    if (await receive())["type"] != "websocket.connect":
        return
    if authorize(scope, scopes) is not None:
        await send({"type": "websocket.close", "code": 1008})
        return
    with slots.hold(client_ip(scope)) as refused:
        await send({"type": "websocket.accept"})
        if refused is not None:
            await _close(send, 1013, "too many open streams")
            return
        record = StreamRecord(scope, "websocket")
        with broadcaster.subscribe() as subscription:
            wanted = _Filter()
            reader = asyncio.create_task(_read(receive, subscription, wanted, limits))
            ended: tuple[str, int | None] = ("cancelled", None)  # if the server cancels it
            try:
                ended = await _pump(send, subscription, wanted, config, record)
            finally:
                reader.cancel()
                record.finish(ended[0], close_code=ended[1])


async def _read(
    receive: Receive, subscription: Subscription, wanted: _Filter, limits: WebSocketLimits
) -> None:
    """The client's messages: filters, bounded in size and rate; the disconnect."""
    loop = asyncio.get_running_loop()
    window_end = loop.time() + 60
    received = 0
    reason = "disconnect"
    with suppress(Exception):  # a receive that fails means the client is gone too
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                break
            if loop.time() >= window_end:
                window_end, received = loop.time() + 60, 0
            received += 1
            if received > limits.messages_per_minute:
                reason = "rate"
                break
            text = message.get("text")
            data = text.encode() if text is not None else message.get("bytes") or b""
            if len(data) > limits.max_message_size:
                reason = "too_big"
                break
            if text is None or not wanted.update(text):
                reason = "invalid"
                break
    subscription.close(reason)


async def _pump(
    send: Send,
    subscription: Subscription,
    wanted: _Filter,
    config: StreamConfig,
    record: StreamRecord,
) -> tuple[str, int | None]:
    """Send the stream; why it ended and the close code sent (None: none could be)."""
    async for event in relay(subscription, config, wanted.accepts):
        if event is None:
            continue  # no heartbeat: the server's WebSocket pings keep the connection alive
        text = event.as_text()
        if not await _send_within(send, text, config.backpressure_timeout):
            return "backpressure", None  # the reader does not drain: drop it
        record.sent(len(text.encode()))
    reason = subscription.closed or "gone"
    if reason not in _CLOSES:
        return reason, None
    code, text = _CLOSES[reason]
    with suppress(TimeoutError, OSError):
        async with asyncio.timeout(config.backpressure_timeout):
            await _close(send, code, text)
    return reason, code


async def _send_within(send: Send, text: str, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await send({"type": "websocket.send", "text": text})
    except (TimeoutError, OSError):
        return False
    return True


async def _close(send: Send, code: int, reason: str) -> None:
    await send({"type": "websocket.close", "code": code, "reason": reason})
