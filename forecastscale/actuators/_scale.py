"""What every ``scale``-subresource actuator shares: settings, ``current()`` and ``apply()``.

A subclass names its object (``target``) and does one GET (``_read``) and one conditional PUT
(``_write``); the read-compare-write loop with its 409/429 handling lives in ``_retry``.
"""

from __future__ import annotations

import time

from forecastscale.actuators._retry import RetryPolicy, Sleep, apply_with_retries, call
from forecastscale.actuators.base import ApplyResult, Fence, ScaleState

DEFAULT_REQUEST_TIMEOUT_S = 10.0


class ScaleActuator:
    """Base of the scale actuators; ``sleep`` (seconds) honours a 429's ``Retry-After`` and
    ``request_timeout_s`` bounds each HTTP call (seconds)."""

    def __init__(self, namespace: str, name: str, policy: RetryPolicy | None = None,
                 sleep: Sleep = time.sleep, request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S) -> None:
        self.namespace = namespace
        self.name = name
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._timeout = request_timeout_s

    @property
    def target(self) -> str:
        """``"<Kind> <namespace>/<name>"``, the prefix of every error message."""
        raise NotImplementedError

    def current(self) -> ScaleState:
        """One GET of the scale subresource."""
        return call(self.target, self._read)

    def apply(self, replicas: int, fence: Fence | None = None) -> ApplyResult:
        """Set ``spec.replicas`` to ``replicas`` (see :func:`~forecastscale.actuators._retry.apply_with_retries`);
        ``fence()`` runs right before each write."""
        return apply_with_retries(
            target=self.target,
            replicas=replicas,
            read=self.current,
            write=lambda n, rv: call(self.target, lambda: self._write(n, rv)),
            policy=self.policy,
            sleep=self._sleep,
            fence=fence,
        )

    def _read(self) -> ScaleState:
        raise NotImplementedError

    def _write(self, replicas: int, resource_version: str) -> ScaleState:
        raise NotImplementedError
