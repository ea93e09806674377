"""What every actuator promises: read the current scale, set a replica count. Pure types, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

# Called immediately before every write is sent; raises forecastscale.errors.NotLeader to stop it.
Fence = Callable[[], None]


@dataclass(frozen=True)
class ScaleState:
    """The scale of one workload as the API server reported it.

    ``spec_replicas`` is what was asked for, ``status_replicas`` what the controller currently
    runs (both in replicas: pods for a Deployment/StatefulSet, machines for a MachineDeployment).
    ``resource_version`` is the opaque ``metadata.resourceVersion`` the state was read at; a
    write made with it fails with a conflict if the object changed in between.
    ``ready_replicas`` is set only where ``status_replicas`` does not mean ready: a MachineDeployment's
    ``status.replicas`` counts Machines (made at once, even when the cloud has no capacity), so its
    actuator adds the machines whose Node is Ready (``status.readyReplicas``). ``None``: read
    ``status_replicas`` as the ready count.
    """

    spec_replicas: int
    status_replicas: int
    resource_version: str
    ready_replicas: int | None = None


class Outcome(StrEnum):
    """What :meth:`Actuator.apply` did."""

    UNCHANGED = "unchanged"  # spec.replicas already equalled the target: nothing was written
    PATCHED = "patched"  # spec.replicas was written
    DRY_RUN = "dry-run"  # spec.replicas differed and would have been written (dry-run: nothing sent)


@dataclass(frozen=True)
class ApplyResult:
    """The result of one :meth:`Actuator.apply`.

    ``from_replicas`` is ``spec.replicas`` as read in the last attempt, ``to_replicas`` the target;
    ``attempts`` counts read-then-write rounds (1 when nothing got in the way; each 409 or 429
    costs one more). ``resource_version`` is the object's version after the call.
    """

    outcome: Outcome
    from_replicas: int
    to_replicas: int
    attempts: int
    resource_version: str

    @property
    def changed(self) -> bool:
        """True if replicas were written."""
        return self.outcome is Outcome.PATCHED


@runtime_checkable
class Actuator(Protocol):
    """Sets the replica count of one workload.

    Errors are :mod:`forecastscale.kube.errors` classes: temporary ones (conflict, throttled,
    unavailable) after the actuator's own bounded retries, permanent ones (forbidden, not found)
    at once.
    """

    @property
    def target(self) -> str:
        """A human name of the workload, e.g. ``"Deployment default/web"``."""
        ...

    def current(self) -> ScaleState:
        """Read the scale now (one GET)."""
        ...

    def apply(self, replicas: int, fence: Fence | None = None) -> ApplyResult:
        """Make ``spec.replicas`` equal ``replicas`` (>= 0); write nothing if it already does.

        ``fence()`` runs immediately before each write is sent (not before reads): a replica that
        lost its Lease while this call waited on the API server sends nothing (``NotLeader``)."""
        ...
