"""The leader's plan in a ConfigMap: written conditionally on the version the leader last read or wrote.

The plan is a JSON object (what it holds is :mod:`forecastscale.service.plan_codec`'s concern)
stored under one key, :attr:`PlanStore.KEY`, of a ConfigMap labelled as managed by forecastscale.
:meth:`PlanStore.read` returns it with the ConfigMap's ``resourceVersion``; :meth:`PlanStore.write`
sends that version back, so the API server refuses (409) a write based on anything but the newest
plan. That version is the leader's fencing token: a former leader that wakes up with an old version
cannot overwrite its successor's plan, and a 409 is never "re-read and write anyway" — the caller
re-reads and merges (:class:`forecastscale.service.persistence.PlanKeeper`). API failures are the
typed errors of :mod:`forecastscale.kube.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from forecastscale.edge import strict_json
from forecastscale.errors import PermanentError
from forecastscale.kube.calls import call
from forecastscale.kube.errors import NotFound

# A ConfigMap holds at most 1 MiB (etcd's object limit), metadata included: refuse well before that.
MAX_PLAN_BYTES = 900 * 1024
LABELS = {"app.kubernetes.io/managed-by": "forecastscale"}


class PlanCorrupt(PermanentError):
    """The ConfigMap's plan is not a JSON object (edited by hand, or not ours); ``target`` names it."""

    def __init__(self, message: str, *, target: str) -> None:
        self.target = target
        super().__init__(message)


class PlanTooLarge(PermanentError):
    """The plan is too large for a ConfigMap (too many targets or too long a history); ``size`` in bytes."""

    def __init__(self, message: str, *, target: str, size: int) -> None:
        self.target, self.size = target, size
        super().__init__(message)


@dataclass(frozen=True)
class PlanSnapshot:
    """The plan as read: ``plan`` None when there is none; ``version`` the ConfigMap's resourceVersion (None when
    there is no ConfigMap: the first write creates it); ``corrupt`` why the stored text was unusable, if it was."""

    plan: dict[str, Any] | None
    version: str | None
    corrupt: str | None = None


def parse_plan_text(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The plan in a ConfigMap value: ``(plan, None)``, or ``(None, why)`` if it is not a strict JSON object
    (no NaN, numbers of sane length, bounded nesting and size)."""
    try:
        plan = strict_json(text, max_bytes=2 * MAX_PLAN_BYTES)
    except ValueError as exc:
        return None, f"is unusable: {exc}"
    if not isinstance(plan, dict):
        return None, f"holds a JSON {type(plan).__name__}, not an object"
    return plan, None


class PlanStore:
    """:meth:`read` and :meth:`write` the plan in ConfigMap ``namespace/name``.

    ``api`` is an ``ApiClient`` or a ready ``CoreV1Api``; ``request_timeout_s`` bounds each HTTP
    call (seconds).
    """

    KEY = "plan.json"

    def __init__(self, api: client.ApiClient | client.CoreV1Api, namespace: str, name: str,
                 request_timeout_s: float = 10.0) -> None:
        self._api = client.CoreV1Api(api) if isinstance(api, client.ApiClient) else api
        self.namespace, self.name = namespace, name
        self._timeout = request_timeout_s
        self._meta: client.V1ObjectMeta | None = None  # of the ConfigMap last read or written (labels kept)

    @property
    def target(self) -> str:
        """``"ConfigMap <namespace>/<name>"``, the prefix of every error message."""
        return f"ConfigMap {self.namespace}/{self.name}"

    def read(self) -> PlanSnapshot:
        """The saved plan and its version. Text that is not a JSON object (strict: no NaN, bounded size and
        nesting) comes back as ``plan`` None with ``corrupt`` saying why — the version still fences the write
        that replaces it. Typed API errors otherwise."""
        found = self._get()
        if found is None:
            return PlanSnapshot(None, None)
        self._meta = found.metadata
        version = str(found.metadata.resource_version or "") if found.metadata else ""
        text = (found.data or {}).get(self.KEY)
        if text is None:
            return PlanSnapshot(None, version)
        plan, corrupt = parse_plan_text(text)
        return PlanSnapshot(plan, version, None if corrupt is None else f"{self.target}: key {self.KEY} {corrupt}")

    def load(self) -> dict[str, Any] | None:
        """The saved plan (``None`` if there is none); :class:`PlanCorrupt` if it is unusable."""
        snapshot = self.read()
        if snapshot.corrupt is not None:
            raise PlanCorrupt(snapshot.corrupt, target=self.target)
        return snapshot.plan

    def write(self, plan: Mapping[str, Any], version: str | None) -> str:
        """Create the ConfigMap (``version`` None) or replace it if it is still at ``version``; the new version.

        Raises :class:`PlanTooLarge` before any request if the JSON exceeds ``MAX_PLAN_BYTES``;
        :class:`~forecastscale.kube.errors.Conflict` (409) if the ConfigMap was created or changed by
        anyone since ``version`` — never retried here: the caller must re-read and merge; other typed API
        errors at once.
        """
        text = json.dumps(plan, sort_keys=True, allow_nan=False)
        size = len(text.encode())
        if size > MAX_PLAN_BYTES:
            raise PlanTooLarge(f"{self.target}: the plan is {size:,} bytes of JSON; a ConfigMap holds at most "
                               f"1 MiB, and at most {MAX_PLAN_BYTES:,} bytes are used for the plan",
                               target=self.target, size=size)
        written = self._create(text) if version is None else self._replace(text, version)
        self._meta = written.metadata
        return str(written.metadata.resource_version or "") if written.metadata else ""

    def _get(self) -> client.V1ConfigMap | None:
        try:
            return call(self.target, lambda: self._api.read_namespaced_config_map(
                self.name, self.namespace, _request_timeout=self._timeout))
        except NotFound:
            return None

    def _create(self, text: str) -> client.V1ConfigMap:
        """409 AlreadyExists if someone created it first (a Conflict: re-read)."""
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace,
                                                               labels=dict(LABELS)), data={self.KEY: text})
        return call(self.target, lambda: self._api.create_namespaced_config_map(
            self.namespace, body, _request_timeout=self._timeout))

    def _replace(self, text: str, version: str) -> client.V1ConfigMap:
        """A PUT carrying ``version``: refused (409) if the ConfigMap moved on since. Other keys are replaced by
        ours; labels and annotations of others are kept (from the last read)."""
        meta = self._meta or client.V1ObjectMeta(name=self.name, namespace=self.namespace)
        meta = meta.model_copy(update={"labels": {**(meta.labels or {}), **LABELS}, "resource_version": version})
        body = client.V1ConfigMap(metadata=meta, data={self.KEY: text})
        return call(self.target, lambda: self._api.replace_namespaced_config_map(
            self.name, self.namespace, body, _request_timeout=self._timeout))
