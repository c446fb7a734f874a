"""Who made a request, once a credential proved it, and what they may do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._asgi import Scope

__all__ = ["Principal", "authorize", "current_principal", "missing_scopes"]

_STATE_KEY = "principal"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a name safe to log (never the secret) and its scopes."""

    id: str
    kind: str  # "api_key", "bearer" or "jwt"
    scopes: frozenset[str]

    def remember(self, scope: Scope) -> None:
        scope.setdefault("state", {})[_STATE_KEY] = self


def current_principal(scope: Scope) -> Principal | None:
    """The principal the auth layer attached to this request, if any."""
    principal = scope.get("state", {}).get(_STATE_KEY)
    return principal if isinstance(principal, Principal) else None


def missing_scopes(principal: Principal | None, required: Iterable[str]) -> frozenset[str]:
    """The scopes a route needs that the caller lacks (all of them if anonymous).

    The one authorization check every framework adapter calls.
    """
    needed = frozenset(required)
    return needed if principal is None else needed - principal.scopes


def authorize(scope: Scope, required: Iterable[str]) -> tuple[int, str] | None:
    """None if the request's principal holds every required scope, else (status, detail).

    401 for an anonymous caller (only possible with REQUIRE_AUTH=false), 403 for
    an authenticated one lacking scopes.
    """
    principal = current_principal(scope)
    missing = missing_scopes(principal, required)
    if not missing:
        return None
    if principal is None:
        return 401, "Authentication required."
    return 403, f"Missing scope(s): {' '.join(sorted(missing))}."
