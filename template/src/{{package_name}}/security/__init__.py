"""Framework-agnostic security core: pure ASGI layers, composed in :mod:`.stack`."""

from ._asgi import current_request_id, error_payload
from .stack import apply_security, security_layers

__all__ = ["apply_security", "current_request_id", "error_payload", "security_layers"]
