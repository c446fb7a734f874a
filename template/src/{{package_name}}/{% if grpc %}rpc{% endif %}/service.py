"""The example API over gRPC: the REST routes' operations, models, scopes and repository."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from pydantic import TypeAdapter, ValidationError

from ..api import READ_SCOPE, WRITE_SCOPE, validation_problems
from ..database import Database, DatabaseUnavailableError
from ..events import ItemEvents
from ..repository import ItemRepository
from ..schemas import Item, ItemId, ItemIn, Tag
from ..security.streams import relay
from ..settings import Settings
from . import items_pb2
from .interceptor import peer_address

__all__ = [
    "CREATE_ITEM",
    "GET_ITEM",
    "METHOD_SCOPES",
    "READ_ONLY_METHODS",
    "SERVICE",
    "WATCH_ITEMS",
    "handlers",
]

SERVICE = items_pb2.DESCRIPTOR.services_by_name["Items"].full_name  # "items.v1.Items"
CREATE_ITEM = f"/{SERVICE}/CreateItem"
GET_ITEM = f"/{SERVICE}/GetItem"
WATCH_ITEMS = f"/{SERVICE}/WatchItems"
# What a credential must grant, per method: the REST routes' scopes.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    CREATE_ITEM: (WRITE_SCOPE,),
    GET_ITEM: (READ_SCOPE,),
    WATCH_ITEMS: (READ_SCOPE,),
}
# Methods that change nothing (every other call is audited, like REST's unsafe methods).
READ_ONLY_METHODS = frozenset({GET_ITEM, WATCH_ITEMS})
_ITEM_ID: TypeAdapter[str] = TypeAdapter(ItemId)
_TAGS: TypeAdapter[list[str]] = TypeAdapter(list[Tag])
_MAX_TAGS = 20


def _invalid(error: ValidationError) -> str:
    """Where and why, never the rejected input (the same problems REST answers with)."""
    problems = validation_problems(error.errors())
    return "Invalid request: " + "; ".join(
        f"{'.'.join(problem['loc']) or 'request'}: {problem['msg']}" for problem in problems
    )


def _message(item: Item) -> items_pb2.Item:
    return items_pb2.Item(id=item.id, name=item.name, quantity=item.quantity, tags=item.tags)


class ItemsServicer:
    """CreateItem, GetItem and WatchItems, validated by the REST models (schemas.py).

    WatchItems is the event stream of the HTTP routes, with their limits (the
    core's :func:`..security.streams.relay`); its events are the items created
    through this gRPC server (each process has its own broadcaster).
    """

    def __init__(self, items: ItemRepository, events: ItemEvents) -> None:
        self.items = items
        self.events = events

    async def create_item(
        self, request: items_pb2.CreateItemRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> items_pb2.Item:
        try:
            data = ItemIn.model_validate(
                {"name": request.name, "quantity": request.quantity, "tags": list(request.tags)}
            )
        except ValidationError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _invalid(error))
        try:
            item = await self.items.add(data)
        except DatabaseUnavailableError as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, error.detail)
        self.events.created(item)
        return _message(item)

    async def get_item(
        self, request: items_pb2.GetItemRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> items_pb2.Item:
        try:
            item_id = _ITEM_ID.validate_python(request.id)
        except ValidationError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Invalid request: id: not an id.")
        try:
            item = await self.items.get(item_id)
        except DatabaseUnavailableError as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, error.detail)
        if item is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "Item not found.")
        return _message(item)

    async def watch_items(
        self, request: items_pb2.WatchItemsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[items_pb2.ItemEvent]:
        try:
            if len(request.tags) > _MAX_TAGS:
                raise ValueError
            wanted = frozenset(_TAGS.validate_python(list(request.tags)))
        except (ValidationError, ValueError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Invalid request: tags.")
        events = self.events
        with events.slots.hold(peer_address(context.peer())) as refused:
            if refused is not None:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "Too many open streams.")
            with events.broadcaster.subscribe(request.after_id or None) as subscription:
                accepts = (lambda e: not wanted.isdisjoint(e.labels)) if wanted else None
                async for event in relay(subscription, events.config, accepts):
                    if event is None:
                        continue  # a heartbeat: HTTP/2 keeps the connection alive itself
                    item = Item.model_validate(json.loads(event.data))
                    yield items_pb2.ItemEvent(id=event.id, event=event.name, item=_message(item))
                reason = subscription.closed or ""
            # Unsubscribed already: a reader that takes no more holds no queue.
            yield items_pb2.ItemEvent(event="end", reason=reason)


def handlers(
    settings: Settings | None = None,
    items: ItemRepository | None = None,
    events: ItemEvents | None = None,
) -> grpc.GenericRpcHandler:
    """The Items service's method handlers (names from the .proto's descriptor)."""
    settings = settings or Settings()
    servicer = ItemsServicer(
        items or ItemRepository(Database(settings)), events or ItemEvents(settings)
    )
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "CreateItem": grpc.unary_unary_rpc_method_handler(
                servicer.create_item,
                request_deserializer=items_pb2.CreateItemRequest.FromString,
                response_serializer=items_pb2.Item.SerializeToString,
            ),
            "GetItem": grpc.unary_unary_rpc_method_handler(
                servicer.get_item,
                request_deserializer=items_pb2.GetItemRequest.FromString,
                response_serializer=items_pb2.Item.SerializeToString,
            ),
            "WatchItems": grpc.unary_stream_rpc_method_handler(
                servicer.watch_items,
                request_deserializer=items_pb2.WatchItemsRequest.FromString,
                response_serializer=items_pb2.ItemEvent.SerializeToString,
            ),
        },
    )
