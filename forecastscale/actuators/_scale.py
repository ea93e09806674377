"""What every ``scale``-subresource actuator shares: settings, ``current()`` and ``apply()``.

A subclass names its object (``target``) and does one GET (``_read``) and one conditional PUT
(``_write``). ``apply()`` is a read-compare-write round: read the scale (and its ``resourceVersion``),
write only if ``spec.replicas`` differs, and write *with* that version so the API server refuses (409)
rather than silently overwrites a change made in between; :func:`~forecastscale.kube.retry.with_retries`
repeats the round on 409 and 429.
"""

from __future__ import annotations

import time
from functools import partial

from forecastscale.actuators.base import ApplyResult, Fence, Outcome, ScaleState
from forecastscale.kube.calls import call
from forecastscale.kube.retry import RetryPolicy, Sleep, with_retries

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
        """Set ``spec.replicas`` to ``replicas`` (>= 0), retrying 409 and 429 within ``policy``.

        When the rounds run out, the last 409/429 error is raised with a note saying how many were
        made; other errors propagate at once. ``fence()`` runs right before each write (its
        ``NotLeader`` propagates: nothing is sent)."""
        if replicas < 0:
            raise ValueError(f"{self.target}: replicas must be >= 0, got {replicas}")
        return with_retries(partial(self._round, replicas, fence), policy=self.policy, sleep=self._sleep)

    def _round(self, replicas: int, fence: Fence | None, attempt: int) -> ApplyResult:
        """One read-compare-write round; ``attempt`` counts the rounds from 1."""
        state = self._state_for_write()
        if state.spec_replicas == replicas:
            return ApplyResult(Outcome.UNCHANGED, state.spec_replicas, replicas, attempt, state.resource_version)
        if fence is not None:
            fence()  # after the read, which may have waited: leadership is judged at the last moment
        written = call(self.target, lambda: self._write(replicas, state.resource_version))
        return ApplyResult(Outcome.PATCHED, state.spec_replicas, replicas, attempt, written.resource_version)

    def _state_for_write(self) -> ScaleState:
        """What a write round reads first: ``spec.replicas`` and the ``resourceVersion`` to write with.
        :meth:`current` here; a subclass whose ``current()`` reads more than the scale reads only the scale."""
        return self.current()

    def _read(self) -> ScaleState:
        raise NotImplementedError

    def _write(self, replicas: int, resource_version: str) -> ScaleState:
        raise NotImplementedError
