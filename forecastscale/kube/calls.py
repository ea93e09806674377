"""One call to the API server, its failures as typed errors (:mod:`forecastscale.kube.errors`).

The official client raises :class:`ApiException` for an HTTP error status and lets urllib3's
transport errors through unwrapped; :func:`call` turns both into :class:`~.errors.KubeApiError`
subclasses, keeping the original as ``__cause__``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from forecastscale.kube.errors import KubeApiError, Unavailable, error_for_status

T = TypeVar("T")


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """``Retry-After`` as seconds, or ``None`` if absent or not a non-negative number.

    The HTTP-date form is not parsed: the API server only sends delta-seconds.
    """
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def _status_fields(body: Any) -> tuple[str | None, str]:
    """``(reason, message)`` from a ``Status`` JSON body, or ``(None, "")`` if it is not one."""
    try:
        status = json.loads(body) if isinstance(body, (str, bytes)) else None
    except ValueError:
        return None, ""
    if not isinstance(status, dict):
        return None, ""
    reason = status.get("reason")
    message = status.get("message")
    return (reason if isinstance(reason, str) else None), (message if isinstance(message, str) else "")


def from_api_exception(exc: ApiException, target: str) -> KubeApiError:
    """The typed error for a ``kubernetes`` client :class:`ApiException` raised while acting on ``target``."""
    status = int(exc.status or 0)
    reason, detail = _status_fields(exc.body)
    # The Status body's reason ("Conflict") is more precise than the HTTP phrase; status 0 carries
    # the client's own description of what went wrong in ``exc.reason``.
    reason = reason or (str(exc.reason) if exc.reason else None)
    headers = dict(exc.headers) if exc.headers else None
    return error_for_status(status, target=target, reason=reason, detail=detail,
                            retry_after_s=parse_retry_after(headers))


def call(target: str, fn: Callable[[], T]) -> T:
    """Run one API call, turning client and transport failures into typed errors (cause kept)."""
    try:
        return fn()
    except ApiException as exc:
        raise from_api_exception(exc, target) from exc
    except urllib3.exceptions.HTTPError as exc:
        # Refused/reset/timed out before any HTTP status: the client does not wrap these.
        raise Unavailable(f"{target}: no response: {exc}", target=target, status=0) from exc
