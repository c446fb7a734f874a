"""A bounded in-memory item store for the example API.

Bounded on purpose: an unbounded dict keyed by client input is a memory-exhaustion
bug. Replace it with your database; keep the bound in mind.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from .schemas import Item, ItemIn

__all__ = ["ItemStore"]


class ItemStore:
    """Keeps the ``capacity`` most recently created items; older ones are evicted."""

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._items: OrderedDict[str, Item] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, data: ItemIn) -> Item:
        item = Item(id=uuid.uuid4().hex, **data.model_dump())
        self._items[item.id] = item
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return item

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)
