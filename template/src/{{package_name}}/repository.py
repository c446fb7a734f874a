"""The items, read and written through SQLAlchemy: what every adapter (REST, gRPC) calls.

Statements are built with SQLAlchemy's expression language only, so client input
always reaches the database as bound parameters, never as SQL text (a test fails
on SQLAlchemy's raw-text constructs in the package; ruff's S608 on SQL built from strings).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, delete, insert, select

from .database import Database
from .models import ItemRow
from .schemas import Item, ItemIn, ItemPage

__all__ = ["ItemRepository"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC (models.py)


# The columns an item is made of, read with SQLAlchemy Core: a row, not a mapped
# object in a session (about 80 fewer Python calls per read, measured).
_ITEM = select(ItemRow.id, ItemRow.name, ItemRow.quantity, ItemRow.tags)


def _item(row: Row[str, str, int, list[str]]) -> Item:
    return Item(id=row.id, name=row.name, quantity=row.quantity, tags=list(row.tags))


class ItemRepository:
    """Create, read, page through and purge items."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, data: ItemIn) -> Item:
        item_id, tags = uuid.uuid4().hex, list(data.tags)
        row = {"id": item_id, "name": data.name, "quantity": data.quantity, "tags": tags}
        async with self.database.connection() as connection:
            await connection.execute(insert(ItemRow).values(**row, created_at=_now()))
            await connection.commit()
        return Item(id=item_id, name=data.name, quantity=data.quantity, tags=tags)

    async def get(self, item_id: str) -> Item | None:
        async with self.database.connection() as connection:
            row = (await connection.execute(_ITEM.where(ItemRow.id == item_id))).first()
        return None if row is None else _item(row)

    async def page(self, limit: int, after: str | None = None) -> ItemPage:
        """Up to ``limit`` items created after the item ``after`` (keyset paging: no OFFSET scan).

        An unknown ``after`` (purged, say) gives an empty page.
        """
        query = _ITEM.order_by(ItemRow.seq).limit(limit + 1)
        if after is not None:
            cursor = select(ItemRow.seq).where(ItemRow.id == after).scalar_subquery()
            query = query.where(ItemRow.seq > cursor)
        async with self.database.connection() as connection:
            rows = list(await connection.execute(query))
        items = [_item(row) for row in rows[:limit]]
        more = len(rows) > limit
        return ItemPage(items=items, next_after=items[-1].id if more else None)

    async def purge(self, ttl: float) -> int:
        """Delete the items older than ``ttl`` seconds; how many were."""
        cutoff = _now() - timedelta(seconds=ttl)
        async with self.database.connection() as connection:
            result = await connection.execute(delete(ItemRow).where(ItemRow.created_at < cutoff))
            await connection.commit()
        return int(getattr(result, "rowcount", 0) or 0)
