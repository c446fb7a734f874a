"""The database's tables, as SQLAlchemy models: what the migrations (migrations/) create.

A test compares the two (``alembic check``): change a model, add a migration
(``uv run alembic revision --autogenerate -m "..."``), and review it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "ItemRow"]

# Constraint names spelled out, so that migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ItemRow(Base):
    """An item. ``seq`` orders the pages (keyset paging); ``id`` is what clients see."""

    __tablename__ = "items"

    # SQLite's row id is a 64-bit INTEGER PRIMARY KEY; PostgreSQL's is a BIGINT identity.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer())
    tags: Mapped[list[str]] = mapped_column(JSON())
    # UTC, without a zone (SQLite keeps none): what the retention purge compares.
    created_at: Mapped[datetime] = mapped_column(DateTime(), index=True)
