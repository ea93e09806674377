"""Errors of calls to the Kubernetes API server, one class per status that changes what the caller does.

::

    ForecastscaleError
    └── KubeApiError                    any failed call to the API server (``target``, ``status``, ``reason``)
        ├── Conflict          409       TemporaryError: the object changed under us; re-read and retry
        ├── TooManyRequests   429       TemporaryError: throttled; wait ``retry_after_s`` seconds
        ├── Unavailable       5xx / 0   TemporaryError: server or connection failed; back off
        ├── Forbidden         403       PermanentError: RBAC does not allow the verb; fix the Role
        ├── NotFound          404       PermanentError: the object (or its scale subresource) does not exist
        ├── Rejected          other 4xx PermanentError: the request itself is wrong (400, 401, 422, ...)
        └── Malformed         2xx       PermanentError: answered, but a field breaks its schema (not a
                                        whole number, negative, absurdly large); never acted on

Every class is also a :class:`~forecastscale.errors.TemporaryError` or a
:class:`~forecastscale.errors.PermanentError`, so callers that only care about "retry or report"
need not import this module. :func:`error_for_status` is the whole status → class table.
"""

from __future__ import annotations

from forecastscale.errors import ForecastscaleError, PermanentError, TemporaryError


class KubeApiError(ForecastscaleError):
    """A call to the Kubernetes API server failed.

    ``target`` names the object (``"Deployment default/web"``); ``status`` is the HTTP status
    (0 when no HTTP response arrived); ``reason`` is the ``Status.reason`` (``"Conflict"``) or
    the HTTP reason phrase, when known.
    """

    def __init__(self, message: str, *, target: str, status: int, reason: str | None = None) -> None:
        self.target = target
        self.status = status
        self.reason = reason
        super().__init__(message)


class Conflict(KubeApiError, TemporaryError):
    """409: the ``resourceVersion`` we wrote with is stale (someone else changed the object)."""


class TooManyRequests(KubeApiError, TemporaryError):
    """429: the API server (priority and fairness) throttled us.

    ``retry_after_s`` is the server's ``Retry-After`` in seconds, or ``None`` if it sent none
    (or sent an HTTP date, which we do not parse).
    """

    def __init__(
        self, message: str, *, target: str, status: int = 429, reason: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, target=target, status=status, reason=reason)


class Unavailable(KubeApiError, TemporaryError):
    """5xx, or no HTTP response at all (``status == 0``: refused, reset, timed out)."""


class Forbidden(KubeApiError, PermanentError):
    """403: RBAC does not allow the service account this verb on this object (e.g. ``update`` on a scale)."""


class NotFound(KubeApiError, PermanentError):
    """404: the object does not exist (wrong name, namespace, kind, or CRD not installed)."""


class Rejected(KubeApiError, PermanentError):
    """Any other 4xx (400 bad request, 401 unauthorised, 422 invalid): sending it again will fail again."""


class Malformed(KubeApiError, PermanentError):
    """The call succeeded but the object read back breaks its schema (``status.readyReplicas: "3"``, ``-1``,
    ``1e12``): a broken or hostile server or CRD. Nothing is decided on it; asking again returns the same."""


# Statuses whose meaning is fixed; everything else is classified by range in error_for_status.
_BY_STATUS: dict[int, type[KubeApiError]] = {
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: TooManyRequests,
}


def error_for_status(
    status: int, *, target: str, reason: str | None = None, detail: str = "", retry_after_s: float | None = None,
) -> KubeApiError:
    """The typed error for an HTTP ``status`` (0 = no response) on ``target``.

    The message names the target, status and reason, then the server's own message (``detail``).
    ``retry_after_s`` (seconds) is kept only on :class:`TooManyRequests`.
    """
    cls: type[KubeApiError]
    if status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status == 0 or status >= 500:
        cls = Unavailable
    else:
        # Other 4xx, and anything outside the ranges the API server uses: repeating cannot help.
        cls = Rejected
    label = f"HTTP {status}" if status else "no response"
    message = f"{target}: {label} {reason or cls.__name__}" + (f": {detail}" if detail else "")
    if cls is TooManyRequests:
        return TooManyRequests(message, target=target, status=status, reason=reason, retry_after_s=retry_after_s)
    return cls(message, target=target, status=status, reason=reason)
