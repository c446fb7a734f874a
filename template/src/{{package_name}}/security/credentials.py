"""Shared-secret credentials: API keys (``X-API-Key``) and static bearer tokens.

Secrets are kept only as SHA-256 digests and compared in constant time against
every configured digest (no early exit, so timing says nothing about which one
matched). Odd input (empty, huge, non-ASCII) is simply not a match: it cannot raise.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from ._asgi import Scope
from .principal import Principal

__all__ = [
    "INVALID",
    "ApiKeyVerifier",
    "BearerTokenVerifier",
    "Grant",
    "Verdict",
    "bearer_token",
    "digest",
    "looks_like_jwt",
]

MAX_CREDENTIAL_BYTES = 4096  # longer is not one of ours; refuse without hashing megabytes


@dataclass(frozen=True, slots=True)
class Grant:
    """A configured credential: its SHA-256 digest and the scopes it grants."""

    sha256: bytes
    scopes: frozenset[str]


class _Invalid:
    """A credential was presented and it is wrong (as opposed to absent: None)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()
Verdict = Principal | _Invalid | None


def digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


def header(scope: Scope, name: bytes) -> bytes | None:
    """The single value of a request header; None if absent (several count as absent-and-odd)."""
    values = [value for key, value in scope["headers"] if key == name]
    return values[0] if len(values) == 1 else (b"" if values else None)


def match(secret: bytes, grants: Mapping[str, Grant]) -> str | None:
    """Name of the grant whose digest equals the secret's, checked against all of them."""
    if not secret or len(secret) > MAX_CREDENTIAL_BYTES:
        return None
    presented = digest(secret)
    found = None
    for name, grant in grants.items():
        if hmac.compare_digest(presented, grant.sha256):
            found = name
    return found


class ApiKeyVerifier:
    """``X-API-Key: <key>``."""

    kind = "api_key"
    challenge = 'APIKey realm="api", header="X-API-Key"'

    def __init__(self, grants: Mapping[str, Grant]) -> None:
        self.grants = dict(grants)

    async def verify(self, scope: Scope) -> Verdict:
        presented = header(scope, b"x-api-key")
        if presented is None:
            return None
        name = match(presented.strip(), self.grants)
        if name is None:
            return INVALID
        return Principal(id=name, kind=self.kind, scopes=self.grants[name].scopes)


def bearer_token(scope: Scope) -> bytes | None:
    """The token of ``Authorization: Bearer <token>``; b"" for any other Authorization."""
    value = header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(b" ")
    return token.strip() if scheme.lower() == b"bearer" else b""


def looks_like_jwt(token: bytes) -> bool:
    """Three dot-separated parts: a JWT, for the JWT verifier (static tokens never have dots)."""
    return token.count(b".") == 2


class BearerTokenVerifier:
    """``Authorization: Bearer <token>`` with a configured static token.

    JWT-shaped tokens are left to the JWT verifier (None: not ours to judge).
    """

    kind = "bearer"
    challenge = 'Bearer realm="api"'

    def __init__(self, grants: Mapping[str, Grant]) -> None:
        self.grants = dict(grants)

    async def verify(self, scope: Scope) -> Verdict:
        token = bearer_token(scope)
        if token is None or looks_like_jwt(token):
            return None
        name = match(token, self.grants)
        if name is None:
            return INVALID
        return Principal(id=name, kind=self.kind, scopes=self.grants[name].scopes)
