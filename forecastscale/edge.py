"""Validation at the edge: every value that enters from outside is checked here, once, the same way.

Outside values (config files, CSV traces, ``/v1/events`` bodies, the plan ConfigMap, model
artifacts, Prometheus answers) must be finite, within bounds, at a sane time, and of bounded
size. These helpers raise :class:`ValueError` whose message names the field and a *short* form of
the value (never the whole input: a 486-byte YAML alias bomb expands to gigabytes); each caller
wraps it into its own typed error (``ConfigError``, ``TraceError``, ``ArtifactError`` …) with
``raise … from``.

Times are UNIX seconds. :data:`EARLIEST_S`/:data:`LATEST_S` bound every timestamp we accept:
far-future dates (year 9999, 1e18 s) pin a target for ever or crash ``datetime``, and epoch
milliseconds (≈1.7e12) read as seconds land in the year 55,000.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

EARLIEST_S = datetime(1990, 1, 1, tzinfo=UTC).timestamp()  # before any trace we could be given
LATEST_S = datetime(2200, 1, 1, tzinfo=UTC).timestamp()  # well inside datetime's year 9999
MAX_JSON_DEPTH = 64  # artifacts, plans and event bodies nest a handful of levels
MAX_NUMBER_CHARS = 40  # "-1.7976931348623157e+308" has 24; a 401-digit number is an attack, not data
SHOWN_CHARS = 80  # how much of a bad value an error message repeats


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the total length), safe to put in a message or log.

    Containers are summarised before ``repr`` so a huge or deeply nested value is never rendered whole.
    """
    if isinstance(value, dict | list | tuple | set) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # self-referencing or over-deep, or an int beyond str's digit limit
        return f"<unprintable {type(value).__name__}>"
    if len(text) > limit:
        return f"{text[:limit]}… ({len(text)} chars)"
    return text


def escaped(text: str, limit: int = 1000) -> str:
    """``text`` with control characters (newlines included) escaped and cut to ``limit``: one log line stays one
    line, whatever a client sent (no forged log records)."""
    out = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return out if len(out) <= limit else f"{out[:limit]}… ({len(out)} chars)"


def finite(field: str, value: Any, *, lo: float = -math.inf, hi: float = math.inf) -> float:
    """``value`` as a float if it is a real number (not bool) and finite within ``[lo, hi]``; else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field}: must be a number, got {shown(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{field}: must be a finite number, got {shown(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field}: must be a finite number, got {shown(value)}")
    if not lo <= number <= hi:
        raise ValueError(f"{field}: must be within [{lo:g}, {hi:g}], got {shown(value)}")
    return number


def whole(field: str, value: Any, *, lo: int, hi: int) -> int:
    """``value`` if it is an ``int`` (not bool) within ``[lo, hi]``; else ValueError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: must be a whole number, got {shown(value)}")
    if not lo <= value <= hi:
        raise ValueError(f"{field}: must be within [{lo}, {hi}], got {shown(value)}")
    return value


def epoch(field: str, value: Any, *, now_s: float | None = None, max_ahead_s: float | None = None) -> float:
    """UNIX seconds within :data:`EARLIEST_S`…:data:`LATEST_S`, and not more than ``max_ahead_s`` after ``now_s``
    when both are given (a clock-skew allowance). A value that looks like epoch *milliseconds* says so."""
    t = finite(field, value)
    if t > LATEST_S and EARLIEST_S <= t / 1000 <= LATEST_S:
        raise ValueError(f"{field}: {shown(value)} is after {_iso(LATEST_S)}; it looks like epoch milliseconds "
                         f"({_iso(t / 1000)}): give seconds")
    if not EARLIEST_S <= t <= LATEST_S:
        raise ValueError(f"{field}: must be a time between {_iso(EARLIEST_S)} and {_iso(LATEST_S)}, got {shown(value)}")
    if now_s is not None and max_ahead_s is not None and t > now_s + max_ahead_s:
        raise ValueError(f"{field}: {_iso(t)} is {t - now_s:,.0f} s in the future (allowed: {max_ahead_s:g} s "
                         f"of clock skew)")
    return t


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:MAX_NUMBER_CHARS]} overflows a float")
    return number


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON ``text`` (brackets inside strings ignored); linear time."""
    depth = deepest = 0
    in_string = escape = False
    for ch in text:
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def strict_json(text: str | bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse ``text`` as strict JSON: no NaN/Infinity, numbers of at most :data:`MAX_NUMBER_CHARS` characters
    and finite, nesting at most ``max_depth``, at most ``max_bytes``. ValueError says which rule failed."""
    size = len(text)
    if size > max_bytes:
        raise ValueError(f"{size:,} bytes, at most {max_bytes:,}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if (depth := json_depth(text)) > max_depth:
        raise ValueError(f"nested {depth} levels deep, at most {max_depth}")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_float, parse_int=_int)
    except RecursionError:  # cannot happen after the depth check; kept as a last line
        raise ValueError("nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {shown(str(exc), 200)}") from None
