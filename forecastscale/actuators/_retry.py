"""The status handling and bounded retry loop shared by every scale-subresource actuator.

The loop is a read-then-write with optimistic concurrency: read the scale (and its
``resourceVersion``), write only if ``spec.replicas`` differs, and write *with* that version so
the API server refuses (409) rather than silently overwriting a change made in between.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from forecastscale.actuators.base import ApplyResult, Fence, Outcome, ScaleState
from forecastscale.actuators.errors import Conflict, KubeApiError, TooManyRequests, Unavailable, error_for_status

T = TypeVar("T")
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of :func:`apply_with_retries`.

    ``attempts``: read-then-write rounds in total (>= 1); a 409 or a 429 costs one round.
    ``default_retry_after_s``: seconds to wait after a 429 that carries no usable ``Retry-After``.
    ``max_retry_after_s``: cap on any single wait, so a misbehaving server cannot stall a tick.
    """

    attempts: int = 3
    default_retry_after_s: float = 1.0
    max_retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if not 0 <= self.default_retry_after_s <= self.max_retry_after_s:
            raise ValueError("need 0 <= default_retry_after_s <= max_retry_after_s")

    def wait_s(self, retry_after_s: float | None) -> float:
        """Seconds to sleep after a 429 whose ``Retry-After`` was ``retry_after_s``."""
        wait = self.default_retry_after_s if retry_after_s is None else retry_after_s
        return min(wait, self.max_retry_after_s)


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


def apply_with_retries(
    *,
    target: str,
    replicas: int,
    read: Callable[[], ScaleState],
    write: Callable[[int, str], ScaleState],
    policy: RetryPolicy,
    sleep: Sleep,
    fence: Fence | None = None,
) -> ApplyResult:
    """Make ``spec.replicas`` of ``target`` equal ``replicas``, retrying 409 and 429 within ``policy``.

    ``read()`` returns the current scale; ``write(replicas, resource_version)`` replaces it and
    returns the new state. Both must raise typed errors (wrap them with :func:`call`). A 409
    re-reads at once (the conflict itself says a newer version is there to read); a 429 sleeps
    ``policy.wait_s(Retry-After)`` seconds first. Other errors propagate at once. When the rounds
    run out, the last 409/429 error is raised with a note saying how many rounds were made.
    ``fence()`` runs immediately before every write (its ``NotLeader`` propagates: nothing is sent).
    """
    if replicas < 0:
        raise ValueError(f"{target}: replicas must be >= 0, got {replicas}")
    last: Conflict | TooManyRequests | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            state = read()
            if state.spec_replicas == replicas:
                return ApplyResult(Outcome.UNCHANGED, state.spec_replicas, replicas, attempt, state.resource_version)
            if fence is not None:
                fence()  # after the read, which may have waited: leadership is judged at the last moment
            written = write(replicas, state.resource_version)
            return ApplyResult(Outcome.PATCHED, state.spec_replicas, replicas, attempt, written.resource_version)
        except Conflict as exc:
            last = exc
        except TooManyRequests as exc:
            last = exc
            if attempt < policy.attempts:  # no point sleeping before giving up
                sleep(policy.wait_s(exc.retry_after_s))
    assert last is not None  # the loop ran at least once and every exit path above returned or set it
    last.add_note(f"gave up after {policy.attempts} attempts")
    raise last
