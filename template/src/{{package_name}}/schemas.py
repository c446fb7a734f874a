"""Input and output models of the example API, shared by every framework adapter.

Every field is bounded (length, range, pattern) and unknown fields are refused,
so malformed input is rejected with a 422 before any handler code runs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HealthStatus", "Item", "ItemId", "ItemIn"]

ItemId = Annotated[str, Field(pattern=r"^[a-f0-9]{32}$", description="32 hex characters")]
Tag = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")]


class ItemIn(BaseModel):
    """What a client may send to create an item."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w ,.'-]+$")
    quantity: int = Field(ge=0, le=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class Item(ItemIn):
    """An item as stored and returned."""

    id: ItemId


class HealthStatus(BaseModel):
    """Body of every health endpoint."""

    status: str = "ok"
