"""The leader's plan in a ConfigMap: saved every tick, restored by a new leader.

The plan is a JSON object (what it holds is :mod:`forecastscale.service.plan_codec`'s concern)
stored under one key, :attr:`PlanStore.KEY`, of a ConfigMap labelled as managed by forecastscale.
Writes are conditional on the ``resourceVersion`` just read, so a save never silently overwrites
one made in between (say, by the previous leader's last tick); a 409 re-reads and retries a
bounded number of times. API failures are the typed errors of
:mod:`forecastscale.actuators.errors`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from forecastscale.actuators._retry import call
from forecastscale.actuators.errors import Conflict, NotFound
from forecastscale.errors import PermanentError

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


class PlanStore:
    """:meth:`load` and :meth:`save` the plan in ConfigMap ``namespace/name``.

    ``api`` is an ``ApiClient`` or a ready ``CoreV1Api``; ``request_timeout_s`` bounds each HTTP
    call (seconds); ``attempts`` (>= 1) is how many read-then-write rounds :meth:`save` makes
    when it keeps meeting 409s.
    """

    KEY = "plan.json"

    def __init__(self, api: client.ApiClient | client.CoreV1Api, namespace: str, name: str,
                 request_timeout_s: float = 10.0, attempts: int = 3) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self._api = client.CoreV1Api(api) if isinstance(api, client.ApiClient) else api
        self.namespace, self.name = namespace, name
        self._timeout, self.attempts = request_timeout_s, attempts

    @property
    def target(self) -> str:
        """``"ConfigMap <namespace>/<name>"``, the prefix of every error message."""
        return f"ConfigMap {self.namespace}/{self.name}"

    def load(self) -> dict[str, Any] | None:
        """The saved plan; ``None`` if the ConfigMap does not exist or holds no :attr:`KEY`.

        Raises :class:`PlanCorrupt` if the key is not a JSON object, typed API errors otherwise.
        """
        found = self._read()
        text = (found.data or {}).get(self.KEY) if found is not None else None
        if text is None:
            return None
        try:
            plan = json.loads(text)
        except ValueError as exc:
            raise PlanCorrupt(f"{self.target}: key {self.KEY} is not JSON: {exc}", target=self.target) from exc
        if not isinstance(plan, dict):
            raise PlanCorrupt(f"{self.target}: key {self.KEY} holds a JSON {type(plan).__name__}, not an object",
                              target=self.target)
        return plan

    def save(self, plan: Mapping[str, Any]) -> None:
        """Create the ConfigMap, or replace it conditionally; a 409 re-reads, up to :attr:`attempts` rounds.

        Raises :class:`PlanTooLarge` before any request if the JSON exceeds ``MAX_PLAN_BYTES``,
        the last :class:`~forecastscale.actuators.errors.Conflict` when the rounds run out, and
        other typed API errors at once.
        """
        text = json.dumps(plan, sort_keys=True)
        size = len(text.encode())
        if size > MAX_PLAN_BYTES:
            raise PlanTooLarge(f"{self.target}: the plan is {size:,} bytes of JSON; a ConfigMap holds at most "
                               f"1 MiB, and at most {MAX_PLAN_BYTES:,} bytes are used for the plan",
                               target=self.target, size=size)
        last: Conflict | None = None
        for _ in range(self.attempts):
            try:
                self._write(text)
                return
            except Conflict as exc:  # written in between (or created first) by someone else: read again
                last = exc
        assert last is not None  # the loop ran at least once and only a Conflict gets here
        last.add_note(f"gave up after {self.attempts} attempts")
        raise last

    def _read(self) -> client.V1ConfigMap | None:
        try:
            return call(self.target, lambda: self._api.read_namespaced_config_map(
                self.name, self.namespace, _request_timeout=self._timeout))
        except NotFound:
            return None

    def _write(self, text: str) -> None:
        """One round: read, then create (409 AlreadyExists if someone was first) or replace (409 if stale)."""
        found = self._read()
        if found is None:
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace,
                                                                   labels=dict(LABELS)), data={self.KEY: text})
            call(self.target, lambda: self._api.create_namespaced_config_map(
                self.namespace, body, _request_timeout=self._timeout))
            return
        # The read object carries its resourceVersion: the PUT is refused (409) if it moved on since.
        meta = found.metadata or client.V1ObjectMeta(name=self.name, namespace=self.namespace)
        meta = meta.model_copy(update={"labels": {**(meta.labels or {}), **LABELS}})
        body = found.model_copy(update={"metadata": meta, "data": {self.KEY: text}})
        call(self.target, lambda: self._api.replace_namespaced_config_map(
            self.name, self.namespace, body, _request_timeout=self._timeout))
