"""Alembic migrations of the item store (``just migrate``; config in pyproject.toml)."""
