"""Framework-agnostic security core: pure ASGI layers, composed in :mod:`.stack`."""

from ._asgi import current_request_id, error_media_type, error_payload
from .errors import log_unhandled
from .stack import apply_security, security_layers

__all__ = [
    "apply_security",
    "current_request_id",
    "error_media_type",
    "error_payload",
    "log_unhandled",
    "security_layers",
]
