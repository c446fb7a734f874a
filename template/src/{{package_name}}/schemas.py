"""Input and output models of the example API, shared by every framework adapter.

Every field is bounded (length, range, pattern) and unknown fields are refused,
so malformed input is rejected with a 422 before any handler code runs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "UPSTREAM_KEY_PATTERN",
    "ErrorBody",
    "HealthStatus",
    "Item",
    "ItemId",
    "ItemIn",
    "ItemPage",
    "ItemPageQuery",
    "Problem",
    "UpstreamKey",
    "UpstreamValue",
]

# StringConstraints rather than Field(...): every framework's OpenAPI generator
# (Litestar's included) carries them into the schema, so docs and fuzzing agree.
ItemId = Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{32}$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\w ,.'-]+$")]
# Items per page of GET /api/v1/items: a larger ?limit= is refused (422), never served.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Safe as a URL path segment as it is: it is sent to the upstream.
UPSTREAM_KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
UpstreamKey = Annotated[str, StringConstraints(pattern=UPSTREAM_KEY_PATTERN)]


class ItemIn(BaseModel):
    """What a client may send to create an item."""

    # strict: no silent coercion (false is not 0, "3" is not 3); found by the fuzz test.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    name: Name
    quantity: int = Field(ge=0, le=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=20)

    @field_validator("quantity", mode="before")
    @classmethod
    def _integral_float_is_an_integer(cls, value: object) -> object:
        """JSON Schema counts 3.0 as an integer; strict pydantic would not."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


class Item(ItemIn):
    """An item as stored and returned."""

    id: ItemId


class ItemPage(BaseModel):
    """A page of items, oldest first; ``next_after`` is the next page's ``?after=``."""

    items: list[Item]
    next_after: ItemId | None = None  # null on the last page


class ItemPageQuery(BaseModel):
    """The query of GET /api/v1/items (the adapters that read a query into a model use it)."""

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    after: ItemId | None = None


class UpstreamValue(BaseModel):
    """A value fetched from the upstream service (validated, never relayed as it came)."""

    key: UpstreamKey
    value: str = Field(max_length=1000)


class HealthStatus(BaseModel):
    """Body of every health endpoint."""

    status: str = "ok"


class Problem(BaseModel):
    """One reason a request was refused (422): where, why, and a stable type."""

    loc: list[str]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The one error shape of every status, from every layer and framework.

    ERROR_FORMAT chooses the members (security/problem.py): RFC 9457's (``type``
    to ``instance``, plus ``code`` and ``errors``), the legacy ones (``error``,
    ``detail``, ``request_id``), or both (the default).
    """

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | list[Problem]
    instance: str | None = None
    code: str | None = None
    errors: list[Problem] | None = None
    error: str | None = None
    request_id: str | None = None
