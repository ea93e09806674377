"""A Kubernetes API-server double for ``scale`` subresources, built on kmock's ``KubernetesEmulator``.

What kmock gives: a real aiohttp HTTP server on 127.0.0.1 (free port), Kubernetes URL parsing
(group/version/plural/namespace/name/subresource), an in-memory object store with per-object
history (``emulator.objects``), request matching by method and path, and ``Status`` JSON error
bodies. What it does not do, and this module adds: the ``scale`` subresource itself (kmock would
serve the whole object for ``GET .../scale`` and has no ``PUT``), ``resourceVersion``
bookkeeping with 409 on a stale write, and injectable faults (429 with ``Retry-After``, 403,
5xx) plus a "concurrent writer" that changes the object between a client's read and its write.

Bodies follow the real API server: ``autoscaling/v1`` ``Scale`` objects and ``v1`` ``Status``
failures (``reason`` ``NotFound``/``Conflict``/``Forbidden``/``TooManyRequests``/``Invalid``,
``details`` naming the object), so the official ``kubernetes`` client parses them as it would in
a cluster. The server runs its own event loop in a daemon thread because the client is blocking.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import threading
from dataclasses import dataclass
from typing import Any

import aiohttp.web
import kmock

# plural → (group, version); the kinds whose scale subresource the double serves.
RESOURCES: dict[str, tuple[str, str]] = {
    "deployments": ("apps", "v1"),
    "statefulsets": ("apps", "v1"),
    "machinedeployments": ("cluster.x-k8s.io", "v1beta1"),
}
# plural → (group, version, kind); whole objects the double serves with GET, POST and PUT.
OBJECTS: dict[str, tuple[str, str, str]] = {
    "leases": ("coordination.k8s.io", "v1", "Lease"),
    "configmaps": ("", "v1", "ConfigMap"),
}
REASONS: dict[int, str] = {
    400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
}
SCALE_PATH = re.compile(r"/apis/[^/]+/[^/]+/namespaces/[^/]+/[^/]+/[^/]+/scale")
OBJECT_PATH = re.compile(r"/api/v1/namespaces/[^/]+/configmaps(/[^/]+)?|"
                         r"/apis/coordination\.k8s\.io/v1/namespaces/[^/]+/leases(/[^/]+)?")
START_TIMEOUT_S = 10.0


class ApiStatus(Exception):
    """A failure the double answers with: a ``v1`` ``Status`` body, plus headers (``Retry-After``)."""

    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.headers = code, message, details or {}, headers or {}
        self.reason = reason or REASONS.get(code, "Unknown")

    def body(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason,
                "details": self.details, "code": self.code}


class _Emulator(kmock.KubernetesEmulator):
    """kmock's emulator, rendering :class:`ApiStatus` with its own code and headers.

    For :data:`OBJECTS` the emulator's implicit storage (it stores a POST body before any
    handler runs) is skipped: the double's own handlers store them with resourceVersion rules.
    """

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and str(request.resource.plural) in OBJECTS:
            return await kmock.RawHandler._handle(self, request)
        return await super()._handle(request)

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiStatus):
            return aiohttp.web.json_response(exc.body(), status=exc.code, headers=exc.headers)
        return await super()._render_error(exc)


@dataclass
class Fault:
    """Answer the next ``times`` scale requests of ``method`` (``None`` = any) with ``status``."""

    status: int
    method: str | None = "PUT"
    times: int = 1
    retry_after_s: int | None = None
    resource: str | None = None  # plural ("deployments", "leases", "configmaps"); None = any


class ScaleApiDouble:
    """The double. :meth:`add` objects, point ``kubernetes.client.Configuration(host=url)`` at it."""

    def __init__(self) -> None:
        self.emulator = _Emulator()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every scale request, in order
        self._lock = threading.Lock()  # the test thread and the server thread share the store
        self._faults: list[Fault] = []
        self._interfere = 0
        self._revision = 100  # a cluster-wide counter, like etcd's, so versions differ across objects
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kube-double", daemon=True)
        self._stack = contextlib.AsyncExitStack()
        self.url = ""
        self.emulator["get", SCALE_PATH] << self._get
        self.emulator["put", SCALE_PATH] << self._put
        self.emulator["get", OBJECT_PATH] << self._get_object
        self.emulator["post", OBJECT_PATH] << self._create_object
        self.emulator["put", OBJECT_PATH] << self._replace_object

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._enter(), self._loop).result(START_TIMEOUT_S)

    async def _enter(self) -> str:
        await self._stack.enter_async_context(self.emulator)
        server = await self._stack.enter_async_context(kmock.Server(self.emulator, host="127.0.0.1"))
        return str(server.url).rstrip("/")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop).result(START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)
        self._loop.close()

    # --- test-side controls -------------------------------------------------------------------------
    def add(self, plural: str, namespace: str, name: str, *, replicas: int, status_replicas: int | None = None) -> None:
        """Store an object of ``plural`` with ``spec.replicas`` and ``status.replicas``."""
        with self._lock:
            group, version = RESOURCES[plural]
            self.emulator.objects[self._key(plural, namespace, name)] = {
                "apiVersion": f"{group}/{version}", "metadata": {
                    "name": name, "namespace": namespace, "uid": f"uid-{name}",
                    "resourceVersion": self._next_version(), "creationTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
                "status": {"replicas": replicas if status_replicas is None else status_replicas},
            }

    def stored(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        """A copy of the object as stored now (``KeyError`` if there is none)."""
        with self._lock:
            key = self._key(plural, namespace, name)
            if key not in self.emulator.objects or self.emulator.objects[key].deleted:
                raise KeyError(f"{plural} {namespace}/{name}")
            return copy.deepcopy(dict(self.emulator.objects[key].raw))

    def fail(self, fault: Fault) -> None:
        """Queue a fault; faults are served first-in first-out, each for ``times`` matching requests."""
        with self._lock:
            self._faults.append(fault)

    def interfere(self, times: int = 1) -> None:
        """Before each of the next ``times`` PUTs, another writer updates the object (new resourceVersion)."""
        with self._lock:
            self._interfere = times

    def count(self, method: str, resource: str | None = None) -> int:
        """Requests made with ``method`` (to ``resource``, a plural such as ``"deployments"``, if given)."""
        with self._lock:
            return sum(1 for m, path in self.requests if m == method and (
                resource is None or f"/{resource}/" in path or path.endswith(f"/{resource}")))

    # --- server side (runs in the server thread) ---------------------------------------------------
    def _key(self, plural: str, namespace: str, name: str) -> tuple[kmock.resource, str, str]:
        group, version = RESOURCES[plural] if plural in RESOURCES else OBJECTS[plural][:2]
        return kmock.resource(group, version, plural), namespace, name

    def _next_version(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _lookup(self, request: kmock.Request) -> tuple[tuple[kmock.resource, str, str], dict[str, Any]]:
        assert request.resource is not None and request.name is not None and request.namespace is not None
        plural, name = str(request.resource.plural), request.name
        group = request.resource.group
        details = {"name": name, "group": group, "kind": plural}
        self._check_faults(request, plural, group, name, details)
        key = (request.resource, request.namespace, name)
        if plural not in RESOURCES or key not in self.emulator.objects or self.emulator.objects[key].deleted:
            raise ApiStatus(404, f'{plural}.{group} "{name}" not found', details)
        return key, self.emulator.objects[key].raw

    def _check_faults(self, request: kmock.Request, plural: str, group: str | None, name: str,
                      details: dict[str, Any]) -> None:
        for fault in self._faults:
            if fault.times > 0 and fault.method in (None, request.method.value) and fault.resource in (None, plural):
                fault.times -= 1
                raise self._fault_status(fault, plural, group, name, details)

    @staticmethod
    def _fault_status(fault: Fault, plural: str, group: str | None, name: str, details: dict[str, Any]) -> ApiStatus:
        if fault.status == 403:
            verb = {"GET": "get", "POST": "create"}.get(fault.method or "", "update")
            what = plural if plural in OBJECTS else f"{plural}/scale"
            return ApiStatus(403, f'{plural}.{group} "{name}" is forbidden: User "system:serviceaccount:fs:fs" '
                                  f'cannot {verb} resource "{what}" in API group "{group}"', details)
        if fault.status == 429:
            headers = {} if fault.retry_after_s is None else {"Retry-After": str(fault.retry_after_s)}
            return ApiStatus(429, "Too many requests, please try again later.",
                             {"retryAfterSeconds": fault.retry_after_s or 0}, headers)
        return ApiStatus(fault.status, f"the server is currently unable to handle the request ({fault.status})")

    @staticmethod
    def _scale(obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
                "spec": {"replicas": obj["spec"]["replicas"]},
                "status": {"replicas": obj["status"]["replicas"], "selector": f"app={meta['name']}"}}

    def _get(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            self.requests.append(("GET", request.url.path))
            _, obj = self._lookup(request)
            return self._scale(obj)

    def _put(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            self.requests.append(("PUT", request.url.path))
            key, obj = self._lookup(request)
            stored = self.emulator.objects[key]
            if self._interfere > 0:  # someone else wrote between the client's GET and this PUT
                self._interfere -= 1
                stored.patch({"metadata": {"resourceVersion": self._next_version(), "labels": {"touched": "yes"}}})
                obj = stored.raw
            body: dict[str, Any] = request.data if isinstance(request.data, dict) else {}
            plural, group, name = key[0].plural, key[0].group, key[2]
            details = {"name": name, "group": group, "kind": plural}
            if body.get("kind") != "Scale" or (body.get("metadata") or {}).get("name") != name:
                raise ApiStatus(400, f"the name of the object does not match the name on the URL ({name})", details)
            replicas = (body.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiStatus(422, f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                                     f"{replicas}: must be greater than or equal to 0", details)
            sent_version = (body.get("metadata") or {}).get("resourceVersion")
            # An empty resourceVersion is an unconditional write, as in the real API server.
            if sent_version and sent_version != obj["metadata"]["resourceVersion"]:
                raise ApiStatus(409, f'Operation cannot be fulfilled on {plural}.{group} "{name}": the object has '
                                     "been modified; please apply your changes to the latest version and try again",
                                details)
            stored.patch({"metadata": {"resourceVersion": self._next_version()}, "spec": {"replicas": replicas}})
            return self._scale(stored.raw)

    # --- whole objects: leases and configmaps --------------------------------------------------------
    def _object_request(self, request: kmock.Request) -> tuple[str, str, str, str, dict[str, Any]]:
        assert request.resource is not None and request.namespace is not None
        plural = str(request.resource.plural)
        body = request.data if isinstance(request.data, dict) else {}
        name = request.name or (body.get("metadata") or {}).get("name") or ""
        group = OBJECTS[plural][0]
        details = {"name": name, "group": group, "kind": plural}
        self.requests.append((request.method.value, request.url.path))
        self._check_faults(request, plural, group, name, details)
        return plural, request.namespace, name, group, details

    def _missing(self, plural: str, group: str, name: str, details: dict[str, Any]) -> ApiStatus:
        return ApiStatus(404, f'{plural}{"." + group if group else ""} "{name}" not found', details)

    def _get_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            plural, namespace, name, group, details = self._object_request(request)
            key = self._key(plural, namespace, name)
            if key not in self.emulator.objects or self.emulator.objects[key].deleted:
                raise self._missing(plural, group, name, details)
            return copy.deepcopy(dict(self.emulator.objects[key].raw))

    def _create_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            plural, namespace, name, group, details = self._object_request(request)
            key = self._key(plural, namespace, name)
            if key in self.emulator.objects and not self.emulator.objects[key].deleted:
                raise ApiStatus(409, f'{plural}{"." + group if group else ""} "{name}" already exists',
                                details, reason="AlreadyExists")
            obj = self._stamped(plural, namespace, name, request.data, uid=f"uid-{plural}-{name}")
            self.emulator.objects[key] = obj
            return copy.deepcopy(obj)

    def _replace_object(self, request: kmock.Request) -> dict[str, Any]:
        with self._lock:
            plural, namespace, name, group, details = self._object_request(request)
            key = self._key(plural, namespace, name)
            if key not in self.emulator.objects or self.emulator.objects[key].deleted:
                raise self._missing(plural, group, name, details)
            current = dict(self.emulator.objects[key].raw)
            sent = ((request.data or {}).get("metadata") or {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise ApiStatus(409, f'Operation cannot be fulfilled on {plural}{"." + group if group else ""} '
                                     f'"{name}": the object has been modified; please apply your changes to the '
                                     "latest version and try again", details)
            obj = self._stamped(plural, namespace, name, request.data, uid=current["metadata"]["uid"],
                                created=current["metadata"]["creationTimestamp"])
            self.emulator.objects[key] = obj  # a replace, not a merge: what was not sent is gone
            return copy.deepcopy(obj)

    def _stamped(self, plural: str, namespace: str, name: str, body: Any, *, uid: str,
                 created: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
        """``body`` as the server stores it: apiVersion/kind, server-owned metadata, a new resourceVersion."""
        group, version, kind = OBJECTS[plural]
        obj = copy.deepcopy(body) if isinstance(body, dict) else {}
        meta = dict(obj.get("metadata") or {})
        meta.update(name=name, namespace=namespace, uid=uid, creationTimestamp=created,
                    resourceVersion=self._next_version())
        obj.update(apiVersion=f"{group}/{version}" if group else version, kind=kind, metadata=meta)
        return obj
