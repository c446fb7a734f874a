"""Your settings: the service's :class:`~..settings.Settings` inherits this class.

A field added here is read from the environment variable of the same name (any
case) and validated at start-up like every other setting; a bad value stops the
service with one line naming the variable. Name each one in ``.env.example`` too.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings

__all__ = ["CustomSettings"]


class CustomSettings(BaseSettings):
    """Fields of your own, e.g. ``greeting: str = Field(default="hello", max_length=64)``."""
