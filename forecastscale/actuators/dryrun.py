"""``--dry-run``: an actuator that reads through to a real one (if any) and writes nothing.

Without a cluster it plays the workload itself: ``current()`` returns what the last ``apply()``
asked for (starting at ``initial`` replicas), so a forecast-only run still follows its own plan.
"""

from __future__ import annotations

from forecastscale.actuators.base import Actuator, ApplyResult, Fence, Outcome, ScaleState


class DryRun:
    """Wraps ``inner`` (or nothing); ``writes`` lists every replica count that would have been written."""

    def __init__(self, target: str, inner: Actuator | None = None, initial: int = 0) -> None:
        self._target = target
        self.inner = inner
        self.replicas = initial
        self.writes: list[int] = []

    @property
    def target(self) -> str:
        """The wrapped actuator's target, or the name given."""
        return self.inner.target if self.inner is not None else self._target

    def current(self) -> ScaleState:
        """The real scale if there is a cluster, else the last count asked for."""
        if self.inner is not None:
            return self.inner.current()
        return ScaleState(self.replicas, self.replicas, "dry-run")

    def apply(self, replicas: int, fence: Fence | None = None) -> ApplyResult:
        """Record ``replicas`` as the wanted count; nothing is sent to any cluster (so ``fence`` is not needed)."""
        if replicas < 0:
            raise ValueError(f"{self.target}: replicas must be >= 0, got {replicas}")
        state = self.current()
        self.replicas = replicas
        if state.spec_replicas == replicas:
            return ApplyResult(Outcome.UNCHANGED, replicas, replicas, 1, state.resource_version)
        self.writes.append(replicas)
        return ApplyResult(Outcome.DRY_RUN, state.spec_replicas, replicas, 1, state.resource_version)
