"""Settings errors in the user's words: one line each, no traceback, never a value.

A line names the environment variable as it is set (for a JSON one, the entry:
``API_KEYS["ci"]["secret"]``), what is wrong with it, and what is allowed. The
allowed shape comes from the settings themselves: a field's bounds or choices,
its ``description``, a pattern's entry in ``PATTERN_SHAPES``, or a validator's
own message. pydantic's text is never used: it may quote the value (a secret).
"""

from __future__ import annotations

import json
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsError

from .settings import PATTERN_SHAPES, NamedSettingsError, Settings

__all__ = ["PREFIX", "describe", "problems"]

PREFIX = "Invalid configuration: "

# What is wrong, by pydantic's error type; anything else "is not valid".
_WRONG = {
    "missing": "is missing",
    "dict_type": "is not a JSON object",
    "model_type": "is not a JSON object",
    "extra_forbidden": "is not a known field",
    "bool_parsing": "is not true or false",
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a number",
    "greater_than": "is out of range",
    "greater_than_equal": "is out of range",
    "less_than": "is out of range",
    "less_than_equal": "is out of range",
    "literal_error": "is not one of the choices",
    "too_short": "is too short",
    "string_too_short": "is too short",
    "too_long": "is too long",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "does not have the expected form",
    "path_not_file": "is not an existing file",
}


def _bare(annotation: Any) -> Any:
    """``X | None`` to ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        others = [arg for arg in get_args(annotation) if arg is not type(None)]
        return others[0] if len(others) == 1 else annotation
    return annotation


def _number(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _bounds(metadata: Sequence[Any]) -> str:
    low = high = ""
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = _number(item.ge)
        elif isinstance(item, annotated_types.Gt):
            low = f"above {_number(item.gt)}"
        elif isinstance(item, annotated_types.Le):
            high = _number(item.le)
        elif isinstance(item, annotated_types.Lt):
            high = f"below {_number(item.lt)}"
    if low and high and not low.startswith("above") and not high.startswith("below"):
        return f" from {low} to {high}"
    parts = [low if low.startswith("above") else f"at least {low}"] if low else []
    parts += [high if high.startswith("below") else f"at most {high}"] if high else []
    return (" " + " and ".join(parts)) if parts else ""


def _lengths(metadata: Sequence[Any]) -> str:
    low = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), None)
    high = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)
    if low and high is not None:
        return f"text of {low} to {high} characters"
    if high is not None:
        return f"text of at most {high} characters"
    return f"text of at least {low} characters" if low else "text"


def shape(field: FieldInfo) -> str:
    """What a setting accepts, from its declaration."""
    if field.description:
        return field.description
    kind = _bare(field.annotation)
    if kind is bool:
        return "true or false"
    if kind is int:
        return "a whole number" + _bounds(field.metadata)
    if kind is float:
        return "a number" + _bounds(field.metadata)
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(kind))
    if get_origin(kind) is tuple:
        return "a comma-separated list"
    if Path in (kind, *get_args(kind)):
        return "the path of an existing file"
    return _lengths(field.metadata)


def _where(loc: Sequence[str | int]) -> str:
    """``API_KEYS["ci"]["scopes"][0]``: the variable, then the JSON path into its value."""
    path = "".join(
        f"[{part}]" if isinstance(part, int) else f"[{json.dumps(part)}]"
        for part in loc[1:]
        if part != "[key]"
    )
    return str(loc[0]).upper() + path


def _line(item: Any) -> str:
    error = item.get("ctx", {}).get("error")
    if isinstance(error, NamedSettingsError):  # a check across settings: said in their names
        reason = str(error)
        if all(name in reason for name in error.names):
            return reason
        return f"{', '.join(error.names)}: {reason}"
    loc = item["loc"]
    if not loc:  # a check across settings that names them itself (a team's own, say)
        return str(error) if error is not None else "the settings do not fit together"
    where = _where(loc)
    if error is not None:  # a validator's message: it says what is wrong and what to use
        reason = str(error)
        return reason if reason.startswith(where) else f"{where}: {reason}"
    kind = item["type"]
    wrong = _WRONG.get(kind, "is not valid")
    field = Settings.model_fields.get(str(loc[0]))
    ctx = item.get("ctx", {})
    if kind == "string_pattern_mismatch":
        allowed = PATTERN_SHAPES.get(ctx.get("pattern"), "text of the documented form")
    elif len(loc) > 1 and "min_length" in ctx:  # in a JSON entry: {"secret": "..."}
        allowed = f"a {loc[-1]} of at least {ctx['min_length']} characters"
    else:
        allowed = shape(field) if field is not None else "a valid value"
    return f"{where} {wrong}: use {allowed}"


def problems(error: ValidationError | SettingsError) -> list[str]:
    """One line per bad setting."""
    if isinstance(error, SettingsError):  # a value that is not even JSON, e.g. API_KEYS='{…'
        name = str(error).partition('field "')[2].partition('"')[0]
        field = Settings.model_fields.get(name)
        allowed = shape(field) if field is not None else "valid JSON"
        return [f"{name.upper() or 'a setting'} is not valid JSON: use {allowed}"]
    return [_line(item) for item in error.errors(include_url=False, include_input=False)]


def describe(error: ValidationError | SettingsError) -> str:
    """What ``python -m`` prints: one ``Invalid configuration: ...`` line per problem."""
    return "\n".join(PREFIX + line for line in problems(error))
