"""Authentication: every request outside the exact public paths needs a valid credential.

Fail closed: with ``require_auth`` on and no credentials configured, nothing
protected is reachable. A presented credential that is wrong is always a 401,
even where anonymous access is allowed: a typo must not silently downgrade a
caller to anonymous. Authorization follows at once: the scopes ``route_scopes``
names for the request's route are checked here, before any layer or framework
reads the body, so a caller without them gets its 401 or 403 whatever it sent
(the framework adapters check them again, through :func:`.principal.authorize`).

A WebSocket handshake is authenticated the same way, from its headers only: a
credential in the query string (where browsers' WebSocket clients tempt people
to put one, and where proxies log it) is refused. A refused handshake is closed
before it completes (code 1008): the client sees HTTP 403.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl

from ._asgi import ASGIApp, Receive, Scope, Send, send_json_error
from .credentials import Verdict
from .observe import observer
from .principal import Principal, authorize
from .routes import RouteTable

__all__ = ["AuthMiddleware", "Refusal", "Verifier", "authenticate"]

CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key"})
# Query parameters that carry a credential by their name: refused on a WebSocket handshake.
CREDENTIAL_PARAMETERS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "auth", "authorization", "jwt", "bearer"}
)


class Verifier(Protocol):
    """Judges one kind of credential: a Principal, INVALID, or None if not presented."""

    kind: str
    challenge: str

    async def verify(self, scope: Scope) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused authentication: ``invalid`` if a credential was wrong."""

    detail: str
    invalid: bool


INVALID_CREDENTIALS = Refusal("The credentials are not valid.", invalid=True)
AUTHENTICATION_REQUIRED = Refusal("Authentication required.", invalid=False)


async def authenticate(
    verifiers: Sequence[Verifier], scope: Scope, *, require_auth: bool
) -> Principal | Refusal | None:
    """The one authentication decision, for every protocol face (HTTP and gRPC).

    ``scope["headers"]`` holds the credentials (gRPC metadata is adapted to it).
    A Principal, a Refusal, or None: anonymous, allowed only without ``require_auth``.
    """
    principal: Principal | None = None
    for verifier in verifiers:
        verdict = await verifier.verify(scope)
        if isinstance(verdict, Principal):
            principal = principal or verdict
        elif verdict is not None:  # presented, and wrong: never fall back to anonymous
            return INVALID_CREDENTIALS
    if principal is not None:
        return principal
    if any(name in CREDENTIAL_HEADERS for name, _ in scope["headers"]):
        # A credential no verifier took (e.g. a JWT where none are accepted).
        return INVALID_CREDENTIALS
    return AUTHENTICATION_REQUIRED if require_auth else None


def is_preflight(scope: Scope) -> bool:
    """A CORS preflight carries no credentials by design; the CORS layer answers it."""
    if scope["method"] != "OPTIONS":
        return False
    names = {name for name, _ in scope["headers"]}
    return b"origin" in names and b"access-control-request-method" in names


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifiers: Sequence[Verifier],
        require_auth: bool,
        public_paths: Iterable[str],
        route_scopes: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.app = app
        self.verifiers = tuple(verifiers)
        self.require_auth = require_auth
        self.public = frozenset(public_paths)
        self.route_scopes = {route: tuple(scopes) for route, scopes in (route_scopes or {}).items()}
        self.routes = RouteTable(self.route_scopes)
        challenges = dict.fromkeys(v.challenge for v in self.verifiers) or {
            'Bearer realm="api"': None
        }
        self.challenge = ", ".join(challenges).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] not in self.public:
            await self._handshake(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] in self.public or is_preflight(scope):
            await self.app(scope, receive, send)
            return
        verdict = await authenticate(self.verifiers, scope, require_auth=self.require_auth)
        if isinstance(verdict, Refusal):
            await self._refuse(send, verdict.detail, invalid=verdict.invalid)
            return
        if verdict is not None:
            verdict.remember(scope)
        route = self.routes.match(scope["method"], scope["path"])
        if (
            route is not None
            and (refusal := authorize(scope, self.route_scopes[route])) is not None
        ):
            status, detail = refusal
            if status == 401:
                await self._refuse(send, detail, invalid=False)
            else:
                await send_json_error(send, status, detail, control="auth")
            return
        await self.app(scope, receive, send)

    async def _handshake(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake: header credentials and the route's scopes, or close 1008."""
        query = scope.get("query_string", b"").decode("latin-1")
        names = {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}
        verdict = (
            INVALID_CREDENTIALS
            if names & CREDENTIAL_PARAMETERS
            else await authenticate(self.verifiers, scope, require_auth=self.require_auth)
        )
        if isinstance(verdict, Principal):
            verdict.remember(scope)
        route = self.routes.match("GET", scope["path"])
        if isinstance(verdict, Refusal) or (
            route is not None and authorize(scope, self.route_scopes[route]) is not None
        ):
            observer().refused("auth")
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send, detail: str, *, invalid: bool) -> None:
        challenge = self.challenge + (b', error="invalid_token"' if invalid else b"")
        await send_json_error(send, 401, detail, [(b"www-authenticate", challenge)], control="auth")
