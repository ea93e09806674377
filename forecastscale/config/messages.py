"""pydantic's validation errors as the lines a person reads: ``path: message, got value``, e.g.
``targets[0].workload.capacity_per_replica: must be > 0, got -3`` (the value shown short).

An unknown key is never accepted; it names the closest known key at its own level, if one is close:
``targets[0].scaling.target_utilization: unknown field, got 0.7; did you mean `target_utilisation`?``
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from forecastscale.config.migration import MOVED
from forecastscale.config.target import Target
from forecastscale.edge import shown

SIMILAR = 0.75  # difflib ratio: one or two letters off in a key (utilization/utilisation, a dropped "s") match

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


def format_validation_error(exc: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """One ``path: message, got value`` line per problem pydantic found; given the ``model`` validated, an
    unknown key also gets the closest known key at its level (:func:`did_you_mean`)."""
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = _location(loc)
        message = _message(err)
        if err["type"] == "extra_forbidden" and model is not None and loc and isinstance(loc[-1], str):
            message += did_you_mean(loc[-1], known_keys(model, loc[:-1]))
        lines.extend(f"{where}: {m}" if where else m for m in message.split("\n"))
    return lines


def did_you_mean(key: str, known: Mapping[str, str]) -> str:
    """``"; did you mean `target_utilisation`?"`` for the known key closest to ``key`` (``known``: key → what
    to suggest), or ``""`` if none is close (a suggestion far off misleads more than none)."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=SIMILAR)
    return f"; did you mean `{known[close[0]]}`?" if close else ""


def known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> dict[str, str]:
    """The keys the model(s) at ``loc`` (a pydantic error location, from ``model``) accept, each suggested as
    itself; in a target, a flat key of before config format 2 is suggested at its section (``scaling.…``)."""
    models = _models_at(model, loc)
    known = {f.alias or name: f.alias or name for m in models for name, f in m.model_fields.items()}
    return {**MOVED, **known} if Target in models else known


def _models_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> set[type[BaseModel]]:
    models = {model}
    for part in loc:  # list indices, mapping keys and union tags are not fields: stay at the same models
        if isinstance(part, str) and any(part in m.model_fields for m in models):
            models = {sub for m in models if part in m.model_fields
                      for sub in _models_in(m.model_fields[part].annotation)}
    return models


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models an annotation holds: itself, or inside ``list[…]``, ``… | None``, ``dict[str, …]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)
