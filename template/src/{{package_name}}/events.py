"""Item changes as event streams: one broadcaster per app, shared by its routes.

An adapter creates one :class:`ItemEvents`, calls :meth:`ItemEvents.created` from
its create route and routes ``ITEM_EVENTS_PATH`` (server-sent events) and
``ITEM_WS_PATH`` (WebSocket) to the :class:`ItemEvents` itself, an ASGI app; the
core (security/streams.py, security/ws_stream.py) serves and bounds every stream.
"""

from __future__ import annotations

from .api import ITEM_EVENTS_PATH, ITEM_WS_PATH, READ_SCOPE
from .schemas import Item
from .security._asgi import Receive, Scope, Send, send_json_error
from .security.streams import Broadcaster, StreamConfig, StreamSlots, serve_events
from .security.ws_stream import WebSocketLimits, serve_websocket
from .settings import Settings

__all__ = ["ItemEvents"]


class ItemEvents:
    """The item events of one app (per process: a second worker has its own)."""

    def __init__(self, settings: Settings) -> None:
        self.broadcaster = Broadcaster(
            queue_maxsize=settings.sse_queue_maxsize, replay_size=settings.stream_replay_size
        )
        self.slots = StreamSlots(
            per_client=settings.stream_max_per_client, total=settings.stream_max_total
        )
        self.config = StreamConfig(
            idle_timeout=settings.stream_idle_timeout,
            max_duration=settings.stream_max_duration,
            heartbeat_interval=settings.stream_heartbeat_interval,
            backpressure_timeout=settings.sse_backpressure_fail_timeout_s,
        )
        self.limits = WebSocketLimits(
            max_message_size=settings.max_body_size,
            messages_per_minute=settings.ws_max_messages_per_minute,
        )

    def created(self, item: Item) -> None:
        """Tell every subscriber about a new item (labelled with its tags)."""
        self.broadcaster.publish("item.created", item.model_dump(mode="json"), item.tags)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app of both stream routes (each checks the route's scope itself too)."""
        kind, path = scope["type"], scope["path"]
        if kind == "http" and path == ITEM_EVENTS_PATH:
            await serve_events(
                scope,
                receive,
                send,
                broadcaster=self.broadcaster,
                slots=self.slots,
                config=self.config,
                scopes=(READ_SCOPE,),
            )
        elif kind == "websocket" and path == ITEM_WS_PATH:
            await serve_websocket(
                scope,
                receive,
                send,
                broadcaster=self.broadcaster,
                slots=self.slots,
                config=self.config,
                limits=self.limits,
                scopes=(READ_SCOPE,),
            )
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await send_json_error(send, 404)
