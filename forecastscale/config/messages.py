"""pydantic's validation errors as the lines a person reads: ``path: message, got value``, e.g.
``targets[0].workload.capacity_per_replica: must be > 0, got -3`` (the value shown short)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from forecastscale.edge import shown

_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "required field missing",
    "extra_forbidden": "unknown field",
    "literal_error": "must be one of {expected}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "too_short": "must have at least {min_length} item(s)",
}


def _plain(value: Any) -> Any:
    """``5.0`` → ``5`` so messages read like the config a person wrote."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: ErrorDetails) -> str:
    """What is wrong, and (unless it is missing or a whole mapping) the value that was given."""
    template = _MESSAGES.get(err["type"])
    ctx = err.get("ctx", {})
    if template is not None:
        msg = template.format(**{k: _plain(v) for k, v in ctx.items()})
    else:
        msg = str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
    with_input = err["type"] not in ("missing", "model_type") and not isinstance(err.get("input"), dict)
    if with_input and "input" in err:
        msg += f", got {shown(err['input'])}"  # short: the input may be huge or deeply nested
    return msg


def format_validation_error(exc: ValidationError) -> list[str]:
    """One ``path: message, got value`` line per problem pydantic found."""
    lines: list[str] = []
    for err in exc.errors():
        where = _location(tuple(err["loc"]))
        lines.extend(f"{where}: {m}" if where else m for m in _message(err).split("\n"))
    return lines
