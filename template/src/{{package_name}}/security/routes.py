"""Which API route a request is for, by its method and path: the key of the core's per-route rules.

A route key is ``"METHOD /path"``, the path written as the adapters declare it,
with ``{name}`` for a parameter (one path segment), e.g. ``"GET /api/v1/items/{item_id}"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["RouteTable"]

_PARAMETER = re.compile(r"\{[^{}/]+\}")


class RouteTable:
    """Route keys; :meth:`match` finds a request's (HEAD counts as GET).

    Exact paths are one set lookup; parameterised ones one regex per method.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.exact: set[tuple[str, str]] = set()
        patterns: dict[str, list[tuple[str, str]]] = {}
        for key in keys:
            method, _, path = key.partition(" ")
            if not method.isupper() or not path.startswith("/"):
                raise ValueError(f"a route key is 'METHOD /path', not {key!r}")
            if _PARAMETER.search(path) is None:
                self.exact.add((method, path))
            else:
                pattern = "[^/]+".join(re.escape(piece) for piece in _PARAMETER.split(path))
                patterns.setdefault(method, []).append((pattern, key))
        # One alternation per method; the group that matched says which route it is.
        self.templates = {
            method: (
                re.compile("(?:" + "|".join(f"({pattern})" for pattern, _ in entries) + r")\Z"),
                [key for _, key in entries],
            )
            for method, entries in patterns.items()
        }

    def match(self, method: str, path: str) -> str | None:
        """The key of the route serving ``method`` on ``path``, or None."""
        if method == "HEAD":
            method = "GET"  # every framework answers HEAD with its GET route
        if (method, path) in self.exact:
            return f"{method} {path}"
        template = self.templates.get(method)
        if template is None:
            return None
        regex, keys = template
        matched = regex.match(path)
        return None if matched is None else keys[(matched.lastindex or 1) - 1]
