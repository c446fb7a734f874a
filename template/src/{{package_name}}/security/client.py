"""Client identity, derived in one place: the peer, or a forwarded address from a trusted proxy.

``X-Forwarded-For`` (or ``Forwarded``) is honoured only when the TCP peer is in
``TRUSTED_PROXIES``; the client is then the right-most hop that is not itself a
trusted proxy (everything left of it was written by the client and can be forged).
Rate limiting, audit and access logs all read :func:`client_ip`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Literal

from ._asgi import ASGIApp, Receive, Scope, Send

__all__ = ["ClientIdentityMiddleware", "client_ip", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_FORWARDED_FOR = re.compile(r'for="?\[?([^\]";,]+)', re.IGNORECASE)
UNKNOWN = "unknown"


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) to networks; raises ValueError naming a bad entry's position."""
    networks = []
    for number, value in enumerate(values, 1):
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(  # not repeated: settings errors never echo a value
                f"entry {number} is not an IP address or CIDR network: use e.g. 10.0.0.0/8 "
                "or 192.0.2.10"
            ) from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(scope: Scope) -> str:
    """The request's client address as this service trusts it."""
    client = scope.get("client")
    return str(client[0]) if client else UNKNOWN


class ClientIdentityMiddleware:
    """Rewrites ``scope["client"]`` once, so every later reader agrees on who the client is."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: Sequence[Network],
        header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for",
    ) -> None:
        self.app = app
        self.trusted = tuple(trusted_proxies)
        self.header = header.encode()

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)

    def _hops(self, scope: Scope) -> list[str]:
        values = [v.decode("latin-1") for k, v in scope["headers"] if k == self.header]
        joined = ",".join(values)
        if self.header == b"forwarded":
            return _FORWARDED_FOR.findall(joined)
        return [hop for hop in joined.split(",") if hop.strip()]

    def resolve(self, scope: Scope) -> str | None:
        """The client address, or None when the peer itself is the client."""
        client = scope.get("client")
        peer = _address(str(client[0])) if client else None
        if peer is None or not self.trusted or not self._is_trusted(peer):
            return None
        nearest = peer
        for hop in reversed(self._hops(scope)):
            address = _address(hop)
            if address is None:
                break  # a garbled hop: trust nothing left of it
            if not self._is_trusted(address):
                return str(address)
            nearest = address
        return str(nearest)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            forwarded = self.resolve(scope)
            if forwarded is not None:
                scope["client"] = (forwarded, 0)
        await self.app(scope, receive, send)
