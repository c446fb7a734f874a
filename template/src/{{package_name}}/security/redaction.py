"""Keep secrets out of everything the service writes down (logs, error reports).

Two passes, because secrets arrive two ways:

* by *name* — a field, header or dict key called ``authorization``, ``cookie``,
  ``password``, ``api_key``…: its value is replaced, whatever it looks like;
* by *shape* in free text — ``Bearer …``, a JWT, ``?token=…``, ``password=…``,
  ``user:pass@`` in a URL, or one of the service's own configured secrets —
  found by one regular expression over the finished text, so it also covers
  exception messages, reprs and library log lines nobody structured.

Hand-written: no maintained library scrubs structlog events, stdlib log lines
and Sentry events with one rule set. The rules live here once; ``logs`` and the
error reporter both call them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, SecretStr

__all__ = ["REDACTED", "Redactor", "escape_control_characters", "secret_values"]

REDACTED = "[REDACTED]"
# A name is sensitive when its normalised form contains one of these.
SENSITIVE_NAME_PARTS = (
    "authorization",
    "cookie",
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "session",
    "signature",
    "dsn",
)
# ... or is one of these (``credential`` alone names a kind in the audit log).
SENSITIVE_NAMES = frozenset({"credentials", "pwd", "sig"})
MIN_CONFIGURED_SECRET = 8  # shorter configured values would redact ordinary words

# Free-text shapes. Group "keep" survives, the rest of the match becomes REDACTED.
_NAMES = "|".join(
    (
        r"password|passwd|pwd|secret|client_secret",
        r"token|access_token|refresh_token|id_token",
        r"api[_-]?key|apikey|x-api-key|session(?:id)?|signature|sig",
    )
)
_SHAPES = (
    # Authorization header values: keep the scheme, drop the credential.
    r"(?P<scheme>\b(?:[Bb]earer|[Bb]asic|[Dd]igest|[Tt]oken)\s+)[A-Za-z0-9._~+/=-]{6,}",
    # A JWS/JWT anywhere (its header always starts with base64url '{"').
    r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
    # "name": "value", 'name': 'value' (reprs, JSON in text): up to the closing quote.
    rf"(?P<quoted>\b(?i:{_NAMES})\\?['\"]?\s*[:=]\s*\\?['\"])[^'\"\\\r\n]+",
    # name=value, name: value (query strings, forms, key=value logs): up to a separator.
    rf"(?P<name>\b(?i:{_NAMES})\\?['\"]?\s*[:=]\s*)[^\s'\"&;,}}\\]+",
    # Cookie / Set-Cookie lines: everything up to the end of the quoted value or line.
    r"(?P<cookie>\b(?i:set-cookie|cookie)\\?['\"]?\s*[:=]\s*\\?['\"]?)[^'\"\r\n\\]+",
    # Credentials in a URL: scheme://user:password@host.
    r"(?P<userinfo>://)[^/@\s:'\"\\]*:[^/@\s'\"\\]+(?=@)",
)
_KEEP_GROUPS = ("scheme", "quoted", "name", "cookie", "userinfo")
# Control characters (C0, DEL, C1, line/paragraph separators) and escapes for them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_control_characters(text: str) -> str:
    r"""``\n``, ``\x1b``… written as escapes, so a value cannot start a forged log line."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def is_sensitive_name(name: str) -> bool:
    """Whether a key or header name announces a secret (``X-API-Key``, ``db_password``…)."""
    known = _SENSITIVITY.get(name)
    if known is None:
        normalised = name.lower().replace("-", "_")
        known = normalised in SENSITIVE_NAMES or any(
            part in normalised for part in SENSITIVE_NAME_PARTS
        )
        if len(_SENSITIVITY) < _SENSITIVITY_CACHE_SIZE:  # names are few; bound it anyway
            _SENSITIVITY[name] = known
    return known


_SENSITIVITY: dict[str, bool] = {}
_SENSITIVITY_CACHE_SIZE = 4096
_CONTAINERS = (dict, list, tuple)
# Every shape above contains one of these (lower-cased): lines without any skip the
# full expression, which is what most lines, the access log's among them, do.
_TRIGGER_WORDS = "bearer|basic|digest|token|eyj|pass|pwd|secret|key|session|sig|cookie|://"
_TRIGGERS = re.compile(_TRIGGER_WORDS.encode())
# A value is known clean when it has no trigger and nothing JSON would leave raw
# that splits a line (U+2028, U+2029, C1 controls: never in ASCII text). Two
# expressions, not one: an alternation of plain words lets ``re`` skip ahead by
# their first letters, which a character class among them prevents (2x slower).
_TEXT_TRIGGERS = re.compile(_TRIGGER_WORDS)
_RAW_LINE_BREAKS = re.compile("[\u2028\u2029\x80-\x9f]")
_SCALARS = frozenset({int, float, bool, type(None), datetime})  # cannot hold a secret
# Lower-case hex (request ids, trace ids, digests): no trigger word is spelled in
# these letters and no line break is among them, so only a configured secret that
# is itself hex could be in one. Such strings are new on almost every line.
_HEX = re.compile("[0-9a-f]+")
_CLEAN_CACHE_SIZE = 4096  # distinct clean strings remembered (cleared when full)
_CLEAN_MAX_LENGTH = 256  # longer strings are not remembered


def _replacement(match: re.Match[str]) -> str:
    for group in _KEEP_GROUPS:
        kept = match.group(group)
        if kept is not None:
            return kept + REDACTED
    return REDACTED


def _replacement_bytes(match: re.Match[bytes]) -> bytes:
    for group in _KEEP_GROUPS:
        kept = match.group(group)
        if kept is not None:
            return kept + REDACTED.encode()
    return REDACTED.encode()


class Redactor:
    """The redaction rules plus this service's own secret values (from its settings)."""

    def __init__(self, configured_secrets: Iterable[str] = ()) -> None:
        literals = sorted(
            {value for value in configured_secrets if len(value) >= MIN_CONFIGURED_SECRET},
            key=len,
            reverse=True,  # the longest first, so a secret containing another goes whole
        )
        text_patterns = [*_SHAPES, *(re.escape(value) for value in literals)]
        self._text = re.compile("|".join(text_patterns))
        # The same rules for rendered JSON bytes, where a secret appears JSON-escaped.
        byte_patterns = [pattern.encode() for pattern in _SHAPES]
        byte_patterns += [re.escape(_json_escaped(value)) for value in literals]
        self._bytes = re.compile(b"|".join(byte_patterns))
        self._literals = tuple(_json_escaped(value) for value in literals)
        # One expression for all of them: a request id is checked per line, so this is hot.
        self._text_literal = re.compile("|".join(map(re.escape, literals))) if literals else None
        hex_literals = [value for value in literals if _HEX.fullmatch(value)]
        self._hex_literal = re.compile("|".join(hex_literals)) if hex_literals else None
        self._clean: dict[str, None] = {}  # strings known clean
        self._names: dict[str, None] = {}  # names known clean and not sensitive

    def scrub_text(self, text: str) -> str:
        """Secrets by shape (and configured values) replaced in free text."""
        return self._text.sub(_replacement, text)

    def known_clean(self, event: Mapping[str, Any]) -> bool:
        """Whether a flat event can be written as it is: the hot path's shortcut.

        True only if no key is a sensitive name, every value is a plain scalar or
        a string, and every key and string is clean (no trigger, no configured
        secret, no raw line break). Names and strings found clean are remembered
        (bounded sets), so the access line's recurring ones (method, path, client,
        field names) cost a lookup: one pass instead of the name pass plus a scan
        of the rendered line. A container, an object or anything suspect sends the
        event down the full path (:meth:`redact_names`, then :meth:`scrub_line`).
        """
        names = self._names
        clean = self._clean
        for key, value in event.items():
            if key not in names and not self._remember_name(key):
                return False
            kind = type(value)
            if kind is str:
                if value not in clean and not self._remember_if_clean(value):
                    return False
            elif kind not in _SCALARS:
                return False
        return True

    def _remember_name(self, name: Any) -> bool:
        if type(name) is not str or is_sensitive_name(name) or not self._is_clean(name):
            return False
        _remember(self._names, name)
        return True

    def _remember_if_clean(self, text: str) -> bool:
        if _HEX.fullmatch(text) is not None:  # checked, not remembered: ids do not recur
            return self._hex_literal is None or self._hex_literal.search(text) is None
        if not self._is_clean(text) and not self._renders_unchanged(text):
            return False
        if len(text) <= _CLEAN_MAX_LENGTH:
            _remember(self._clean, text)
        return True

    def _is_clean(self, text: str) -> bool:
        if not text.isascii() and _RAW_LINE_BREAKS.search(text) is not None:
            return False
        if _TEXT_TRIGGERS.search(text.lower()) is not None:
            return False
        return self._text_literal is None or self._text_literal.search(text) is None

    def _renders_unchanged(self, text: str) -> bool:
        """A value with a trigger word but no secret: ``"api_key"``, ``"bearer"``, ``/keys/7``.

        Clean when the full expression leaves it, rendered as JSON renders it,
        unchanged (and it holds no raw line break). No match can reach past the
        value's quotes, and the names around it are clean, so the line would be
        written the same: the slow path's scan, once per distinct string.
        """
        if not text.isascii() and _RAW_LINE_BREAKS.search(text) is not None:
            return False
        rendered = orjson.dumps(text)
        return self._bytes.search(rendered) is None

    def scrub_line(self, line: bytes) -> bytes:
        """Same as :meth:`scrub_text`, on a rendered JSON line (the hot path: prefiltered)."""
        if _TRIGGERS.search(line.lower()) is None and not any(
            literal in line for literal in self._literals
        ):
            return line
        return self._bytes.sub(_replacement_bytes, line)

    def redact_names(self, value: Any) -> Any:
        """Values under sensitive names replaced, in dicts, lists and header pairs.

        Returns ``value`` itself when nothing changes (no copies on the hot path).
        """
        if isinstance(value, dict):
            changed: dict[Any, Any] | None = None
            for key, item in value.items():
                if type(key) is str and is_sensitive_name(key):
                    new = REDACTED if item not in (None, "") else item
                elif type(item) in _CONTAINERS:
                    new = self.redact_names(item)
                else:
                    new = item
                if new is not item:
                    if changed is None:
                        changed = dict(value)
                    changed[key] = new
            return value if changed is None else changed
        if isinstance(value, list | tuple):
            if len(value) == 2 and isinstance(value[0], str | bytes) and value[1]:
                name = value[0].decode("latin-1") if isinstance(value[0], bytes) else value[0]
                if is_sensitive_name(name):
                    return (value[0], REDACTED)  # a (header, value) pair
            items = [self.redact_names(item) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return type(value)(items) if isinstance(value, tuple) else items
        return value

    def redact(self, value: Any) -> Any:
        """Both passes over a structure: sensitive names, then every string by shape.

        For payloads that are not rendered by us (error-tracker events).
        """
        value = self.redact_names(value)
        return self._scrub_strings(value)

    def _scrub_strings(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, dict):
            return {key: self._scrub_strings(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            items = [self._scrub_strings(item) for item in value]
            return tuple(items) if isinstance(value, tuple) else items
        return value


def _remember(known: dict[str, None], text: str) -> None:
    """Add to a bounded set of known-clean strings (cleared when full)."""
    if len(known) >= _CLEAN_CACHE_SIZE:
        known.clear()
    known[text] = None


def _json_escaped(value: str) -> bytes:
    """How ``value`` appears inside a JSON string written by orjson."""
    return orjson.dumps(value)[1:-1]


def secret_values(settings: BaseModel) -> list[str]:
    """Every ``SecretStr`` value in the settings (keys, tokens, signing secrets, DSNs)."""
    found: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)

    collect(settings.model_dump())
    return found
