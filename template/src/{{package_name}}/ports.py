"""Start-up check of the ports to listen on: one readable line when one is taken.

A server that cannot bind says so in a traceback (or a 1.7 KB JSON line) that
names neither the port nor how to pick another. ``python -m`` checks first.
"""

from __future__ import annotations

import errno
import socket

__all__ = ["unavailable"]

# Why a port cannot be listened on that choosing another port fixes.
_REASONS = {errno.EADDRINUSE: "address already in use", errno.EACCES: "permission denied"}


def unavailable(host: str, port: int, choose: str) -> str | None:
    """One line saying why ``host:port`` cannot be listened on and how to ``choose`` another.

    Binds and closes a socket the way the servers do (``SO_REUSEADDR``: a port
    the previous run left in TIME_WAIT counts as free). Any other failure (an
    unknown host, an address not on this machine) is the server's to report.
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if (reason := _REASONS.get(error.errno or 0)) is not None:
                    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                    return f"Cannot listen on {shown}: {reason}. Choose another port {choose}."
    return None
