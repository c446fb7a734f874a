"""The example API over gRPC: the REST routes' operations, models, scopes and store."""

from __future__ import annotations

from typing import Any

import grpc
from pydantic import TypeAdapter, ValidationError

from ..api import READ_SCOPE, WRITE_SCOPE, validation_problems
from ..schemas import Item, ItemId, ItemIn
from ..store import ItemStore
from . import items_pb2

__all__ = ["CREATE_ITEM", "GET_ITEM", "METHOD_SCOPES", "READ_ONLY_METHODS", "SERVICE", "handlers"]

SERVICE = items_pb2.DESCRIPTOR.services_by_name["Items"].full_name  # "items.v1.Items"
CREATE_ITEM = f"/{SERVICE}/CreateItem"
GET_ITEM = f"/{SERVICE}/GetItem"
# What a credential must grant, per method: the REST routes' scopes.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {CREATE_ITEM: (WRITE_SCOPE,), GET_ITEM: (READ_SCOPE,)}
# Methods that change nothing (every other call is audited, like REST's unsafe methods).
READ_ONLY_METHODS = frozenset({GET_ITEM})
_ITEM_ID: TypeAdapter[str] = TypeAdapter(ItemId)


def _invalid(error: ValidationError) -> str:
    """Where and why, never the rejected input (the same problems REST answers with)."""
    problems = validation_problems(error.errors())
    return "Invalid request: " + "; ".join(
        f"{'.'.join(problem['loc']) or 'request'}: {problem['msg']}" for problem in problems
    )


def _message(item: Item) -> items_pb2.Item:
    return items_pb2.Item(id=item.id, name=item.name, quantity=item.quantity, tags=item.tags)


class ItemsServicer:
    """CreateItem and GetItem, validated by the REST models (schemas.py)."""

    def __init__(self, store: ItemStore) -> None:
        self.store = store

    async def create_item(
        self, request: items_pb2.CreateItemRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> items_pb2.Item:
        try:
            data = ItemIn.model_validate(
                {"name": request.name, "quantity": request.quantity, "tags": list(request.tags)}
            )
        except ValidationError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _invalid(error))
        return _message(self.store.add(data))

    async def get_item(
        self, request: items_pb2.GetItemRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> items_pb2.Item:
        try:
            item_id = _ITEM_ID.validate_python(request.id)
        except ValidationError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Invalid request: id: not an id.")
        if (item := self.store.get(item_id)) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "Item not found.")
        return _message(item)


def handlers(store: ItemStore | None = None) -> grpc.GenericRpcHandler:
    """The Items service's method handlers (names from the .proto's descriptor)."""
    servicer = ItemsServicer(store or ItemStore())
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
        },
    )
