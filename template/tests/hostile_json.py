"""Hostile JSON request bodies: a hand-picked corpus and a hypothesis strategy.

Each body is what an attacker sends to a route that reads JSON: structure
(deep nesting, width), numbers (huge, NaN, Infinity, overflow), strings and
encodings (lone surrogates, invalid UTF-8, BOM, UTF-16), keys (duplicate, odd),
types the schema does not expect, truncated and trailing data, and media types
that are not JSON. Deep nesting made Litestar and Quart answer 500: their
parsers raise ``RecursionError``, which neither framework counts as bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

__all__ = ["CORPUS", "JSON", "VALID_BODY", "Hostile", "hostile_requests"]

JSON = "application/json"
VALID_BODY = b'{"name": "Blue widget", "quantity": 3, "tags": ["blue"]}'
_ITEM = b'{"name": "x", "quantity": %s}'


@dataclass(frozen=True)
class Hostile:
    """One request body, the media type it is sent as (None: no header), the status due."""

    name: str
    body: bytes
    content_type: str | None = JSON
    status: int = 422


def _nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + closer * depth


CORPUS: tuple[Hostile, ...] = (
    # Structure
    Hostile("deep-array-100k", _nested(100_000)),
    Hostile("deep-object-50k", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    Hostile(
        "deep-array-in-field", b'{"name": "x", "quantity": 1, "tags": ' + _nested(20_000) + b"}"
    ),
    Hostile("deep-just-over-the-limit", _nested(65)),
    Hostile("deep-mixed", b'[{"a":' * 5_000 + b"0" + b"}]" * 5_000),
    Hostile("unclosed-nesting", b"[" * 200_000),
    Hostile("wide-array", b'{"name": "x", "quantity": 1, "tags": [' + b'"a",' * 100_000 + b'"a"]}'),
    Hostile("many-keys", b"{" + b",".join(b'"k%d": 1' % i for i in range(50_000)) + b"}"),
    Hostile("long-key", b'{"' + b"k" * 500_000 + b'": 1}'),
    Hostile("long-string", b'{"name": "' + b"a" * 900_000 + b'", "quantity": 1}'),
    # Numbers
    Hostile("huge-integer", _ITEM % (b"9" * 5_000)),
    Hostile("long-integer", _ITEM % (b"9" * 4_301)),
    Hostile("big-integer", _ITEM % (b"9" * 30)),
    Hostile("float-overflow", _ITEM % b"1e400"),
    Hostile("negative-overflow", _ITEM % b"-1e400"),
    Hostile("nan", _ITEM % b"NaN"),
    Hostile("infinity", _ITEM % b"Infinity"),
    Hostile("minus-infinity", _ITEM % b"-Infinity"),
    Hostile("fraction", _ITEM % b"1.5"),
    Hostile("hex", _ITEM % b"0x10"),
    Hostile("leading-zero", _ITEM % b"007"),
    Hostile("plus-sign", _ITEM % b"+1"),
    # Strings and encodings
    Hostile("lone-surrogate", b'{"name": "\\ud800", "quantity": 1}'),
    Hostile("lone-low-surrogate-key", b'{"\\udc00": 1, "name": "x", "quantity": 1}'),
    Hostile("lone-surrogate-in-list", b'{"name": "x", "quantity": 1, "tags": ["\\udfff"]}'),
    Hostile("invalid-utf8", b'{"name": "\xff\xfe", "quantity": 1}'),
    Hostile("invalid-utf8-key", b'{"\xc3": 1}'),
    Hostile("overlong-utf8", b'{"name": "\xc0\xaf", "quantity": 1}'),
    Hostile("utf8-encoded-surrogate", b'{"name": "\xed\xa0\x80", "quantity": 1}'),
    Hostile("bom", b"\xef\xbb\xbf" + VALID_BODY),
    Hostile("utf-16", VALID_BODY.decode().encode("utf-16")),
    Hostile("utf-16-le", VALID_BODY.decode().encode("utf-16-le")),
    Hostile("utf-32", VALID_BODY.decode().encode("utf-32")),
    Hostile("escaped-nul", b'{"name": "x\\u0000", "quantity": 1}'),
    Hostile("raw-nul", b'{"name": "x\x00", "quantity": 1}'),
    Hostile("raw-control", b'{"name": "x\x01", "quantity": 1}'),
    Hostile("bad-escape", b'{"name": "\\x41", "quantity": 1}'),
    Hostile("short-unicode-escape", b'{"name": "\\u12", "quantity": 1}'),
    # Keys
    Hostile("duplicate-key", b'{"name": "x", "name": "y", "quantity": 1}'),
    Hostile("many-duplicates", b'{"name": "x", "quantity": 1' + b', "quantity": 1' * 10_000 + b"}"),
    Hostile("odd-keys", b'{"": 1, "__proto__": {}, "constructor": 1}'),
    Hostile("unknown-key", b'{"name": "x", "quantity": 1, "admin": true}'),
    Hostile("non-string-key", b"{1: 2}"),
    # Types the schema does not expect
    Hostile("null", b"null"),
    Hostile("array", b"[]"),
    Hostile("string", b'"x"'),
    Hostile("number", b"1"),
    Hostile("true", b"true"),
    Hostile("name-object", b'{"name": {"a": 1}, "quantity": 1}'),
    Hostile("name-null", b'{"name": null, "quantity": 1}'),
    Hostile("quantity-string", b'{"name": "x", "quantity": "1"}'),
    Hostile("quantity-bool", b'{"name": "x", "quantity": true}'),
    Hostile("tags-object", b'{"name": "x", "quantity": 1, "tags": {"a": 1}}'),
    Hostile("tags-nested", b'{"name": "x", "quantity": 1, "tags": [["a"]]}'),
    Hostile("tags-numbers", b'{"name": "x", "quantity": 1, "tags": [1]}'),
    # Truncated, trailing and empty
    Hostile("empty", b""),
    Hostile("whitespace", b" \r\n\t "),
    Hostile("truncated", VALID_BODY[:-5]),
    Hostile("trailing-garbage", VALID_BODY + b"garbage"),
    Hostile("trailing-document", VALID_BODY + b"{}"),
    Hostile("two-documents", VALID_BODY + b"\n" + VALID_BODY),
    Hostile("single-quotes", b"{'name': 'x', 'quantity': 1}"),
    Hostile("comment", b'{"name": "x", /* c */ "quantity": 1}'),
    Hostile("trailing-comma", b'{"name": "x", "quantity": 1,}'),
    Hostile("unquoted-key", b"{name: 1}"),
    # Media types: a valid document, not sent as JSON
    Hostile("text-plain", VALID_BODY, "text/plain", 415),
    Hostile("no-content-type", VALID_BODY, None, 415),
    Hostile("empty-content-type", VALID_BODY, "", 415),
    Hostile("form", b"name=x&quantity=1", "application/x-www-form-urlencoded", 415),
    Hostile("multipart", VALID_BODY, "multipart/form-data; boundary=x", 415),
    Hostile("latin-1", VALID_BODY, "application/json; charset=latin-1", 415),
    Hostile(
        "utf-16-charset",
        VALID_BODY.decode().encode("utf-16"),
        "application/json; charset=utf-16",
        415,
    ),
    Hostile("unknown-charset", VALID_BODY, "application/json; charset=bogus", 415),
    Hostile("json-lookalike", VALID_BODY, "application/jsonp", 415),
    Hostile("text-json", VALID_BODY, "text/json", 415),
)

# Media types a request may claim: JSON ones (the body decides) and others (415).
_MEDIA_TYPES = (
    JSON,
    "application/json; charset=utf-8",
    "application/merge-patch+json",
    "text/plain",
    "application/json; charset=iso-8859-1",
    "application/x-www-form-urlencoded",
    None,
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    # Any code point, lone surrogates (category Cs) often: they reach the wire as
    # \ud800 escapes or, unescaped, as invalid UTF-8.
    | st.text(alphabet=st.characters(codec=None) | st.characters(categories=["Cs"]), max_size=20)
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["name", "quantity", "tags", "", "id", "x"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)
_ITEMS = st.fixed_dictionaries(
    {"name": _SCALARS, "quantity": _SCALARS}, optional={"tags": _DOCUMENTS, "extra": _DOCUMENTS}
)


def _encode(document: Any, ascii_only: bool) -> bytes:
    # json.dumps writes NaN/Infinity and, unescaped, lone surrogates (as invalid UTF-8 here).
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    document = draw(_ITEMS | _DOCUMENTS)
    body = _encode(document, draw(st.booleans()))
    mutation = draw(
        st.sampled_from(
            ["none", "nest", "truncate", "trail", "bom", "utf-16", "duplicate", "big-number"]
        )
    )
    if mutation == "nest":
        depth = draw(st.integers(min_value=60, max_value=120_000))
        body = b"[" * depth + body + b"]" * draw(st.sampled_from([depth, depth - 1, 0]))
    elif mutation == "truncate" and len(body) > 1:
        body = body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]
    elif mutation == "trail":
        body += draw(st.sampled_from([b"x", b"{}", b"]", b"\x00", b'"', b"\xff"]))
    elif mutation == "bom":
        body = b"\xef\xbb\xbf" + body
    elif mutation == "utf-16":
        body = body.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    elif mutation == "duplicate" and body.startswith(b"{") and len(body) > 2:
        body = b'{"name": 1, "name": 2, ' + body[1:]
    elif mutation == "big-number":
        digits = draw(st.integers(min_value=20, max_value=6_000))
        body = (
            b'{"name": "x", "quantity": '
            + b"9" * digits
            + draw(st.sampled_from([b"", b"e999"]))
            + b"}"
        )
    return body


def hostile_requests() -> st.SearchStrategy[tuple[bytes, str | None]]:
    """(body, content type or None) pairs: mostly hostile, now and then valid by chance."""
    return st.tuples(_bodies(), st.sampled_from(_MEDIA_TYPES))
