"""The leader's plan in a ConfigMap: saved each tick, restored by a new leader.

The plan is a JSON object (what it holds is :mod:`forecastscale.service.plan_codec`'s concern),
stored under one key of a ConfigMap labelled as managed by forecastscale. Writes are
conditional on the read ``resourceVersion``; a 409 (another writer in between: e.g. an old
leader's last save) re-reads and retries a bounded number of times.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from forecastscale.actuators._retry import call
from forecastscale.actuators.errors import Conflict, NotFound
from forecastscale.errors import PermanentError

# ConfigMaps are limited to 1 MiB in etcd; leave room for metadata.
MAX_PLAN_BYTES = 900 * 1024
LABELS = {"app.kubernetes.io/managed-by": "forecastscale"}


class PlanCorrupt(PermanentError):
    """The ConfigMap's plan is not a JSON object (edited by hand, or not ours)."""


class PlanTooLarge(PermanentError):
    """The plan would not fit in a ConfigMap (too many targets or too long a history)."""


class PlanStore:
    """``load()`` / ``save(plan)`` on ConfigMap ``namespace/name``, key :attr:`KEY`."""

    KEY = "plan.json"

    def __init__(self, api: client.ApiClient | client.CoreV1Api, namespace: str, name: str,
                 request_timeout_s: float = 10.0, attempts: int = 3) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self._api = client.CoreV1Api(api) if isinstance(api, client.ApiClient) else api
        self.namespace, self.name, self._timeout, self.attempts = namespace, name, request_timeout_s, attempts

    @property
    def target(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    def _read(self) -> client.V1ConfigMap | None:
        try:
            return call(self.target, lambda: self._api.read_namespaced_config_map(
                self.name, self.namespace, _request_timeout=self._timeout))
        except NotFound:
            return None

    def load(self) -> dict[str, Any] | None:
        """The saved plan; None if there is no ConfigMap or no plan in it."""
        cm = self._read()
        text = (cm.data or {}).get(self.KEY) if cm is not None else None
        if text is None:
            return None
        try:
            plan = json.loads(text)
        except ValueError as exc:
            raise PlanCorrupt(f"{self.target}: key {self.KEY} is not JSON: {exc}") from exc
        if not isinstance(plan, dict):
            raise PlanCorrupt(f"{self.target}: key {self.KEY} holds a JSON {type(plan).__name__}, not an object")
        return plan

    def save(self, plan: Mapping[str, Any]) -> None:
        """Create or replace the ConfigMap with ``plan``; 409 re-reads, up to ``attempts`` rounds."""
        text = json.dumps(plan, sort_keys=True, separators=(",", ":"))
        if len(text.encode()) > MAX_PLAN_BYTES:
            raise PlanTooLarge(f"{self.target}: plan is {len(text.encode()):,} bytes; a ConfigMap holds "
                               f"at most ~{MAX_PLAN_BYTES:,} here")
        last: Conflict | None = None
        for _ in range(self.attempts):
            try:
                self._write(text)
                return
            except Conflict as exc:  # someone wrote in between (or created it first): read again
                last = exc
        assert last is not None
        last.add_note(f"gave up after {self.attempts} attempts")
        raise last

    def _write(self, text: str) -> None:
        cm = self._read()
        if cm is None:
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace,
                                                                   labels=LABELS), data={self.KEY: text})
            call(self.target, lambda: self._api.create_namespaced_config_map(
                self.namespace, body, _request_timeout=self._timeout))
            return
        cm.data = {**(cm.data or {}), self.KEY: text}
        cm.metadata = cm.metadata or client.V1ObjectMeta(name=self.name, namespace=self.namespace)
        cm.metadata.labels = {**(cm.metadata.labels or {}), **LABELS}
        call(self.target, lambda: self._api.replace_namespaced_config_map(
            self.name, self.namespace, cm, _request_timeout=self._timeout))
